"use client";

import { Pause, Play } from "lucide-react";
import { useEffect, useState } from "react";
import { cn } from "./cn";

/** How often a live page refreshes, in ms; 0 is paused. */
export type RefreshInterval = number;

const STORAGE_PREFIX = "eventloom.refresh.";

/** A refresh interval remembered per page (localStorage), so a paused page stays paused. */
export function useRefreshInterval(page: string, fallback: RefreshInterval, allowed: readonly RefreshInterval[]): [RefreshInterval, (value: RefreshInterval) => void] {
  const [value, setValue] = useState<RefreshInterval>(fallback);
  useEffect(() => {
    // Read after hydration: the server render cannot know the stored choice.
    const raw = window.localStorage.getItem(STORAGE_PREFIX + page);
    const stored = raw === null || raw.trim() === "" ? Number.NaN : Number(raw);
    if (allowed.includes(stored) && stored !== fallback) setValue(stored);
  }, [page, fallback, allowed]);
  const update = (next: RefreshInterval) => {
    setValue(next);
    window.localStorage.setItem(STORAGE_PREFIX + page, String(next));
  };
  return [value, update];
}

function label(interval: RefreshInterval): string {
  return interval >= 60_000 ? `${interval / 60_000}m` : `${interval / 1000}s`;
}

/** Pause/resume plus a choice of intervals, as one segmented control. */
export function RefreshControl({
  value,
  onChange,
  intervals,
  resumeTo,
  className,
}: {
  value: RefreshInterval;
  onChange(value: RefreshInterval): void;
  intervals: readonly RefreshInterval[];
  /** The interval "resume" goes back to. */
  resumeTo: RefreshInterval;
  className?: string;
}) {
  const paused = value === 0;
  return (
    <div className={cn("flex h-9 items-center gap-0.5 rounded-lg border border-border bg-muted/50 p-0.5", className)} role="group" aria-label="Refresh">
      <button
        type="button"
        onClick={() => onChange(paused ? resumeTo : 0)}
        aria-pressed={paused}
        data-testid="refresh-pause"
        title={paused ? "Resume live updates" : "Pause live updates"}
        className={cn(
          "inline-flex h-full cursor-pointer items-center gap-1.5 rounded-md px-2.5 text-xs font-medium transition-colors",
          paused ? "bg-card text-foreground shadow-xs" : "text-muted-foreground hover:bg-card hover:text-foreground",
        )}
      >
        {paused ? <Play className="size-3.5" aria-hidden /> : <Pause className="size-3.5" aria-hidden />}
        {paused ? "Paused" : "Pause"}
      </button>
      <span className="mx-0.5 h-4 w-px bg-border" aria-hidden />
      {intervals.map((interval) => (
        <button
          key={interval}
          type="button"
          onClick={() => onChange(interval)}
          aria-pressed={value === interval}
          title={`Refresh every ${label(interval)}`}
          className={cn(
            "h-full cursor-pointer rounded-md px-2 text-xs font-medium tabular-nums transition-colors",
            value === interval ? "bg-card text-foreground shadow-xs" : "text-muted-foreground hover:bg-card hover:text-foreground",
          )}
        >
          {label(interval)}
        </button>
      ))}
    </div>
  );
}
