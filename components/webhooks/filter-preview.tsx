"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { ArrowUpRight, CircleAlert, Filter, LoaderCircle } from "lucide-react";
import Link from "next/link";
import { useEffect, useMemo, useState, type ReactNode } from "react";
import { useTRPC } from "../trpc";
import { errorMessage } from "../ui/error-state";
import { RelativeTime } from "../ui/relative-time";
import { shortenId } from "../ui/short-id";
import { TypeBadge } from "../ui/type-badge";

const SHOWN = 8;

/** `value`, once it has stopped changing for `delayMs` (the preview runs as one types, not on every key). */
function useSettled(value: string, delayMs: number): string {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return settled;
}

/**
 * How the filter fares against recent events of the chosen types, live: how many matched of those
 * examined, the first few with links to their detail pages, or the expression's error with its
 * position.
 */
export function FilterPreview({ filter, eventTypes }: { filter: string; eventTypes: readonly string[] }) {
  const trpc = useTRPC();
  // Settled as one string: a fresh object each render would restart the delay forever.
  const settled = useSettled(JSON.stringify({ filter: filter.trim(), eventTypes }), 350);
  const input = useMemo(() => JSON.parse(settled) as { filter: string; eventTypes: string[] }, [settled]);
  const enabled = input.filter !== "" && input.eventTypes.length > 0;
  const preview = useQuery(trpc.webhooks.previewFilter.queryOptions(input, { enabled, placeholderData: keepPreviousData, staleTime: 5_000 }));
  const stale = enabled && (preview.isFetching || input.filter !== filter.trim());

  if (eventTypes.length === 0) return <Frame>Choose event types to preview the filter against recent events.</Frame>;
  if (filter.trim() === "") return <Frame>No filter: every event of the chosen types is delivered.</Frame>;
  if (preview.isPending) {
    return (
      <Frame>
        <LoaderCircle className="size-3.5 animate-spin" aria-hidden /> Trying the filter on recent events…
      </Frame>
    );
  }
  if (preview.isError) return <Frame tone="danger">{errorMessage(preview.error)}</Frame>;
  const { error, matched, examined } = preview.data;
  if (error) {
    return (
      <Frame tone="danger" testId="filter-preview-error">
        <CircleAlert className="size-3.5 shrink-0" aria-hidden /> <span className="font-mono">{error}</span>
      </Frame>
    );
  }
  return (
    <div className="overflow-hidden rounded-lg border border-border bg-muted/30" data-testid="filter-preview" data-matched={matched.length} data-examined={examined} aria-live="polite">
      <div className="flex items-center gap-2 px-3 py-2 text-xs">
        <Filter className="size-3.5 text-muted-foreground" aria-hidden />
        <span>
          Matches{" "}
          <span className="font-semibold tabular-nums" data-testid="filter-preview-count">
            {matched.length.toLocaleString()}
          </span>{" "}
          of the last <span className="tabular-nums">{examined.toLocaleString()}</span> event{examined === 1 ? "" : "s"} of these types
        </span>
        {examined > 0 ? (
          <span className="ml-auto flex h-1.5 w-24 overflow-hidden rounded-full bg-muted-foreground/15" aria-hidden>
            <span className="h-full bg-primary" style={{ width: `${(matched.length / examined) * 100}%` }} />
          </span>
        ) : null}
        {stale ? <LoaderCircle className="size-3.5 animate-spin text-muted-foreground" aria-label="Updating" /> : null}
      </div>
      {matched.length > 0 ? (
        <ul className="divide-y divide-border border-t border-border bg-card">
          {matched.slice(0, SHOWN).map((event) => (
            <li key={event.id}>
              <Link
                href={`/events/${event.id}`}
                target="_blank"
                className="group flex items-center gap-3 px-3 py-1.5 text-xs hover:bg-muted/60"
                data-testid="filter-preview-event"
              >
                <TypeBadge type={event.type} />
                <span className="font-mono text-muted-foreground">{shortenId(event.id)}</span>
                <RelativeTime time={event.time} className="ml-auto text-muted-foreground" />
                <ArrowUpRight className="size-3.5 text-muted-foreground opacity-0 group-hover:opacity-100" aria-hidden />
              </Link>
            </li>
          ))}
          {matched.length > SHOWN ? <li className="px-3 py-1.5 text-xs text-muted-foreground">and {matched.length - SHOWN} more</li> : null}
        </ul>
      ) : examined === 0 ? (
        <p className="border-t border-border px-3 py-2 text-xs text-muted-foreground">No recent events of these types to try it on; it compiles.</p>
      ) : null}
    </div>
  );
}

function Frame({ children, tone, testId }: { children: ReactNode; tone?: "danger"; testId?: string }) {
  return (
    <p
      className={
        tone === "danger"
          ? "flex items-start gap-1.5 rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-xs text-red-800 dark:border-red-500/25 dark:bg-red-500/10 dark:text-red-200"
          : "flex items-center gap-1.5 rounded-lg border border-dashed border-border px-3 py-2 text-xs text-muted-foreground"
      }
      data-testid={testId ?? "filter-preview-note"}
    >
      {children}
    </p>
  );
}
