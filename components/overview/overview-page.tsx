"use client";

import { useQuery } from "@tanstack/react-query";
import { Activity, ArrowRight, Hash, Layers3, Timer } from "lucide-react";
import Link from "next/link";
import type { ReactNode } from "react";
import { useTRPC } from "../trpc";
import { buttonClasses } from "../ui/button";
import { Card, CardBody, CardHeader } from "../ui/card";
import { EmptyState } from "../ui/empty-state";
import { ErrorState } from "../ui/error-state";
import { PageHeader } from "../ui/page-header";
import { RelativeTime } from "../ui/relative-time";
import { Skeleton } from "../ui/spinner";
import { familyColors, familyIndex, TypeBadge } from "../ui/type-badge";
import { EventsChart } from "./events-chart";

function Stat({ label, value, hint, icon }: { label: string; value: ReactNode; hint?: ReactNode; icon: ReactNode }) {
  return (
    <Card className="p-5">
      <div className="flex items-center justify-between text-muted-foreground">
        <p className="text-xs font-medium tracking-wide uppercase">{label}</p>
        <span className="[&_svg]:size-4">{icon}</span>
      </div>
      <p className="mt-2 text-2xl font-semibold tracking-tight tabular-nums">{value}</p>
      {hint ? <p className="mt-1 truncate text-xs text-muted-foreground">{hint}</p> : null}
    </Card>
  );
}

function LatestEvents() {
  const trpc = useTRPC();
  const latest = useQuery(trpc.events.search.queryOptions({ order: "newest", limit: 8 }, { refetchInterval: 5_000, staleTime: 0 }));
  return (
    <Card className="overflow-hidden">
      <CardHeader
        title="Latest events"
        description="The newest entries in the log"
        actions={
          <Link href="/events" className="text-xs font-medium text-primary hover:underline">
            Live tail
          </Link>
        }
      />
      {latest.isPending ? (
        <CardBody className="space-y-3">
          {Array.from({ length: 4 }, (_, index) => (
            <Skeleton key={index} className="h-5 w-full" />
          ))}
        </CardBody>
      ) : latest.isError ? (
        <ErrorState title="Could not load the latest events" error={latest.error} onRetry={() => void latest.refetch()} />
      ) : latest.data.items.length === 0 ? (
        <EmptyState icon={Activity} title="Nothing published yet" className="py-10">
          Events show up here as soon as they are committed.
        </EmptyState>
      ) : (
        <ul className="divide-y divide-border">
          {latest.data.items.map((event) => (
            <li key={event.id}>
              <Link href={`/events/${event.id}`} className="flex items-center gap-3 px-5 py-2.5 text-sm transition-colors hover:bg-muted/60">
                <span className="w-14 shrink-0 text-right font-mono text-xs text-muted-foreground tabular-nums">#{event.position}</span>
                <TypeBadge type={event.type} />
                <span className="min-w-0 flex-1 truncate font-mono text-xs text-muted-foreground">{event.subject ?? ""}</span>
                <RelativeTime time={event.time} className="shrink-0 text-xs text-muted-foreground" />
              </Link>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export function OverviewPage() {
  const trpc = useTRPC();
  const stats = useQuery(trpc.overview.stats.queryOptions(undefined, { refetchInterval: 5_000, staleTime: 0 }));
  const types = useQuery(trpc.eventTypes.list.queryOptions(undefined, { staleTime: 60_000 }));

  const header = (
    <PageHeader
      title="Overview"
      description="The event log at a glance: how far it has grown and what is flowing through it."
      actions={
        <Link href="/events" className={buttonClasses("primary", "sm")}>
          Open events <ArrowRight aria-hidden />
        </Link>
      }
    />
  );

  if (stats.isError) {
    return (
      <>
        {header}
        <Card>
          <ErrorState title="Could not load the overview" error={stats.error} onRetry={() => void stats.refetch()} />
        </Card>
      </>
    );
  }

  const data = stats.data;
  const total = data?.totalEvents ?? 0;
  const busiest = data?.perMinute.reduce((max, bucket) => Math.max(max, bucket.count), 0) ?? 0;
  const topCount = data?.byType[0]?.count ?? 1;

  return (
    <>
      {header}
      <div className="grid grid-cols-2 gap-4 xl:grid-cols-4">
        {data ? (
          <>
            <Stat label="Head position" icon={<Hash />} value={<span data-testid="head-position">{data.headPosition.toLocaleString()}</span>} hint="Latest position in the global log" />
            <Stat label="Events stored" icon={<Layers3 />} value={total.toLocaleString()} hint={`${data.byType.length} distinct type${data.byType.length === 1 ? "" : "s"}`} />
            <Stat
              label="Last hour"
              icon={<Activity />}
              value={data.eventsLastHour.toLocaleString()}
              hint={`Peak ${busiest.toLocaleString()} / min`}
            />
            <Stat
              label="Last event"
              icon={<Timer />}
              value={data.lastEventAt ? <RelativeTime time={data.lastEventAt} /> : "—"}
              hint={types.data ? `${types.data.length} registered event types` : " "}
            />
          </>
        ) : (
          Array.from({ length: 4 }, (_, index) => (
            <Card key={index} className="p-5">
              <Skeleton className="h-3 w-24" />
              <Skeleton className="mt-3 h-7 w-20" />
              <Skeleton className="mt-2 h-3 w-32" />
            </Card>
          ))
        )}
      </div>

      <div className="mt-6 grid items-start gap-6 xl:grid-cols-3">
        <div className="space-y-6 xl:col-span-2">
          <Card>
            <CardHeader title="Events per minute" description="By event time, over the last 60 minutes" />
            <CardBody>{data ? <EventsChart data={data.perMinute} /> : <Skeleton className="h-64 w-full" />}</CardBody>
          </Card>
          <LatestEvents />
        </div>

        <Card>
          <CardHeader
            title="Events by type"
            description="All time, most frequent first"
            actions={
              <Link href="/events?tab=history" className="text-xs font-medium text-primary hover:underline">
                Search
              </Link>
            }
          />
          {!data ? (
            <CardBody className="space-y-3">
              {Array.from({ length: 5 }, (_, index) => (
                <Skeleton key={index} className="h-5 w-full" />
              ))}
            </CardBody>
          ) : data.byType.length === 0 ? (
            <EmptyState icon={Layers3} title="No events yet">
              Publish an event from the Events page, or over the REST API, and it will show up here.
            </EmptyState>
          ) : (
            <ul className="divide-y divide-border">
              {data.byType.slice(0, 12).map((row) => (
                <li key={row.type} className="px-5 py-2.5">
                  <div className="flex items-center justify-between gap-3">
                    <Link href={`/events?tab=history&type=${encodeURIComponent(row.type)}`} className="min-w-0 hover:opacity-80">
                      <TypeBadge type={row.type} />
                    </Link>
                    <span className="text-sm font-medium tabular-nums">{row.count.toLocaleString()}</span>
                  </div>
                  <div className="mt-1.5 h-1 overflow-hidden rounded-full bg-muted">
                    <div
                      className="h-full rounded-full"
                      style={{ width: `${Math.max(2, (row.count / topCount) * 100)}%`, backgroundColor: familyColors[familyIndex(row.type)] }}
                    />
                  </div>
                </li>
              ))}
              {data.byType.length > 12 ? (
                <li className="px-5 py-2.5 text-xs text-muted-foreground">and {data.byType.length - 12} more types</li>
              ) : null}
            </ul>
          )}
        </Card>
      </div>
    </>
  );
}
