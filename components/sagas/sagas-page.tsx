"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { Play, Search, Undo2, Workflow, X } from "lucide-react";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import { useTRPC, type RouterInputs } from "../trpc";
import { Button } from "../ui/button";
import { CursorPager, useCursorPages } from "../ui/cursor-pager";
import { Card } from "../ui/card";
import { cn } from "../ui/cn";
import { EmptyState } from "../ui/empty-state";
import { ErrorState } from "../ui/error-state";
import { Input, Select } from "../ui/form";
import { LiveStatus } from "../ui/live-figures";
import { PageHeader } from "../ui/page-header";
import { RefreshControl, useRefreshInterval } from "../ui/refresh-control";
import { RelativeTime } from "../ui/relative-time";
import { shortenId } from "../ui/short-id";
import { Skeleton } from "../ui/spinner";
import { Table, Td, Th, THead } from "../ui/table";
import { SagaKindBadge, sagaStatusList, sagaStatusLook, SagaStatusBadge, type SagaKindName, type SagaStatusName } from "./saga-badges";
import { StartSagaDialog } from "./start-saga-dialog";
import { durationBetween, formatDuration } from "./timeline-model";
import type { SagaCounts, SagaSummary, SagaType } from "./types";

const PAGE_SIZE = 25;
const INTERVALS = [1_000, 5_000, 15_000] as const;
const ALLOWED_INTERVALS = [0, ...INTERVALS];

type ListInput = RouterInputs["sagas"]["list"];

interface Filters {
  type: string;
  status: SagaStatusName | "";
  kind: SagaKindName | "";
  correlationid: string;
}

function filtersOf(params: URLSearchParams): Filters {
  const status = params.get("status") ?? "";
  const kind = params.get("kind") ?? "";
  return {
    type: params.get("type") ?? "",
    status: (sagaStatusList as readonly string[]).includes(status) ? (status as SagaStatusName) : "",
    kind: kind === "orchestrated" || kind === "choreographed" ? kind : "",
    correlationid: params.get("correlationid") ?? "",
  };
}

/** Sagas per status for the chips: of the chosen type, or of every type (of the chosen kind). */
function statusCounts(counts: SagaCounts | undefined, types: SagaType[], filters: Filters): Record<SagaStatusName, number> | undefined {
  if (!counts) return undefined;
  const kindOf = new Map(types.map((type) => [type.type, type.kind]));
  const totals = Object.fromEntries(sagaStatusList.map((status) => [status, 0])) as Record<SagaStatusName, number>;
  for (const [type, byStatus] of Object.entries(counts.byType)) {
    if (filters.type && type !== filters.type) continue;
    if (filters.kind && kindOf.get(type) !== filters.kind) continue;
    for (const status of sagaStatusList) totals[status] += byStatus[status] ?? 0;
  }
  return totals;
}

function StatusChips({ counts, value, onChange }: { counts: Record<SagaStatusName, number> | undefined; value: SagaStatusName | ""; onChange(status: SagaStatusName | ""): void }) {
  const total = counts ? sagaStatusList.reduce((sum, status) => sum + counts[status], 0) : undefined;
  const chip = (status: SagaStatusName | "", label: string, count: number | undefined, dot?: string) => (
    <button
      key={status || "all"}
      type="button"
      onClick={() => onChange(status)}
      aria-pressed={value === status}
      data-testid="status-chip"
      data-status={status || "all"}
      className={cn(
        "inline-flex h-8 cursor-pointer items-center gap-2 rounded-full border px-3 text-xs font-medium transition-colors",
        value === status ? "border-primary/40 bg-accent text-accent-foreground shadow-xs" : "border-border bg-card text-muted-foreground hover:bg-muted hover:text-foreground",
      )}
    >
      {dot ? <span className={cn("size-2 rounded-full", dot)} aria-hidden /> : null}
      {label}
      <span className={cn("rounded-full px-1.5 font-mono text-[11px] tabular-nums", value === status ? "bg-card/70" : "bg-muted", count === 0 && "opacity-60")} data-testid="status-chip-count">
        {count === undefined ? "…" : count.toLocaleString()}
      </span>
    </button>
  );
  return (
    <div className="flex flex-wrap items-center gap-2" role="group" aria-label="Filter by status">
      {chip("", "All", total)}
      {sagaStatusList.map((status) => chip(status, sagaStatusLook[status].label, counts?.[status], sagaStatusLook[status].dot.replace("animate-pulse ", "")))}
    </div>
  );
}

/** Where the saga is: its step (n of m) with a progress bar, what is being undone, or how it ended. */
function Progress({ saga }: { saga: SagaSummary }) {
  const done = saga.stepCount === 0 ? 0 : saga.stepsDone / saga.stepCount;
  const position = saga.position;
  return (
    <div className="min-w-32 space-y-1">
      <div className="flex items-center gap-1.5 text-xs">
        {position?.phase === "compensation" ? (
          <span className={cn("inline-flex items-center gap-1 font-mono", saga.status === "failed" ? "text-danger" : "text-amber-700 dark:text-amber-300")} data-testid="saga-current-step">
            <Undo2 className="size-3" aria-hidden />
            {position.step}
            {saga.status === "failed" ? " failed" : ""}
          </span>
        ) : position ? (
          <span className="font-mono text-foreground" data-testid="saga-current-step">
            {position.step}
            <span className="ml-1 text-muted-foreground">
              {position.index + 1}/{position.total}
            </span>
          </span>
        ) : (
          <span className="text-muted-foreground">
            {saga.stepsDone}/{saga.stepCount} steps
          </span>
        )}
      </div>
      <div className="flex h-1 gap-px overflow-hidden rounded-full" aria-hidden>
        {Array.from({ length: Math.max(saga.stepCount, 1) }, (_, index) => (
          <span
            key={index}
            className={cn(
              "flex-1",
              index < saga.stepsDone
                ? saga.status === "completed"
                  ? "bg-emerald-500"
                  : saga.status === "running"
                    ? "bg-primary"
                    : "bg-amber-500/70"
                : position && index === position.index
                  ? position.phase === "compensation"
                    ? "bg-red-500/70"
                    : "animate-pulse bg-primary/50"
                  : "bg-muted-foreground/15",
            )}
          />
        ))}
      </div>
      <span className="sr-only">{Math.round(done * 100)}% of the steps done</span>
    </div>
  );
}

function SagaRow({ saga, now, onOpen }: { saga: SagaSummary; now: number; onOpen(id: string): void }) {
  const duration = durationBetween(saga.startedAt, saga.endedAt, now);
  return (
    <tr
      className="cursor-pointer border-b border-border align-top transition-colors last:border-b-0 hover:bg-muted/50"
      onClick={() => onOpen(saga.id)}
      data-testid="saga-row"
      data-saga={saga.id}
      data-type={saga.type}
      data-status={saga.status}
    >
      <Td className="py-3">
        <SagaStatusBadge status={saga.status} />
      </Td>
      <Td className="max-w-[22rem] py-3">
        <span className="flex flex-wrap items-center gap-2">
          <Link href={`/sagas/${saga.id}`} className="font-mono text-sm font-medium hover:text-primary hover:underline" onClick={(event) => event.stopPropagation()}>
            {saga.type}
          </Link>
          <SagaKindBadge kind={saga.kind} />
        </span>
        <p className="mt-0.5 truncate font-mono text-[11px] text-muted-foreground" title={`saga ${saga.id}${saga.subject ? `\nsubject ${saga.subject}` : ""}`}>
          {shortenId(saga.id)}
          {saga.subject ? <span> · {saga.subject}</span> : null}
        </p>
        {saga.error ? (
          <p className="mt-1 line-clamp-1 text-xs text-danger" title={saga.error.message} data-testid="saga-row-error">
            {saga.error.message}
          </p>
        ) : null}
      </Td>
      <Td className="py-3">
        <Progress saga={saga} />
      </Td>
      <Td className="py-3 text-xs whitespace-nowrap text-muted-foreground">
        <RelativeTime time={saga.startedAt} />
      </Td>
      <Td className={cn("py-3 text-right font-mono text-xs whitespace-nowrap tabular-nums", saga.endedAt === null && "text-primary")} title={saga.endedAt === null ? "Still running" : undefined}>
        {duration === null ? "—" : formatDuration(duration)}
      </Td>
      <Td className="py-3 font-mono text-[11px] text-muted-foreground" title={saga.correlationid}>
        {shortenId(saga.correlationid)}
      </Td>
    </tr>
  );
}

function useNowEvery(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export function SagasPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const paramsKey = params.toString();
  const filters = useMemo(() => filtersOf(new URLSearchParams(paramsKey)), [paramsKey]);
  const [search, setSearch] = useState(filters.correlationid);
  useEffect(() => setSearch(filters.correlationid), [filters.correlationid]);
  const pages = useCursorPages(paramsKey);
  const { cursor } = pages;

  const me = useQuery(trpc.session.me.queryOptions(undefined, { staleTime: 60_000 }));
  const canStart = Boolean(me.data && (me.data.isAdmin || me.data.scopes.includes("commands:execute")));
  const types = useQuery(trpc.sagas.types.queryOptions(undefined, { staleTime: 60_000 }));
  const [startOpen, setStartOpen] = useState(false);

  const input: ListInput = {
    limit: PAGE_SIZE,
    ...(filters.type ? { type: filters.type } : {}),
    ...(filters.status ? { status: filters.status } : {}),
    ...(filters.kind ? { kind: filters.kind } : {}),
    ...(filters.correlationid ? { correlationid: filters.correlationid } : {}),
    ...(cursor ? { cursor } : {}),
  };
  const list = useQuery(trpc.sagas.list.queryOptions(input));
  const counts = useQuery(trpc.sagas.counts.queryOptions());

  const [refresh, setRefresh] = useRefreshInterval("sagas", 2_000, ALLOWED_INTERVALS);
  const paused = refresh === 0;
  const [at, setAt] = useState<number | undefined>(undefined);
  const inputKey = JSON.stringify(input);
  // The live feed writes into the list's and the counts' caches, so a paused page keeps what it last had.
  const onData = useCallback(
    (data: { at: number; page: { items: SagaSummary[]; nextCursor: string | null }; counts: SagaCounts }) => {
      queryClient.setQueryData(trpc.sagas.list.queryKey(JSON.parse(inputKey) as ListInput), data.page);
      queryClient.setQueryData(trpc.sagas.counts.queryKey(), data.counts);
      setAt(data.at);
    },
    [queryClient, trpc, inputKey],
  );
  const live = useSubscription(trpc.sagas.live.subscriptionOptions({ ...input, intervalMs: refresh || 2_000 }, { enabled: !paused, onData }));
  const now = useNowEvery(1_000);

  const navigate = useCallback(
    (next: Partial<Filters>) => {
      const merged = { ...filters, ...next };
      const search = new URLSearchParams();
      for (const key of ["type", "status", "kind", "correlationid"] as const) if (merged[key]) search.set(key, merged[key]);
      const query = search.toString();
      router.replace(query ? `${pathname}?${query}` : pathname, { scroll: false });
    },
    [filters, pathname, router],
  );
  const onSearch = (event: FormEvent) => {
    event.preventDefault();
    navigate({ correlationid: search.trim() });
  };
  const openSaga = useCallback((id: string) => router.push(`/sagas/${id}`), [router]);

  const typeList = types.data ?? [];
  const chips = statusCounts(counts.data, typeList, filters);
  const filtered = Boolean(filters.type || filters.status || filters.kind || filters.correlationid);
  const items = list.data?.items ?? [];

  return (
    <>
      <PageHeader
        title="Sagas"
        description="Long-running processes across services: each step, its retries, and what was undone when one failed for good."
        actions={
          <>
            <RefreshControl value={refresh} onChange={setRefresh} intervals={INTERVALS} resumeTo={2_000} />
            {canStart ? (
              <Button onClick={() => setStartOpen(true)} data-testid="open-start-saga" disabled={!types.data}>
                <Play aria-hidden />
                Start saga
              </Button>
            ) : null}
          </>
        }
      />

      <div className="mb-4 space-y-3">
        <StatusChips counts={chips} value={filters.status} onChange={(status) => navigate({ status })} />
        <div className="flex flex-wrap items-center gap-2">
          <Select
            aria-label="Saga type"
            value={filters.type}
            onChange={(event) => navigate({ type: event.target.value })}
            className="w-64 font-mono text-xs"
            data-testid="saga-type-filter"
          >
            <option value="">All types</option>
            {(["orchestrated", "choreographed"] as const).map((kind) => {
              const ofKind = typeList.filter((type) => type.kind === kind);
              return ofKind.length === 0 ? null : (
                <optgroup key={kind} label={kind === "orchestrated" ? "Orchestrated" : "Choreographed"}>
                  {ofKind.map((type) => (
                    <option key={type.type} value={type.type}>
                      {type.type}
                    </option>
                  ))}
                </optgroup>
              );
            })}
          </Select>
          <Select aria-label="Kind" value={filters.kind} onChange={(event) => navigate({ kind: event.target.value as Filters["kind"] })} className="w-44 text-xs">
            <option value="">Every kind</option>
            <option value="orchestrated">Orchestrated</option>
            <option value="choreographed">Choreographed</option>
          </Select>
          <form onSubmit={onSearch} className="relative min-w-64 flex-1" role="search">
            <Search className="pointer-events-none absolute top-1/2 left-3 size-4 -translate-y-1/2 text-muted-foreground" aria-hidden />
            <Input
              aria-label="Correlation id"
              value={search}
              onChange={(event) => setSearch(event.target.value)}
              placeholder="Correlation id — press Enter"
              className="w-full pl-9 font-mono text-xs"
              data-testid="saga-correlation-filter"
            />
          </form>
          {filtered ? (
            <Button variant="ghost" size="sm" onClick={() => navigate({ type: "", status: "", kind: "", correlationid: "" })}>
              <X aria-hidden /> Clear
            </Button>
          ) : null}
        </div>
      </div>

      <div className="mb-2 flex items-center justify-between gap-3 px-1">
        <LiveStatus paused={paused} status={live.status} at={at} testId="sagas-status" />
        {cursor ? <span className="text-xs text-muted-foreground">Live updates follow this page ({pages.page}).</span> : null}
      </div>

      <Card className="overflow-hidden" data-testid="sagas-table">
        {list.isPending ? (
          <div className="space-y-2 p-5">
            {Array.from({ length: 4 }, (_, index) => (
              <Skeleton key={index} className="h-12 w-full" />
            ))}
          </div>
        ) : list.isError ? (
          <ErrorState title="Could not load the sagas" error={list.error} onRetry={() => void list.refetch()} />
        ) : items.length === 0 ? (
          filtered ? (
            <EmptyState icon={Search} title="No sagas match these filters" action={<Button variant="outline" onClick={() => navigate({ type: "", status: "", kind: "", correlationid: "" })}>Clear filters</Button>}>
              Try another status or type, or a full correlation id.
            </EmptyState>
          ) : (
            <EmptyState icon={Workflow} title="No sagas yet" action={canStart ? <Button onClick={() => setStartOpen(true)}>Start a saga</Button> : undefined}>
              Sagas start when a sheet is submitted (sheet grading), from a batch, or from here. Choreographed flows appear as their events arrive.
            </EmptyState>
          )
        ) : (
          <>
            <Table>
              <THead>
                <tr>
                  <Th>Status</Th>
                  <Th>Saga</Th>
                  <Th>Step</Th>
                  <Th>Started</Th>
                  <Th className="text-right">Duration</Th>
                  <Th>Correlation</Th>
                </tr>
              </THead>
              <tbody>
                {items.map((saga) => (
                  <SagaRow key={saga.id} saga={saga} now={now} onOpen={openSaga} />
                ))}
              </tbody>
            </Table>
            <CursorPager pages={pages} summary={`${items.length} saga${items.length === 1 ? "" : "s"}, newest first`} next={list.data?.nextCursor} testIdPrefix="sagas" />
          </>
        )}
      </Card>

      {canStart ? (
        <StartSagaDialog
          open={startOpen}
          types={typeList}
          onClose={() => setStartOpen(false)}
          onStarted={(saga) => {
            setStartOpen(false);
            openSaga(saga.id);
          }}
        />
      ) : null}
    </>
  );
}
