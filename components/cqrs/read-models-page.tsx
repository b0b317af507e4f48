"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { DatabaseZap, Radio, RefreshCcw } from "lucide-react";
import { useSearchParams } from "next/navigation";
import { useCallback, useMemo, useState } from "react";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { Card } from "../ui/card";
import { EmptyState } from "../ui/empty-state";
import { ErrorState, errorMessage } from "../ui/error-state";
import { formatRate, LiveStatus, Stat } from "../ui/live-figures";
import { Dialog } from "../ui/overlay";
import { PageHeader } from "../ui/page-header";
import { RefreshControl, useRefreshInterval } from "../ui/refresh-control";
import { Skeleton } from "../ui/spinner";
import { ProjectionCard, type ProjectionStatus, type RebuildRequest } from "./projection-card";
import { QueryRunner, type QueryPrefill } from "./query-runner";

interface Snapshot {
  at: number;
  items: ProjectionStatus[];
}

const INTERVALS = [1_000, 5_000, 15_000] as const;
const ALLOWED_INTERVALS = [0, ...INTERVALS];
/** A minute of rates per projection, for the sparklines. */
const HISTORY_MS = 60_000;

/** Asks before a rebuild: what it does, and that queries keep answering meanwhile. */
function RebuildDialog({ projection, onClose, onConfirm }: { projection: ProjectionStatus | null; onClose(): void; onConfirm(name: string): void }) {
  return (
    <Dialog
      open={projection !== null}
      onClose={onClose}
      title={`Rebuild ${projection?.name ?? ""}?`}
      description="A blue/green rebuild: a fresh generation is built from position 0 beside the current one."
      footer={
        <>
          <Button variant="outline" onClick={onClose}>
            Cancel
          </Button>
          <Button
            onClick={() => {
              if (projection) onConfirm(projection.name);
              onClose();
            }}
            data-testid="rebuild-confirm"
          >
            <RefreshCcw aria-hidden />
            Start rebuild
          </Button>
        </>
      }
    >
      <ul className="space-y-2 text-sm text-muted-foreground">
        <li>
          Queries keep reading generation <span className="font-mono text-foreground">g{projection?.generation ?? "—"}</span> while the new one replays{" "}
          {projection ? <span className="font-mono text-foreground">{projection.headPosition.toLocaleString()}</span> : null} events.
        </li>
        <li>Once it has caught up with the log, queries switch over to it and the old generation is dropped.</li>
      </ul>
    </Dialog>
  );
}

export function ReadModelsPage() {
  const trpc = useTRPC();
  const searchParams = useSearchParams();
  const me = useQuery(trpc.session.me.queryOptions(undefined, { staleTime: 60_000 }));
  const canRebuild = Boolean(me.data && (me.data.isAdmin || me.data.role === "operator"));
  const [refresh, setRefresh] = useRefreshInterval("read-models", 1_000, ALLOWED_INTERVALS);
  const paused = refresh === 0;
  const [snapshot, setSnapshot] = useState<Snapshot | undefined>(undefined);
  const [rates, setRates] = useState<Map<string, Array<{ at: number; value: number }>>>(new Map());
  const [confirming, setConfirming] = useState<ProjectionStatus | null>(null);
  const [requests, setRequests] = useState<ReadonlyMap<string, RebuildRequest>>(new Map());
  const rebuild = useMutation(trpc.readModels.rebuild.mutationOptions());
  const startRebuild = (name: string) => {
    const settle = (request: RebuildRequest) => setRequests((previous) => new Map(previous).set(name, request));
    settle({ state: "starting" });
    rebuild.mutateAsync({ name }).then(
      ({ generation }) => settle({ state: "started", generation }),
      (error: unknown) => settle({ state: "failed", message: errorMessage(error) }),
    );
  };

  const onData = useCallback((data: Snapshot) => {
    setSnapshot(data);
    setRates((previous) => {
      const next = new Map<string, Array<{ at: number; value: number }>>();
      for (const item of data.items) {
        const kept = (previous.get(item.name) ?? []).filter((point) => point.at >= data.at - HISTORY_MS);
        next.set(item.name, [...kept, { at: data.at, value: item.eventsPerSecond }]);
      }
      return next;
    });
  }, []);
  const live = useSubscription(trpc.readModels.live.subscriptionOptions({ intervalMs: refresh || 1_000 }, { enabled: !paused, onData }));

  const prefill = useMemo<QueryPrefill>(() => {
    const params: Record<string, string> = {};
    for (const [key, value] of searchParams) if (key !== "query" && key !== "minPosition") params[key] = value;
    return { query: searchParams.get("query") ?? undefined, minPosition: searchParams.get("minPosition") ?? undefined, params };
  }, [searchParams]);

  const items = snapshot?.items ?? [];
  const head = items.reduce((max, item) => Math.max(max, item.headPosition), 0);
  const maxLag = items.reduce((max, item) => Math.max(max, item.lag), 0);
  const rate = items.reduce((sum, item) => sum + item.eventsPerSecond, 0);
  const failing = items.filter((item) => item.state === "failing").length;

  return (
    <>
      <PageHeader
        title="Read models"
        description="Projections build query tables from the event log: how far each has caught up, and rebuilds."
        actions={<RefreshControl value={refresh} onChange={setRefresh} intervals={INTERVALS} resumeTo={1_000} />}
      />

      {snapshot ? (
        <div className="mb-5 grid grid-cols-2 gap-3 md:grid-cols-4">
          <Stat
            label="Projections"
            value={items.length}
            hint={failing > 0 ? <span className="text-danger">{failing} failing</span> : `${items.filter((item) => item.state === "live").length} live`}
          />
          <Stat label="Log head" value={head.toLocaleString()} hint="highest position in the log" />
          <Stat label="Highest lag" value={<span className={maxLag > 0 ? "text-amber-700 dark:text-amber-300" : undefined}>{maxLag.toLocaleString()}</span>} hint="events not yet applied" />
          <Stat label="Applying" value={`${formatRate(rate)}/s`} hint="events/s, all projections" />
        </div>
      ) : null}

      <div className="mb-2 flex items-center justify-between gap-3 px-1">
        <LiveStatus paused={paused} status={live.status} at={snapshot?.at} testId="read-models-status" />
        {snapshot && live.status === "error" ? (
          <span className="text-xs text-danger" role="alert">
            Live updates were interrupted; retrying.
          </span>
        ) : null}
      </div>

      {!snapshot ? (
        <Card>
          {live.status === "error" ? (
            <ErrorState title="Could not load the read models" error={live.error} onRetry={() => live.reset()} />
          ) : paused ? (
            <EmptyState icon={Radio} title="Live updates are paused" action={<Button onClick={() => setRefresh(1_000)}>Resume</Button>}>
              Resume to load the projections and their figures.
            </EmptyState>
          ) : (
            <div className="grid gap-4 p-5 lg:grid-cols-2">
              <Skeleton className="h-56 w-full" />
              <Skeleton className="h-56 w-full" />
            </div>
          )}
        </Card>
      ) : items.length === 0 ? (
        <Card>
          <EmptyState icon={DatabaseZap} title="No projections">
            Projections are defined by the domain and run by the projection runner at start-up.
          </EmptyState>
        </Card>
      ) : (
        <div className="grid gap-4 lg:grid-cols-2" data-testid="projections">
          {items.map((item) => (
            <ProjectionCard
              key={item.name}
              status={item}
              rates={rates.get(item.name) ?? []}
              canRebuild={canRebuild}
              request={requests.get(item.name)}
              onRebuild={() => setConfirming(item)}
            />
          ))}
        </div>
      )}

      <div className="mt-8">
        <QueryRunner prefill={prefill} />
      </div>

      <RebuildDialog projection={confirming} onClose={() => setConfirming(null)} onConfirm={startRebuild} />
    </>
  );
}
