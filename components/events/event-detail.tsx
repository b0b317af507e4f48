"use client";

import { useQuery } from "@tanstack/react-query";
import { CornerLeftUp, GitBranch } from "lucide-react";
import Link from "next/link";
import { useState, type ReactNode } from "react";
import { useTRPC, type EventRecord } from "../trpc";
import { Badge } from "../ui/badge";
import { Card, CardHeader } from "../ui/card";
import { cn } from "../ui/cn";
import { CopyButton } from "../ui/copy-button";
import { EmptyState } from "../ui/empty-state";
import { ErrorState } from "../ui/error-state";
import { JsonView } from "../ui/json-view";
import { DetailStates } from "../ui/query-states";
import { formatExact, RelativeTime } from "../ui/relative-time";
import { shortenId } from "../ui/short-id";
import { Skeleton } from "../ui/spinner";
import { Tabs } from "../ui/tabs";
import { TypeBadge } from "../ui/type-badge";

/** How the detail view links to another event: the drawer swaps in place, the page navigates. */
export type EventLinkRenderer = (id: string, children: ReactNode, className?: string) => ReactNode;

export const pageEventLink: EventLinkRenderer = (id, children, className) => (
  <Link href={`/events/${encodeURIComponent(id)}`} className={className}>
    {children}
  </Link>
);

function Attribute({ label, children, mono = false }: { label: string; children: ReactNode; mono?: boolean }) {
  return (
    <div className="grid grid-cols-[9rem_1fr] items-start gap-3 px-5 py-2.5 text-sm">
      <dt className="pt-px text-xs font-medium text-muted-foreground">{label}</dt>
      <dd className={cn("min-w-0 break-all", mono && "font-mono text-xs leading-5")}>{children}</dd>
    </div>
  );
}

function Copyable({ value }: { value: string }) {
  return (
    <span className="inline-flex items-start gap-1">
      <span>{value}</span>
      <CopyButton value={value} className="-mt-0.5 size-5" />
    </span>
  );
}

const priorityTone = { high: "danger", normal: "neutral", low: "neutral" } as const;

function Attributes({ event, eventLink }: { event: EventRecord; eventLink: EventLinkRenderer }) {
  return (
    <dl className="divide-y divide-border">
      <Attribute label="id" mono>
        <Copyable value={event.id} />
      </Attribute>
      <Attribute label="type">
        <TypeBadge type={event.type} />
      </Attribute>
      <Attribute label="time">
        <span className="tabular-nums">{formatExact(event.time)}</span>
        <span className="ml-2 text-xs text-muted-foreground">
          <RelativeTime time={event.time} /> · <span className="font-mono">{event.time}</span>
        </span>
      </Attribute>
      <Attribute label="position" mono>
        {event.position.toLocaleString()}
      </Attribute>
      <Attribute label="subject" mono>
        {event.subject ? <Copyable value={event.subject} /> : <span className="text-muted-foreground">—</span>}
      </Attribute>
      <Attribute label="source" mono>
        {event.source}
      </Attribute>
      <Attribute label="correlationid" mono>
        <span className="inline-flex flex-wrap items-center gap-x-2">
          <Copyable value={event.correlationid} />
          <Link href={`/events?tab=history&correlationid=${encodeURIComponent(event.correlationid)}&order=oldest`} className="font-sans text-xs font-medium text-primary hover:underline">
            Search
          </Link>
        </span>
      </Attribute>
      <Attribute label="causationid" mono>
        {event.causationid ? (
          <span className="inline-flex flex-wrap items-center gap-x-2">
            <Copyable value={event.causationid} />
            {eventLink(event.causationid, "Open cause", "font-sans text-xs font-medium text-primary hover:underline")}
          </span>
        ) : (
          <span className="font-sans text-muted-foreground">— (first event of its conversation)</span>
        )}
      </Attribute>
      <Attribute label="traceparent" mono>
        <Copyable value={event.traceparent} />
      </Attribute>
      {event.tracestate ? (
        <Attribute label="tracestate" mono>
          {event.tracestate}
        </Attribute>
      ) : null}
      <Attribute label="priority">
        <Badge tone={priorityTone[event.priority]}>{event.priority}</Badge>
      </Attribute>
      {event.partitionkey ? (
        <Attribute label="partitionkey" mono>
          {event.partitionkey}
        </Attribute>
      ) : null}
      <Attribute label="stream" mono>
        {event.streamid} <span className="font-sans text-muted-foreground">· version {event.streamversion}</span>
      </Attribute>
      <Attribute label="datacontenttype" mono>
        {event.datacontenttype}
      </Attribute>
      {event.dataschema ? (
        <Attribute label="dataschema" mono>
          {event.dataschema}
        </Attribute>
      ) : null}
      <Attribute label="schemaversion" mono>
        {event.schemaversion}
      </Attribute>
      <Attribute label="specversion" mono>
        {event.specversion}
      </Attribute>
    </dl>
  );
}

function Correlated({ event, eventLink }: { event: EventRecord; eventLink: EventLinkRenderer }) {
  const trpc = useTRPC();
  const correlated = useQuery(trpc.events.correlated.queryOptions({ correlationid: event.correlationid }));
  if (correlated.isPending) {
    return (
      <div className="space-y-2 p-5">
        {Array.from({ length: 3 }, (_, index) => (
          <Skeleton key={index} className="h-9 w-full" />
        ))}
      </div>
    );
  }
  if (correlated.isError) return <ErrorState title="Could not load related events" error={correlated.error} onRetry={() => void correlated.refetch()} />;
  const items = correlated.data.items;
  if (items.length <= 1) {
    return (
      <EmptyState icon={GitBranch} title="No other events in this conversation" className="py-10">
        Events published with correlation id <span className="font-mono text-xs">{shortenId(event.correlationid)}</span> — or caused by this one — will be listed here.
      </EmptyState>
    );
  }
  return (
    <>
      <ol className="relative max-h-[28rem] overflow-y-auto py-2" data-testid="correlated-events">
        {items.map((item, index) => {
          const current = item.id === event.id;
          const relation = item.id === event.causationid ? "cause" : item.causationid === event.id ? "caused by this" : null;
          const row = (
            <>
              <span className="relative flex w-4 shrink-0 justify-center self-stretch">
                {index > 0 ? <span className="absolute top-0 h-1/2 w-px bg-border" /> : null}
                {index < items.length - 1 ? <span className="absolute bottom-0 h-1/2 w-px bg-border" /> : null}
                <span className={cn("relative mt-[13px] size-2.5 rounded-full border-2", current ? "border-primary bg-primary" : "border-muted-foreground/50 bg-card")} />
              </span>
              <span className="flex min-w-0 flex-1 flex-wrap items-center gap-x-2 gap-y-1 py-2">
                <TypeBadge type={item.type} />
                {relation ? <Badge tone="primary">{relation}</Badge> : null}
                {current ? <Badge>this event</Badge> : null}
                {item.subject ? (
                  <span className="hidden max-w-56 truncate font-mono text-[11px] text-muted-foreground sm:inline" title={item.subject}>
                    {item.subject}
                  </span>
                ) : null}
                <span className="ml-auto flex items-center gap-3 text-xs text-muted-foreground">
                  <span className="font-mono">#{item.position}</span>
                  <RelativeTime time={item.time} />
                </span>
              </span>
            </>
          );
          return (
            <li key={item.id}>
              {current ? (
                <div className="flex gap-3 bg-accent/50 px-5">{row}</div>
              ) : (
                eventLink(item.id, row, "flex gap-3 px-5 transition-colors hover:bg-muted/60")
              )}
            </li>
          );
        })}
      </ol>
      {correlated.data.truncated ? <p className="border-t border-border px-5 py-2 text-xs text-muted-foreground">Showing the first {items.length} events of this conversation.</p> : null}
    </>
  );
}

type EventViewTab = "payload" | "envelope";

export function EventDetail({ id, eventLink = pageEventLink }: { id: string; eventLink?: EventLinkRenderer }) {
  const trpc = useTRPC();
  const query = useQuery(trpc.events.byId.queryOptions({ id }, { staleTime: Infinity }));
  // Held here, so that the tab chosen stays while the drawer swaps in another event.
  const [view, setView] = useState<EventViewTab>("payload");
  return (
    <DetailStates
      query={query}
      placeholders={["h-8 w-72", "h-48 w-full", "h-72 w-full"]}
      notFound={{
        title: "Event not found",
        children: (
          <>
            No event with id <span className="font-mono text-xs">{id}</span> is in the log.
          </>
        ),
      }}
      errorTitle="Could not load this event"
    >
      {(event) => <EventView event={event} eventLink={eventLink} view={view} onViewChange={setView} />}
    </DetailStates>
  );
}

function EventView({ event, eventLink, view, onViewChange }: { event: EventRecord; eventLink: EventLinkRenderer; view: EventViewTab; onViewChange(view: EventViewTab): void }) {
  return (
    <div className="space-y-5" data-testid="event-detail" data-event-id={event.id}>
      <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
        <TypeBadge type={event.type} className="text-xs" />
        <span className="font-mono text-xs text-muted-foreground">#{event.position.toLocaleString()}</span>
        <span className="text-xs text-muted-foreground">
          <RelativeTime time={event.time} />
        </span>
        {event.causationid ? (
          <span className="ml-auto">{eventLink(event.causationid, <><CornerLeftUp className="size-3.5" aria-hidden /> Cause</>, "inline-flex items-center gap-1 text-xs font-medium text-primary hover:underline")}</span>
        ) : null}
      </div>

      <Card className="overflow-hidden">
        <div className="flex items-center justify-between gap-3 border-b border-border pr-4">
          <Tabs<EventViewTab>
            className="border-b-0 px-2"
            value={view}
            onChange={onViewChange}
            items={[
              { value: "payload", label: "Payload" },
              { value: "envelope", label: "Full envelope" },
            ]}
          />
          <span className="text-xs text-muted-foreground">{event.datacontenttype}</span>
        </div>
        <div className="p-4">
          <JsonView value={view === "payload" ? event.data : event} />
        </div>
      </Card>

      <Card className="overflow-hidden">
        <CardHeader title="Attributes" description="CloudEvents 1.0 attributes and Eventloom extensions" />
        <Attributes event={event} eventLink={eventLink} />
      </Card>

      <Card className="overflow-hidden">
        <CardHeader title="Conversation" description="Events sharing this correlation id, in log order" />
        <Correlated event={event} eventLink={eventLink} />
      </Card>
    </div>
  );
}
