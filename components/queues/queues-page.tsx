"use client";

import { useQuery } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { ArchiveX, History, Layers, Radio } from "lucide-react";
import Link from "next/link";
import { useCallback, useState } from "react";
import { useTRPC, type RouterOutputs } from "../trpc";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card } from "../ui/card";
import { cn } from "../ui/cn";
import { EmptyState } from "../ui/empty-state";
import { ErrorState } from "../ui/error-state";
import { formatRate, LiveStatus, Stat } from "../ui/live-figures";
import { PageHeader } from "../ui/page-header";
import { RefreshControl, useRefreshInterval } from "../ui/refresh-control";
import { Skeleton } from "../ui/spinner";
import { Table, Td, Th, THead } from "../ui/table";
import { TypeBadge } from "../ui/type-badge";
import { RecentReplays, ReplayDialog } from "../replays/replay-dialog";
import { Sparkline } from "./sparkline";

type Snapshot = RouterOutputs["queues"]["list"];
type Queue = Snapshot["items"][number];

const INTERVALS = [1_000, 5_000, 15_000] as const;
const ALLOWED_INTERVALS = [0, ...INTERVALS];

const transportTone = { postgres: "primary", redis: "danger", kafka: "neutral", rabbitmq: "warning", memory: "neutral" } as const;

function Figure({ value, tone, testId }: { value: number; tone?: "warning" | "danger"; testId?: string }) {
  return (
    <span
      data-testid={testId}
      className={cn(
        "font-mono text-sm tabular-nums",
        value === 0 && "text-muted-foreground",
        value > 0 && tone === "warning" && "font-medium text-amber-700 dark:text-amber-300",
        value > 0 && tone === "danger" && "font-medium text-danger",
      )}
    >
      {value.toLocaleString()}
    </span>
  );
}

function QueueRow({ queue, canReplay, onReplay }: { queue: Queue; canReplay: boolean; onReplay(name: string): void }) {
  const points = queue.history.map((sample) => ({ at: sample.at, value: sample.ratePerSecond }));
  return (
    <tr className="border-b border-border align-top last:border-b-0" data-testid="queue-row" data-queue={queue.name}>
      <Td className="py-3">
        <div className="flex flex-wrap items-center gap-2">
          <span className="font-mono text-sm font-medium">{queue.name}</span>
          <Badge tone={queue.running ? "success" : "neutral"} data-testid="queue-running" title={queue.running ? "Consuming in this process" : "Not consuming in this process"}>
            <span className={cn("size-1.5 rounded-full", queue.running ? "bg-emerald-500" : "bg-muted-foreground/60")} aria-hidden />
            {queue.running ? "running" : "stopped"}
          </Badge>
        </div>
        <p className="mt-1 line-clamp-2 max-w-[16rem] text-xs text-muted-foreground" title={queue.description}>
          {queue.description}
        </p>
        <div className="mt-1.5 flex flex-wrap gap-1">
          {queue.types.map((type) => (
            <TypeBadge key={type} type={type} />
          ))}
        </div>
      </Td>
      <Td className="px-3! py-3 whitespace-nowrap">
        <Badge tone={transportTone[queue.transport as keyof typeof transportTone] ?? "neutral"}>{queue.transport}</Badge>
        <p className="mt-1.5 font-mono text-xs text-muted-foreground" title={`topic ${queue.topic}, consumer group ${queue.group}`}>
          <span className="text-foreground">{queue.topic}</span> → <span className="text-foreground">{queue.group}</span>
        </p>
      </Td>
      <Td className="px-3! py-3 text-right">
        <Figure value={queue.depth} testId="queue-depth" />
      </Td>
      <Td className="px-3! py-3 text-right">
        <Figure value={queue.lag} tone="warning" testId="queue-lag" />
      </Td>
      <Td className="px-3! py-3 text-right">
        <Figure value={queue.inFlight} testId="queue-in-flight" />
      </Td>
      <Td className="px-2! py-3">
        <div className="flex items-center justify-end gap-2">
          <span className="font-mono text-sm whitespace-nowrap tabular-nums" data-testid="queue-rate">
            {formatRate(queue.ratePerSecond)}
            <span className="ml-0.5 text-xs text-muted-foreground">/s</span>
          </span>
          <Sparkline points={points} width={80} label={`${queue.name}: events handled per second over the last minute`} />
        </div>
      </Td>
      <Td className="px-3! py-3 text-right">
        <span className="font-mono text-sm tabular-nums" data-testid="queue-processed">
          {queue.processed.toLocaleString()}
        </span>
        {queue.failed > 0 ? (
          <p className="text-xs whitespace-nowrap text-muted-foreground tabular-nums" title="Failed attempts (retried or dead-lettered)">
            {queue.failed.toLocaleString()} failed
          </p>
        ) : null}
      </Td>
      <Td className="px-3! py-3 text-right">
        {queue.deadLettered > 0 ? (
          <Link
            href={`/dead-letters?subscription=${encodeURIComponent(queue.name)}`}
            className="inline-flex items-center gap-1 rounded-md px-1.5 py-0.5 font-mono text-sm font-medium text-danger tabular-nums hover:bg-danger-soft"
            data-testid="queue-dead-lettered"
            title={`Open the dead letters of ${queue.name}`}
          >
            <ArchiveX className="size-3.5" aria-hidden />
            {queue.deadLettered.toLocaleString()}
          </Link>
        ) : (
          <span className="font-mono text-sm text-muted-foreground tabular-nums" data-testid="queue-dead-lettered">
            0
          </span>
        )}
      </Td>
      {canReplay ? (
        <Td className="py-2.5 pl-1! text-right">
          <button
            type="button"
            onClick={() => onReplay(queue.name)}
            title={`Replay events of the log to ${queue.name}`}
            aria-label={`Replay events to ${queue.name}`}
            className="inline-flex size-8 cursor-pointer items-center justify-center rounded-md text-muted-foreground hover:bg-accent hover:text-accent-foreground"
          >
            <History className="size-4" aria-hidden />
          </button>
        </Td>
      ) : null}
    </tr>
  );
}

export function QueuesPage() {
  const trpc = useTRPC();
  const me = useQuery(trpc.session.me.queryOptions(undefined, { staleTime: 60_000 }));
  const isAdmin = me.data?.isAdmin ?? false;
  const [refresh, setRefresh] = useRefreshInterval("queues", 1_000, ALLOWED_INTERVALS);
  const paused = refresh === 0;
  const [snapshot, setSnapshot] = useState<Snapshot | undefined>(undefined);
  const [replayFor, setReplayFor] = useState<string | null | undefined>(undefined);

  const onData = useCallback((data: Snapshot) => setSnapshot(data), []);
  const live = useSubscription(trpc.queues.live.subscriptionOptions({ intervalMs: refresh || 1_000 }, { enabled: !paused, onData }));

  const items = snapshot?.items ?? [];
  const totals = items.reduce(
    (sum, queue) => ({
      depth: sum.depth + queue.depth,
      lag: sum.lag + queue.lag,
      inFlight: sum.inFlight + queue.inFlight,
      deadLettered: sum.deadLettered + queue.deadLettered,
      rate: sum.rate + queue.ratePerSecond,
    }),
    { depth: 0, lag: 0, inFlight: 0, deadLettered: 0, rate: 0 },
  );

  return (
    <>
      <PageHeader
        title="Queues"
        description="Subscriptions on the transport: what waits, how fast it moves, what failed."
        actions={
          <>
            <RefreshControl value={refresh} onChange={setRefresh} intervals={INTERVALS} resumeTo={1_000} />
            {isAdmin ? (
              <Button variant="outline" onClick={() => setReplayFor(null)} data-testid="open-replay">
                <History aria-hidden />
                Replay
              </Button>
            ) : null}
          </>
        }
      />

      {snapshot ? (
        <div className="mb-5 grid grid-cols-2 gap-3 md:grid-cols-5">
          <Stat label="Subscriptions" value={items.length} hint={`${items.filter((queue) => queue.running).length} running here`} />
          <Stat label="Depth" value={totals.depth.toLocaleString()} hint="not yet settled" />
          <Stat label="Lag" value={totals.lag.toLocaleString()} hint="not yet handed out" />
          <Stat label="Processing" value={`${formatRate(totals.rate)}/s`} hint={`${totals.inFlight.toLocaleString()} in flight`} />
          <Stat
            label="Dead-lettered"
            value={<span className={totals.deadLettered > 0 ? "text-danger" : undefined}>{totals.deadLettered.toLocaleString()}</span>}
            hint={
              totals.deadLettered > 0 ? (
                <Link href="/dead-letters" className="text-primary hover:underline">
                  Review dead letters
                </Link>
              ) : (
                "nothing failed for good"
              )
            }
          />
        </div>
      ) : null}

      <div className="mb-2 flex items-center justify-between gap-3 px-1">
        <LiveStatus paused={paused} status={live.status} at={snapshot?.at} testId="queues-status" />
        <span className="text-xs text-muted-foreground">Depth and lag come from the broker; processed and rate from this process.</span>
      </div>
      <Card className="overflow-hidden" data-testid="queues-table">
        {!snapshot ? (
          live.status === "error" ? (
            <ErrorState title="Could not load the queues" error={live.error} onRetry={() => live.reset()} />
          ) : paused ? (
            <EmptyState icon={Radio} title="Live updates are paused" action={<Button onClick={() => setRefresh(1_000)}>Resume</Button>}>
              Resume to load the subscriptions and their figures.
            </EmptyState>
          ) : (
            <div className="space-y-2 p-5">
              {Array.from({ length: 3 }, (_, index) => (
                <Skeleton key={index} className="h-16 w-full" />
              ))}
            </div>
          )
        ) : items.length === 0 ? (
          <EmptyState icon={Layers} title="No subscriptions">
            Subscriptions defined in the runtime appear here once this process knows them.
          </EmptyState>
        ) : (
          <>
            {live.status === "error" ? (
              <div className="border-b border-border bg-danger-soft px-5 py-2 text-xs text-danger" role="alert">
                Live updates were interrupted; retrying. The figures below are from {new Date(snapshot.at).toLocaleTimeString(undefined, { hour12: false })}.
              </div>
            ) : null}
            <Table>
              <THead>
                <tr>
                  <Th>Subscription</Th>
                  <Th className="px-3!">Transport</Th>
                  <Th className="px-3! text-right" title="Published to the topic and not yet settled by the group">
                    Depth
                  </Th>
                  <Th className="px-3! text-right" title="Not yet handed out to any consumer">
                    Lag
                  </Th>
                  <Th className="px-3! text-right" title="Handed out and not yet settled">
                    In flight
                  </Th>
                  <Th className="px-2! text-right" title="Events handled per second (last 10 s), and the last minute">
                    Rate
                  </Th>
                  <Th className="px-3! text-right" title="Events of its types handled successfully by this process since it started">
                    Processed
                  </Th>
                  <Th className="px-3! text-right" title="Dead letters kept for this subscription">
                    Dead letters
                  </Th>
                  {isAdmin ? (
                    <Th className="pl-1!">
                      <span className="sr-only">Replay</span>
                    </Th>
                  ) : null}
                </tr>
              </THead>
              <tbody>
                {items.map((queue) => (
                  <QueueRow key={queue.name} queue={queue} canReplay={isAdmin} onReplay={setReplayFor} />
                ))}
              </tbody>
            </Table>
          </>
        )}
      </Card>

      {isAdmin ? <RecentReplays className="mt-5" /> : null}

      {isAdmin ? (
        <ReplayDialog
          open={replayFor !== undefined}
          onClose={() => setReplayFor(undefined)}
          subscription={replayFor ?? undefined}
          subscriptions={items.map((queue) => queue.name)}
        />
      ) : null}
    </>
  );
}
