"use client";

import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { ArrowDownWideNarrow, History, Plus, SearchX, X } from "lucide-react";
import { useMemo, useState, type FormEvent, type KeyboardEvent } from "react";
import { useTRPC, type RouterInputs } from "../trpc";
import { Button } from "../ui/button";
import { Card } from "../ui/card";
import { cn } from "../ui/cn";
import { EmptyState } from "../ui/empty-state";
import { ErrorState } from "../ui/error-state";
import { Input, Label, Select } from "../ui/form";
import { Spinner } from "../ui/spinner";
import { TypeBadge } from "../ui/type-badge";
import { EventTable } from "./event-table";
import { isValidPattern, patternSuggestions } from "./type-patterns";
import type { TailEvent } from "./types";

export interface HistoryFilters {
  types: string[];
  subject: string;
  correlationid: string;
  /** `datetime-local` values (browser local time), or "". */
  from: string;
  to: string;
  order: "newest" | "oldest";
}

export const emptyFilters: HistoryFilters = { types: [], subject: "", correlationid: "", from: "", to: "", order: "newest" };

const PAGE_SIZE = 50;

const presets = [
  { label: "15m", title: "Last 15 minutes", minutes: 15 },
  { label: "1h", title: "Last hour", minutes: 60 },
  { label: "24h", title: "Last 24 hours", minutes: 24 * 60 },
  { label: "7d", title: "Last 7 days", minutes: 7 * 24 * 60 },
] as const;

/** A Date as the value of a `datetime-local` input (local time, minute precision). */
function toLocalInput(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function toIso(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

type SearchInput = RouterInputs["events"]["search"];

function toQueryInput(filters: HistoryFilters): Omit<SearchInput, "cursor"> {
  return {
    types: filters.types.length > 0 ? filters.types : undefined,
    subject: filters.subject.trim() || undefined,
    correlationid: filters.correlationid.trim() || undefined,
    from: toIso(filters.from),
    to: toIso(filters.to),
    order: filters.order,
    limit: PAGE_SIZE,
  };
}

function TypePatternPicker({ value, onChange, suggestions }: { value: string[]; onChange(value: string[]): void; suggestions: string[] }) {
  const [draft, setDraft] = useState("");
  const invalid = draft.trim() !== "" && !isValidPattern(draft.trim());
  const add = () => {
    const pattern = draft.trim();
    if (!pattern || !isValidPattern(pattern)) return;
    if (!value.includes(pattern)) onChange([...value, pattern]);
    setDraft("");
  };
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "Enter" || event.key === ",") {
      event.preventDefault();
      add();
    } else if (event.key === "Backspace" && draft === "" && value.length > 0) {
      onChange(value.slice(0, -1));
    }
  };
  return (
    <div
      className={cn(
        "flex min-h-9 flex-wrap items-center gap-1 rounded-lg border border-input bg-card px-1.5 py-1 shadow-xs focus-within:border-ring focus-within:ring-2 focus-within:ring-ring/25",
        invalid && "border-danger",
      )}
    >
      {value.map((pattern) => (
        <span key={pattern} className="inline-flex items-center gap-0.5">
          <TypeBadge type={pattern} />
          <button
            type="button"
            onClick={() => onChange(value.filter((item) => item !== pattern))}
            aria-label={`Remove ${pattern}`}
            className="inline-flex size-5 cursor-pointer items-center justify-center rounded text-muted-foreground hover:bg-muted hover:text-foreground"
          >
            <X className="size-3" aria-hidden />
          </button>
        </span>
      ))}
      <input
        id="history-types"
        value={draft}
        onChange={(event) => setDraft(event.target.value)}
        onKeyDown={onKeyDown}
        onBlur={add}
        list="history-type-suggestions"
        placeholder={value.length === 0 ? "Any type — add exam.* or exam.created" : "Add another…"}
        aria-invalid={invalid || undefined}
        spellCheck={false}
        className="h-7 min-w-40 flex-1 bg-transparent px-1.5 text-sm placeholder:text-muted-foreground/70 focus:outline-none"
      />
      {draft.trim() && !invalid ? (
        <button type="button" onClick={add} aria-label="Add type" className="inline-flex size-6 cursor-pointer items-center justify-center rounded text-muted-foreground hover:bg-muted">
          <Plus className="size-3.5" aria-hidden />
        </button>
      ) : null}
      <datalist id="history-type-suggestions">
        {suggestions.map((suggestion) => (
          <option key={suggestion} value={suggestion} />
        ))}
      </datalist>
    </div>
  );
}

export function HistorySearch({
  initial,
  onSelect,
  selectedId,
}: {
  initial: HistoryFilters;
  onSelect(event: TailEvent): void;
  selectedId: string | null;
}) {
  const trpc = useTRPC();
  const types = useQuery(trpc.eventTypes.list.queryOptions(undefined, { staleTime: 60_000 }));
  const suggestions = useMemo(() => patternSuggestions((types.data ?? []).map((item) => item.type)), [types.data]);

  const [draft, setDraft] = useState<HistoryFilters>(initial);
  const [applied, setApplied] = useState<HistoryFilters>(initial);
  const input = useMemo(() => toQueryInput(applied), [applied]);

  const search = useInfiniteQuery(
    trpc.events.search.infiniteQueryOptions(input, {
      getNextPageParam: (page) => page.next ?? undefined,
      staleTime: 30_000,
    }),
  );
  const items = useMemo(() => search.data?.pages.flatMap((page) => page.items) ?? [], [search.data]);
  const rangeInvalid = draft.from !== "" && draft.to !== "" && new Date(draft.from) > new Date(draft.to);

  function submit(event?: FormEvent) {
    event?.preventDefault();
    if (rangeInvalid) return;
    setApplied({ ...draft, types: [...draft.types] });
  }

  function preset(minutes: number) {
    const now = new Date();
    const next = { ...draft, from: toLocalInput(new Date(now.getTime() - minutes * 60_000)), to: "" };
    setDraft(next);
    setApplied(next);
  }

  function reset() {
    setDraft(emptyFilters);
    setApplied(emptyFilters);
  }

  const filtersActive = JSON.stringify(applied) !== JSON.stringify(emptyFilters);

  return (
    <div className="space-y-4">
      <Card>
        <form onSubmit={submit} className="space-y-4 p-4">
          <div className="grid gap-4 md:grid-cols-2 xl:grid-cols-12">
            <div className="flex flex-col gap-1.5 md:col-span-2 xl:col-span-6">
              <Label htmlFor="history-types">Types</Label>
              <TypePatternPicker value={draft.types} onChange={(types) => setDraft({ ...draft, types })} suggestions={suggestions} />
            </div>
            <div className="flex flex-col gap-1.5 xl:col-span-3">
              <Label htmlFor="history-subject">Subject</Label>
              <Input id="history-subject" value={draft.subject} onChange={(event) => setDraft({ ...draft, subject: event.target.value })} placeholder="e.g. exam/42" spellCheck={false} />
            </div>
            <div className="flex flex-col gap-1.5 xl:col-span-3">
              <Label htmlFor="history-correlation">Correlation id</Label>
              <Input
                id="history-correlation"
                value={draft.correlationid}
                onChange={(event) => setDraft({ ...draft, correlationid: event.target.value })}
                placeholder="Every event of one conversation"
                className="font-mono text-xs"
                spellCheck={false}
              />
            </div>
          </div>
          <div className="flex flex-wrap items-end gap-4">
            <div className="flex flex-col gap-1.5">
              <Label htmlFor="history-from">From</Label>
              <Input id="history-from" type="datetime-local" value={draft.from} onChange={(event) => setDraft({ ...draft, from: event.target.value })} className="w-44" aria-invalid={rangeInvalid || undefined} />
            </div>
            <div className="flex flex-col gap-1.5">
              <Label htmlFor="history-to">To</Label>
              <Input id="history-to" type="datetime-local" value={draft.to} onChange={(event) => setDraft({ ...draft, to: event.target.value })} className="w-44" aria-invalid={rangeInvalid || undefined} />
            </div>
            <div className="flex flex-col gap-1.5">
              <span className="text-xs font-medium text-muted-foreground">Quick range</span>
              <div className="flex h-9 items-center gap-1 rounded-lg border border-border bg-muted/50 p-0.5">
                {presets.map((item) => (
                  <button key={item.label} type="button" title={item.title} onClick={() => preset(item.minutes)} className="h-full cursor-pointer rounded-md px-2.5 text-xs font-medium text-muted-foreground transition-colors hover:bg-card hover:text-foreground">
                    {item.label}
                  </button>
                ))}
              </div>
            </div>
            <div className="ml-auto flex items-center gap-2">
              <Label htmlFor="history-order" className="sr-only">
                Order
              </Label>
              <Select id="history-order" value={draft.order} onChange={(event) => setDraft({ ...draft, order: event.target.value as HistoryFilters["order"] })} className="w-36">
                <option value="newest">Newest first</option>
                <option value="oldest">Oldest first</option>
              </Select>
              {filtersActive ? (
                <Button variant="ghost" size="md" onClick={reset}>
                  Reset
                </Button>
              ) : null}
              <Button type="submit" disabled={rangeInvalid} data-testid="history-search">
                Search
              </Button>
            </div>
          </div>
          {rangeInvalid ? <p className="text-xs text-danger">“From” must be before “To”.</p> : null}
        </form>
      </Card>

      <Card className="overflow-hidden" data-testid="history-results">
        {search.isPending ? (
          <div className="flex justify-center py-16">
            <Spinner label="Searching the log…" />
          </div>
        ) : search.isError ? (
          <ErrorState title="The search failed" error={search.error} onRetry={() => void search.refetch()} />
        ) : items.length === 0 ? (
          <EmptyState icon={filtersActive ? SearchX : History} title={filtersActive ? "No events match these filters" : "The log is empty"}>
            {filtersActive
              ? search.hasNextPage
                ? "Nothing matched in the part of the log scanned so far. Scan further back, or widen the filters."
                : "Try a wider time range, a family wildcard such as exam.*, or fewer filters."
              : "Published events are kept here, in order, for as long as the log is retained."}
            {search.hasNextPage ? (
              <div className="mt-4">
                <Button variant="outline" size="sm" onClick={() => void search.fetchNextPage()} disabled={search.isFetchingNextPage}>
                  {search.isFetchingNextPage ? "Scanning…" : "Scan further"}
                </Button>
              </div>
            ) : null}
          </EmptyState>
        ) : (
          <>
            <EventTable events={items} onSelect={onSelect} selectedId={selectedId} />
            <div className="flex flex-wrap items-center justify-between gap-3 border-t border-border px-5 py-3 text-xs text-muted-foreground">
              <span className="inline-flex items-center gap-1.5">
                <ArrowDownWideNarrow className="size-3.5" aria-hidden />
                {items.length.toLocaleString()} event{items.length === 1 ? "" : "s"} · {applied.order === "newest" ? "newest first" : "oldest first"}
                {search.isFetching && !search.isFetchingNextPage ? " · refreshing…" : ""}
              </span>
              {search.hasNextPage ? (
                <Button variant="outline" size="sm" onClick={() => void search.fetchNextPage()} disabled={search.isFetchingNextPage} data-testid="history-load-more">
                  {search.isFetchingNextPage ? "Loading…" : "Load more"}
                </Button>
              ) : (
                <span>End of the log</span>
              )}
            </div>
          </>
        )}
      </Card>
    </div>
  );
}
