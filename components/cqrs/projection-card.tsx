"use client";

import { CircleCheck, CircleX, Cpu, RefreshCcw } from "lucide-react";
import type { ReactNode } from "react";
import { Sparkline } from "../queues/sparkline";
import type { RouterOutputs } from "../trpc";
import { Badge, type BadgeTone } from "../ui/badge";
import { Button } from "../ui/button";
import { Card } from "../ui/card";
import { cn } from "../ui/cn";
import { formatRate } from "../ui/live-figures";
import { RelativeTime } from "../ui/relative-time";

export type ProjectionStatus = RouterOutputs["readModels"]["list"][number];

/** A rebuild asked for from this page: being started, started into a generation, or refused. */
export type RebuildRequest = { state: "starting" } | { state: "started"; generation: number } | { state: "failed"; message: string };
type ProjectionState = ProjectionStatus["state"];

const stateLook: Record<ProjectionState, { label: string; tone: BadgeTone; dot: string }> = {
  live: { label: "Live", tone: "success", dot: "animate-pulse bg-emerald-500" },
  catching_up: { label: "Catching up", tone: "warning", dot: "bg-amber-500" },
  rebuilding: { label: "Rebuilding", tone: "primary", dot: "animate-pulse bg-primary" },
  failing: { label: "Failing", tone: "danger", dot: "bg-danger" },
  stopped: { label: "Stopped", tone: "neutral", dot: "bg-muted-foreground/60" },
};

export function ProjectionStateBadge({ state }: { state: ProjectionState }) {
  const look = stateLook[state];
  return (
    <Badge tone={look.tone} data-testid="projection-state" data-state={state}>
      <span className={cn("size-1.5 rounded-full", look.dot)} aria-hidden />
      {look.label}
    </Badge>
  );
}

function Figure({ label, children, title }: { label: string; children: ReactNode; title?: string }) {
  return (
    <div className="min-w-0" title={title}>
      <dt className="text-[11px] font-medium tracking-wide text-muted-foreground uppercase">{label}</dt>
      <dd className="mt-0.5 truncate font-mono text-sm font-medium tabular-nums">{children}</dd>
    </div>
  );
}

export function ProgressBar({ value, tone = "primary", label }: { value: number; tone?: "primary" | "success" | "warning" | "danger"; label: string }) {
  const percent = Math.max(0, Math.min(100, value * 100));
  return (
    <div className="h-1.5 overflow-hidden rounded-full bg-muted" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(percent)}>
      <div
        className={cn(
          "h-full rounded-full transition-[width] duration-500",
          tone === "success" && "bg-emerald-500",
          tone === "warning" && "bg-amber-500",
          tone === "danger" && "bg-danger",
          tone === "primary" && "bg-primary",
        )}
        style={{ width: `${percent}%` }}
      />
    </div>
  );
}

/**
 * One projection: its state, how far its active generation got against the head, its rate, its
 * last error, and a rebuild's progress into the next generation until the switch-over.
 */
export function ProjectionCard({
  status,
  rates,
  canRebuild,
  request,
  onRebuild,
}: {
  status: ProjectionStatus;
  rates: ReadonlyArray<{ at: number; value: number }>;
  canRebuild: boolean;
  request: RebuildRequest | undefined;
  onRebuild(): void;
}) {
  const caughtUp = status.headPosition === 0 ? 1 : status.position / status.headPosition;
  const { rebuild, lastError } = status;
  const switched = request?.state === "started" && status.generation !== null && status.generation >= request.generation;
  // Between the request and the first figures of the new generation (creating it takes a moment).
  const pending = !rebuild && (request?.state === "starting" || (request?.state === "started" && !switched));
  return (
    <Card className="flex flex-col" data-testid="projection-card" data-projection={status.name} data-state={status.state}>
      <div className="flex items-start justify-between gap-3 px-5 pt-4">
        <div className="min-w-0">
          <div className="flex flex-wrap items-center gap-2">
            <h2 className="font-mono text-sm font-semibold">{status.name}</h2>
            <ProjectionStateBadge state={status.state} />
          </div>
          <p className="mt-1 line-clamp-2 text-sm text-muted-foreground">{status.description}</p>
        </div>
        {canRebuild ? (
          <Button
            variant="outline"
            size="sm"
            onClick={onRebuild}
            disabled={rebuild !== null || pending}
            data-testid="projection-rebuild"
            title={rebuild || pending ? "A rebuild is running" : `Rebuild ${status.name} from position 0`}
          >
            <RefreshCcw aria-hidden className={cn((rebuild || pending) && "animate-spin [animation-duration:2s]")} />
            Rebuild
          </Button>
        ) : null}
      </div>

      <dl className="grid grid-cols-2 gap-x-4 gap-y-3 px-5 pt-4 sm:grid-cols-4">
        <Figure label="Generation" title="The generation queries read from">
          <span data-testid="projection-generation">{status.generation === null ? "—" : `g${status.generation}`}</span>
        </Figure>
        <Figure label="Position" title={`Applied up to position ${status.position.toLocaleString()} of the log's ${status.headPosition.toLocaleString()}`}>
          <span data-testid="projection-position">{status.position.toLocaleString()}</span>
          <span className="text-xs font-normal text-muted-foreground"> / {status.headPosition.toLocaleString()}</span>
        </Figure>
        <Figure label="Lag" title="Events in the log not yet applied">
          <span data-testid="projection-lag" className={cn(status.lag > 0 ? "text-amber-700 dark:text-amber-300" : "text-muted-foreground")}>
            {status.lag.toLocaleString()}
          </span>
        </Figure>
        <div className="min-w-0">
          <dt className="text-[11px] font-medium tracking-wide text-muted-foreground uppercase">Events/s</dt>
          <dd className="mt-0.5 flex items-center gap-2">
            <span className="font-mono text-sm font-medium tabular-nums" data-testid="projection-rate">
              {formatRate(status.eventsPerSecond)}
            </span>
            <Sparkline points={rates} width={64} height={22} label={`${status.name}: events applied per second over the last minute`} />
          </dd>
        </div>
      </dl>

      <div className="space-y-1.5 px-5 pt-4">
        <ProgressBar value={caughtUp} tone={status.state === "failing" ? "danger" : status.lag === 0 ? "success" : "warning"} label={`${status.name}: applied of the log`} />
        <p className="text-xs text-muted-foreground">
          {status.lag === 0 ? "Caught up with the log." : `${status.lag.toLocaleString()} event${status.lag === 1 ? "" : "s"} behind the head.`}
        </p>
      </div>

      {rebuild ? (
        <div className="mx-5 mt-4 space-y-2 rounded-lg border border-primary/25 bg-accent/50 px-3.5 py-3" data-testid="projection-rebuild-progress">
          <div className="flex flex-wrap items-center justify-between gap-2 text-xs">
            <span className="font-medium text-accent-foreground">
              Rebuilding into g{rebuild.generation}
              <span className="font-normal text-muted-foreground">
                {" "}
                · started <RelativeTime time={rebuild.startedAt} />
              </span>
            </span>
            <span className="font-mono text-muted-foreground tabular-nums">
              {Math.round(rebuild.progress * 100)}% · {rebuild.position.toLocaleString()} / {status.headPosition.toLocaleString()}
            </span>
          </div>
          <ProgressBar value={rebuild.progress} label={`${status.name}: rebuild progress`} />
          <p className="text-xs text-muted-foreground">
            Queries keep reading g{status.generation ?? "—"} until g{rebuild.generation} has caught up, then switch over.
          </p>
        </div>
      ) : pending ? (
        <div className="mx-5 mt-4 space-y-2 rounded-lg border border-primary/25 bg-accent/50 px-3.5 py-3" data-testid="projection-rebuild-starting">
          <p className="text-xs font-medium text-accent-foreground">
            {request?.state === "started" ? `Rebuilding into g${request.generation}…` : "Starting a rebuild: creating the next generation…"}
          </p>
          <div className="h-1.5 overflow-hidden rounded-full bg-muted" aria-hidden>
            <div className="h-full w-1/3 animate-pulse rounded-full bg-primary/60" />
          </div>
        </div>
      ) : request?.state === "started" && switched ? (
        <p className="mx-5 mt-4 flex items-center gap-2 rounded-lg border border-emerald-200 bg-emerald-50 px-3.5 py-2.5 text-xs text-emerald-800 dark:border-emerald-500/25 dark:bg-emerald-500/10 dark:text-emerald-200" data-testid="projection-switched">
          <CircleCheck className="size-4 shrink-0" aria-hidden />
          Rebuilt: queries now read generation g{status.generation}.
        </p>
      ) : request?.state === "failed" ? (
        <p className="mx-5 mt-4 flex items-center gap-2 rounded-lg border border-red-200 bg-red-50 px-3.5 py-2.5 text-xs text-red-800 dark:border-red-500/25 dark:bg-red-500/10 dark:text-red-200" role="alert">
          <CircleX className="size-4 shrink-0" aria-hidden />
          Could not start the rebuild: {request.message}
        </p>
      ) : null}

      {lastError ? (
        <div className="mx-5 mt-4 rounded-lg border border-red-200 bg-red-50 px-3.5 py-2.5 text-xs text-red-800 dark:border-red-500/25 dark:bg-red-500/10 dark:text-red-200" data-testid="projection-error">
          <p className="flex items-center gap-1.5 font-medium">
            <CircleX className="size-3.5 shrink-0" aria-hidden /> Last error <RelativeTime time={lastError.at} className="font-normal opacity-80" />
          </p>
          <p className="mt-1 font-mono break-words">{lastError.message}</p>
        </div>
      ) : null}

      <div className="mt-auto flex items-center justify-between gap-3 px-5 pt-4 pb-4 text-xs text-muted-foreground">
        <span>Projection version {status.version}</span>
        <span className="inline-flex items-center gap-1.5" title={status.runningHere ? "This process holds the projection's lease and applies its events" : "Another process applies its events; figures come from the database"}>
          <Cpu className="size-3.5" aria-hidden />
          {status.runningHere ? "Runs in this process" : "Runs in another process"}
        </span>
      </div>
    </Card>
  );
}
