"use client";

import { useSyncExternalStore } from "react";

// One shared clock for every relative time on the page: a tick every 10 s.
let now = Date.now();
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | undefined;

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (!timer) {
    now = Date.now();
    timer = setInterval(() => {
      now = Date.now();
      for (const notify of listeners) notify();
    }, 10_000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

/** The shared clock (0 during server rendering). Times newer than a tick read as "just now". */
export function useNow(): number {
  return useSyncExternalStore(subscribe, () => now, () => 0);
}

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto", style: "narrow" });

export function formatRelative(time: number, reference: number): string {
  const seconds = Math.round((time - reference) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 10) return "just now";
  if (abs < 60) return relative.format(seconds, "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), "hour");
  if (abs < 30 * 86_400) return relative.format(Math.round(seconds / 86_400), "day");
  return new Date(time).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function formatExact(time: string | number | Date): string {
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) return String(time);
  return `${date.toLocaleString(undefined, { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false })}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

/** "2 min ago", with the exact local time (and UTC) on hover. */
export function RelativeTime({ time, className }: { time: string | number | Date | null | undefined; className?: string }) {
  const reference = useNow();
  if (time === null || time === undefined) return <span className={className}>—</span>;
  const date = new Date(time);
  const ms = date.getTime();
  if (Number.isNaN(ms)) return <span className={className}>{String(time)}</span>;
  const label = reference === 0 ? date.toISOString().slice(0, 19).replace("T", " ") : formatRelative(ms, Math.max(reference, ms));
  return (
    <time dateTime={date.toISOString()} title={`${formatExact(ms)} (local)\n${date.toISOString()} (UTC)`} className={className} suppressHydrationWarning>
      {label}
    </time>
  );
}
