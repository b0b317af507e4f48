import type { ReactNode } from "react";
import { Card } from "./card";
import { cn } from "./cn";

/** What the live pages (Queues, Read models) share: a rate in words, a headline figure, the feed's state. */

export function formatRate(rate: number): string {
  if (rate === 0) return "0";
  if (rate < 10) return rate.toFixed(1);
  return Math.round(rate).toLocaleString();
}

export function Stat({ label, value, hint }: { label: string; value: ReactNode; hint?: ReactNode }) {
  return (
    <Card className="px-4 py-3.5">
      <p className="text-xs font-medium tracking-wide text-muted-foreground uppercase">{label}</p>
      <p className="mt-1 text-xl font-semibold tracking-tight tabular-nums">{value}</p>
      {hint ? <p className="mt-0.5 truncate text-xs text-muted-foreground">{hint}</p> : null}
    </Card>
  );
}

/** A live subscription's state (its tRPC `status`, or paused) and when it last sent figures. */
export function LiveStatus({ paused, status, at, testId }: { paused: boolean; status: string; at: number | undefined; testId: string }) {
  const state = paused ? "paused" : status === "error" ? "error" : status === "pending" ? "live" : "connecting";
  const text = { paused: "Paused", error: "Reconnecting…", live: "Live", connecting: "Connecting…" }[state];
  return (
    <span className="inline-flex items-center gap-2 text-xs text-muted-foreground" data-testid={testId} data-status={state}>
      <span
        className={cn(
          "size-2 rounded-full",
          state === "live" && "animate-pulse bg-emerald-500",
          state === "paused" && "bg-muted-foreground/50",
          state === "error" && "bg-danger",
          state === "connecting" && "bg-amber-500",
        )}
        aria-hidden
      />
      {text}
      {at ? <span className="tabular-nums">· updated {new Date(at).toLocaleTimeString(undefined, { hour12: false })}</span> : null}
    </span>
  );
}
