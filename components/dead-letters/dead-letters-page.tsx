"use client";

import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ArchiveX, ChevronRight, CircleCheck, RotateCcw, SearchX, Trash2, X } from "lucide-react";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useMemo, useState } from "react";
import { useTRPC } from "../trpc";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardHeader } from "../ui/card";
import { cn } from "../ui/cn";
import { EmptyState } from "../ui/empty-state";
import { Alert, ErrorState, errorMessage } from "../ui/error-state";
import { Field, Input } from "../ui/form";
import { Dialog, Drawer } from "../ui/overlay";
import { PageHeader } from "../ui/page-header";
import { RefreshControl, useRefreshInterval } from "../ui/refresh-control";
import { RelativeTime } from "../ui/relative-time";
import { ShortId } from "../ui/short-id";
import { Skeleton, Spinner } from "../ui/spinner";
import { Table, Td, Th, THead } from "../ui/table";
import { TypeBadge } from "../ui/type-badge";
import { DeadLetterDetail, eventSummary, type DeadLetterView } from "./dead-letter-detail";

const PAGE_SIZE = 50;
const INTERVALS = [5_000, 15_000, 60_000] as const;
const ALLOWED_INTERVALS = [0, ...INTERVALS];

interface Filters {
  subscription?: string;
  errorType?: string;
}

function describeFilters({ subscription, errorType }: Filters): string {
  if (subscription && errorType) return `${errorType} failures of ${subscription}`;
  if (errorType) return `${errorType} failures of every subscription`;
  if (subscription) return `every failure of ${subscription}`;
  return "every dead letter";
}

/** Counts by error type, each with its subscriptions: pick a group instead of typing names. */
function ErrorGroups({ filters, onPick, refresh }: { filters: Filters; onPick(filters: Filters): void; refresh: number }) {
  const trpc = useTRPC();
  const summary = useQuery(trpc.deadLetters.summary.queryOptions(undefined, { refetchInterval: refresh || false, staleTime: 0 }));
  if (summary.isPending) return <Skeleton className="mb-5 h-24 w-full" />;
  if (summary.isError) return <Alert className="mb-5">Could not load the error groups: {errorMessage(summary.error)}</Alert>;
  const { total, byErrorType } = summary.data;
  if (total === 0) return null;
  const none = !filters.subscription && !filters.errorType;
  return (
    <div className="mb-5 grid gap-3 sm:grid-cols-2 xl:grid-cols-4" data-testid="error-groups">
      <button
        type="button"
        onClick={() => onPick({})}
        aria-pressed={none}
        className={cn(
          "flex cursor-pointer flex-col items-start rounded-xl border bg-card px-4 py-3 text-left shadow-xs transition-colors hover:border-primary/40",
          none ? "border-primary ring-2 ring-primary/15" : "border-border",
        )}
      >
        <span className="text-xs font-medium tracking-wide text-muted-foreground uppercase">All error types</span>
        <span className="mt-1 text-2xl font-semibold tabular-nums">{total.toLocaleString()}</span>
        <span className="mt-0.5 text-xs text-muted-foreground">
          {byErrorType.length} error type{byErrorType.length === 1 ? "" : "s"}
        </span>
      </button>
      {byErrorType.map((group) => {
        const active = filters.errorType === group.errorType;
        return (
          <div
            key={group.errorType}
            data-testid="error-group"
            data-error-type={group.errorType}
            className={cn("rounded-xl border bg-card px-4 py-3 shadow-xs transition-colors", active ? "border-danger/60 ring-2 ring-danger/15" : "border-border")}
          >
            <button type="button" onClick={() => onPick({ errorType: group.errorType })} className="flex w-full cursor-pointer items-start justify-between gap-2 text-left" aria-pressed={active && !filters.subscription}>
              <span className="min-w-0">
                <span className="block truncate font-mono text-sm font-medium text-danger" title={group.errorType}>
                  {group.errorType}
                </span>
                <span className="mt-1 block text-2xl font-semibold tabular-nums" data-testid="error-group-count">
                  {group.count.toLocaleString()}
                </span>
              </span>
              <ArchiveX className="mt-0.5 size-4 shrink-0 text-muted-foreground" aria-hidden />
            </button>
            <div className="mt-2 flex flex-wrap gap-1">
              {group.subscriptions.map((entry) => {
                const picked = active && filters.subscription === entry.subscription;
                return (
                  <button
                    key={entry.subscription}
                    type="button"
                    onClick={() => onPick({ errorType: group.errorType, subscription: entry.subscription })}
                    aria-pressed={picked}
                    data-testid="error-group-subscription"
                    title={`Only ${group.errorType} failures of ${entry.subscription}`}
                    className={cn(
                      "inline-flex cursor-pointer items-center gap-1.5 rounded-md px-2 py-0.5 text-xs ring-1 ring-inset transition-colors",
                      picked ? "bg-danger-soft text-danger ring-danger/30" : "bg-muted text-foreground ring-border hover:bg-border/60",
                    )}
                  >
                    <span className="font-mono">{entry.subscription}</span>
                    <span className="font-semibold tabular-nums">{entry.count.toLocaleString()}</span>
                  </button>
                );
              })}
            </div>
          </div>
        );
      })}
    </div>
  );
}

type BulkAction = "redrive" | "delete";

/** Redrive or delete every dead letter matching the filters: a dry-run count first, then confirm. */
function BulkDialog({ action, filters, onClose, onDone }: { action: BulkAction | null; filters: Filters; onClose(): void; onDone(message: string): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [rate, setRate] = useState("");
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.deadLetters.pathKey() });
  const countMatching = useQuery(trpc.deadLetters.countMatching.queryOptions(filters, { enabled: action !== null, staleTime: 0, gcTime: 0 }));
  const redrive = useMutation(trpc.deadLetters.redriveMatching.mutationOptions({ onSuccess: () => void invalidate() }));
  const remove = useMutation(trpc.deadLetters.deleteMatching.mutationOptions({ onSuccess: () => void invalidate() }));
  const rateNumber = rate.trim() === "" ? undefined : Number(rate);
  const rateInvalid = rateNumber !== undefined && !(rateNumber > 0 && rateNumber <= 10_000);
  const matched = countMatching.data?.matched;
  const pending = redrive.isPending || remove.isPending;
  const error = countMatching.error ?? redrive.error ?? remove.error;

  function close() {
    setRate("");
    redrive.reset();
    remove.reset();
    onClose();
  }

  async function confirm() {
    if (action === "redrive") {
      const result = await redrive.mutateAsync({ ...filters, dryRun: false, ...(rateNumber !== undefined ? { ratePerSecond: rateNumber } : {}) });
      onDone(`Redriving ${result.matched.toLocaleString()} dead letter${result.matched === 1 ? "" : "s"}${rateNumber ? ` at ${rateNumber}/s` : ""}: each leaves this list when it is back in its subscription's queue.`);
    } else {
      const result = await remove.mutateAsync({ ...filters, dryRun: false });
      onDone(`Deleted ${result.deleted.toLocaleString()} dead letter${result.deleted === 1 ? "" : "s"}.`);
    }
    close();
  }

  const verb = action === "redrive" ? "Redrive" : "Delete";
  return (
    <Dialog
      open={action !== null}
      onClose={close}
      title={action === "redrive" ? "Redrive dead letters" : "Delete dead letters"}
      description={action === "redrive" ? "Put them back into their subscriptions' queues, attempt 1. Fix the cause first, or they fail again." : "Discard them for good: they will not be processed."}
      footer={
        <>
          <Button variant="ghost" onClick={close}>
            Cancel
          </Button>
          <Button
            variant={action === "delete" ? "danger" : "primary"}
            onClick={() => void confirm().catch(() => undefined)}
            disabled={matched === undefined || matched === 0 || pending || rateInvalid}
            data-testid="bulk-confirm"
          >
            {pending ? `${verb === "Redrive" ? "Redriving" : "Deleting"}…` : matched === undefined ? verb : `${verb} ${matched.toLocaleString()}`}
          </Button>
        </>
      }
    >
      <div className="space-y-4">
        <div className="rounded-lg border border-border bg-muted/50 px-4 py-3" data-testid="bulk-dry-run">
          <p className="text-xs font-medium text-muted-foreground">Dry run · {describeFilters(filters)}</p>
          {countMatching.isPending ? (
            <Spinner className="mt-1" label="Counting…" />
          ) : matched !== undefined ? (
            <p className="mt-0.5 text-sm">
              <span className="text-lg font-semibold tabular-nums" data-testid="bulk-matched">
                {matched.toLocaleString()}
              </span>{" "}
              dead letter{matched === 1 ? "" : "s"} match{matched === 1 ? "es" : ""} now.
            </p>
          ) : null}
        </div>
        {action === "redrive" ? (
          <Field label="Rate (per second)" htmlFor="bulk-rate" hint="Spread a large redrive out so a recovering dependency is not flooded. Empty: as fast as possible." error={rateInvalid ? "Between 0 and 10,000" : undefined}>
            <Input id="bulk-rate" inputMode="decimal" value={rate} onChange={(event) => setRate(event.target.value)} placeholder="No limit" className="w-40" aria-invalid={rateInvalid || undefined} />
          </Field>
        ) : null}
        {error ? <Alert>{errorMessage(error)}</Alert> : null}
      </div>
    </Dialog>
  );
}

function ConfirmDelete({ letter, onClose, onDeleted }: { letter: DeadLetterView | null; onClose(): void; onDeleted(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const remove = useMutation(
    trpc.deadLetters.delete.mutationOptions({
      onSuccess: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.deadLetters.pathKey() });
        onDeleted();
      },
    }),
  );
  const summary = letter ? eventSummary(letter) : null;
  return (
    <Dialog
      open={letter !== null}
      onClose={() => {
        remove.reset();
        onClose();
      }}
      title="Delete this dead letter?"
      description="The message is discarded for good: it will not be processed. The event stays in the log."
      footer={
        <>
          <Button variant="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button variant="danger" onClick={() => letter && remove.mutate({ id: letter.id })} disabled={remove.isPending} data-testid="confirm-delete">
            {remove.isPending ? "Deleting…" : "Delete"}
          </Button>
        </>
      }
    >
      {summary && letter ? (
        <div className="space-y-3">
          <div className="flex flex-wrap items-center gap-2 text-sm">
            {summary.type ? <TypeBadge type={summary.type} /> : null}
            <span className="font-mono text-xs">{summary.id}</span>
            <span className="text-muted-foreground">for</span>
            <span className="font-mono text-xs">{letter.subscription}</span>
          </div>
          {remove.error ? <Alert>{errorMessage(remove.error)}</Alert> : null}
        </div>
      ) : null}
    </Dialog>
  );
}

export function DeadLettersPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const me = useQuery(trpc.session.me.queryOptions(undefined, { staleTime: 60_000 }));
  const isAdmin = me.data?.isAdmin ?? false;
  const filters = useMemo<Filters>(() => {
    const value: Filters = {};
    const subscription = params.get("subscription");
    const errorType = params.get("errorType");
    if (subscription) value.subscription = subscription;
    if (errorType) value.errorType = errorType;
    return value;
  }, [params]);
  const [refresh, setRefresh] = useRefreshInterval("dead-letters", 5_000, ALLOWED_INTERVALS);
  const [selected, setSelected] = useState<DeadLetterView | null>(null);
  const [bulk, setBulk] = useState<BulkAction | null>(null);
  const [deleting, setDeleting] = useState<DeadLetterView | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const setFilters = useCallback(
    (next: Filters) => {
      const search = new URLSearchParams();
      if (next.subscription) search.set("subscription", next.subscription);
      if (next.errorType) search.set("errorType", next.errorType);
      const query = search.toString();
      router.replace(query ? `${pathname}?${query}` : pathname, { scroll: false });
    },
    [pathname, router],
  );

  const list = useInfiniteQuery(
    trpc.deadLetters.list.infiniteQueryOptions(
      { ...filters, limit: PAGE_SIZE },
      { getNextPageParam: (page) => page.next ?? undefined, refetchInterval: refresh || false, staleTime: 0 },
    ),
  );
  const items = useMemo(() => list.data?.pages.flatMap((page) => page.items) ?? [], [list.data]);
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.deadLetters.pathKey() });

  const redriveOne = useMutation(
    trpc.deadLetters.redrive.mutationOptions({
      onSuccess: (result) => {
        setNotice(`Redriven: the message is back in ${result.subscription}'s queue.`);
        setSelected(null);
        void invalidate();
        void queryClient.invalidateQueries({ queryKey: trpc.queues.pathKey() });
      },
    }),
  );

  const filtered = Boolean(filters.subscription || filters.errorType);

  return (
    <>
      <PageHeader
        title="Dead letters"
        description="Deliveries that failed every retry, grouped by why: fix the cause, then redrive or discard."
        actions={
          <>
            {isAdmin ? (
              <>
                <Button variant="outline" onClick={() => setBulk("delete")} disabled={items.length === 0} data-testid="bulk-delete">
                  <Trash2 aria-hidden />
                  {filtered ? "Delete filtered" : "Delete all"}
                </Button>
                <Button onClick={() => setBulk("redrive")} disabled={items.length === 0} data-testid="bulk-redrive">
                  <RotateCcw aria-hidden />
                  {filtered ? "Redrive filtered" : "Redrive all"}
                </Button>
              </>
            ) : null}
          </>
        }
      />

      <ErrorGroups filters={filters} onPick={setFilters} refresh={refresh} />

      {notice ? (
        <div className="mb-4 flex items-start justify-between gap-3 rounded-lg border border-emerald-200 bg-emerald-50 px-3.5 py-2.5 text-sm text-emerald-800 dark:border-emerald-500/25 dark:bg-emerald-500/10 dark:text-emerald-200" role="status" data-testid="dead-letters-notice">
          <span className="inline-flex items-center gap-2">
            <CircleCheck className="size-4 shrink-0" aria-hidden />
            {notice}
          </span>
          <button type="button" onClick={() => setNotice(null)} aria-label="Dismiss" className="cursor-pointer opacity-70 hover:opacity-100">
            <X className="size-4" aria-hidden />
          </button>
        </div>
      ) : null}
      {redriveOne.error ? <Alert className="mb-4">Redrive failed: {errorMessage(redriveOne.error)}</Alert> : null}

      <Card className="overflow-hidden" data-testid="dead-letters-table">
        <CardHeader
          title={filtered ? "Matching dead letters" : "All dead letters"}
          description={filtered ? `Showing ${describeFilters(filters)}` : "Oldest failure first"}
          actions={
            <div className="flex flex-wrap items-center gap-1.5">
              {filtered ? (
                <>
                  {filters.errorType ? (
                    <Badge tone="danger" className="font-mono">
                      {filters.errorType}
                    </Badge>
                  ) : null}
                  {filters.subscription ? <Badge className="font-mono">{filters.subscription}</Badge> : null}
                  <Button variant="ghost" size="xs" onClick={() => setFilters({})} data-testid="clear-filters">
                    <X aria-hidden />
                    Clear
                  </Button>
                  <span className="mx-1 h-5 w-px bg-border" aria-hidden />
                </>
              ) : null}
              <RefreshControl value={refresh} onChange={setRefresh} intervals={INTERVALS} resumeTo={5_000} className="h-8" />
            </div>
          }
        />
        {list.isPending ? (
          <div className="space-y-2 p-5">
            {Array.from({ length: 4 }, (_, index) => (
              <Skeleton key={index} className="h-10 w-full" />
            ))}
          </div>
        ) : list.isError ? (
          <ErrorState title="Could not load the dead letters" error={list.error} onRetry={() => void list.refetch()} />
        ) : items.length === 0 ? (
          filtered ? (
            <EmptyState icon={SearchX} title="None match" action={<Button variant="outline" size="sm" onClick={() => setFilters({})}>Show all</Button>}>
              No dead letters are {describeFilters(filters)} right now.
            </EmptyState>
          ) : (
            <EmptyState icon={ArchiveX} title="No dead letters">
              Every delivery either succeeded or is still being retried. Messages that fail every retry land here with the reason.
            </EmptyState>
          )
        ) : (
          <>
            <Table className="table-fixed">
              <colgroup>
                <col className="w-40" />
                <col className="w-28" />
                <col className="w-28" />
                <col />
                <col className="w-24" />
                <col className="w-28" />
                <col className="w-28" />
                <col className={isAdmin ? "w-20" : "w-10"} />
              </colgroup>
              <THead>
                <tr>
                  <Th>Event type</Th>
                  <Th className="px-3!">Event id</Th>
                  <Th className="px-3!">Subscription</Th>
                  <Th className="px-3!">Error</Th>
                  <Th className="px-3! text-right">Attempts</Th>
                  <Th className="px-3!">First failed</Th>
                  <Th className="px-3!">Last failed</Th>
                  <Th className="px-3!">
                    <span className="sr-only">Actions</span>
                  </Th>
                </tr>
              </THead>
              <tbody>
                {items.map((letter) => {
                  const summary = eventSummary(letter);
                  return (
                    <tr
                      key={letter.id}
                      data-testid="dead-letter-row"
                      data-dead-letter-id={letter.id}
                      data-event-id={summary.id}
                      data-error-type={letter.error.type}
                      tabIndex={0}
                      onClick={() => setSelected(letter)}
                      onKeyDown={(event) => {
                        if (event.key === "Enter" || event.key === " ") {
                          event.preventDefault();
                          setSelected(letter);
                        }
                      }}
                      aria-selected={selected?.id === letter.id}
                      className={cn(
                        "group cursor-pointer border-b border-border transition-colors last:border-b-0 hover:bg-muted/60 focus-visible:bg-muted/60 focus-visible:outline-none",
                        selected?.id === letter.id && "bg-accent/60",
                      )}
                    >
                      <Td>{summary.type ? <TypeBadge type={summary.type} /> : <Badge tone="danger">undecodable</Badge>}</Td>
                      <Td className="px-3!">
                        <ShortId id={summary.id} />
                      </Td>
                      <Td className="truncate px-3! font-mono text-xs">{letter.subscription}</Td>
                      <Td className="px-3! py-2">
                        <Badge tone="danger" className="font-mono">
                          {letter.error.type}
                        </Badge>
                        <p className="mt-0.5 line-clamp-2 text-xs break-all text-muted-foreground" title={letter.error.message}>
                          {letter.error.message}
                        </p>
                      </Td>
                      <Td className="px-3! text-right font-mono text-xs tabular-nums">{letter.attempts}</Td>
                      <Td className="px-3! text-xs whitespace-nowrap text-muted-foreground">
                        <RelativeTime time={letter.firstFailedAt} />
                      </Td>
                      <Td className="px-3! text-xs whitespace-nowrap text-muted-foreground">
                        <RelativeTime time={letter.lastFailedAt} />
                      </Td>
                      <Td className="px-3! text-right">
                        {isAdmin ? (
                          <span className="inline-flex items-center gap-0.5">
                            <button
                              type="button"
                              title="Redrive"
                              aria-label={`Redrive ${summary.id}`}
                              disabled={redriveOne.isPending}
                              onClick={(event) => {
                                event.stopPropagation();
                                redriveOne.mutate({ id: letter.id });
                              }}
                              className="inline-flex size-7 cursor-pointer items-center justify-center rounded-md text-muted-foreground hover:bg-accent hover:text-accent-foreground disabled:opacity-50"
                            >
                              <RotateCcw className="size-3.5" aria-hidden />
                            </button>
                            <button
                              type="button"
                              title="Delete"
                              aria-label={`Delete ${summary.id}`}
                              onClick={(event) => {
                                event.stopPropagation();
                                setDeleting(letter);
                              }}
                              className="inline-flex size-7 cursor-pointer items-center justify-center rounded-md text-muted-foreground hover:bg-danger-soft hover:text-danger"
                            >
                              <Trash2 className="size-3.5" aria-hidden />
                            </button>
                          </span>
                        ) : (
                          <ChevronRight className="ml-auto size-4 text-muted-foreground/60" aria-hidden />
                        )}
                      </Td>
                    </tr>
                  );
                })}
              </tbody>
            </Table>
            <div className="flex items-center justify-between gap-3 border-t border-border px-5 py-3 text-xs text-muted-foreground">
              <span>
                {items.length.toLocaleString()} shown{list.isFetching && !list.isFetchingNextPage ? " · refreshing…" : ""}
              </span>
              {list.hasNextPage ? (
                <Button variant="outline" size="sm" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
                  {list.isFetchingNextPage ? "Loading…" : "Load more"}
                </Button>
              ) : null}
            </div>
          </>
        )}
      </Card>

      <Drawer
        open={selected !== null}
        onClose={() => setSelected(null)}
        title="Dead letter"
        actions={
          selected && isAdmin ? (
            <>
              <Button size="sm" onClick={() => redriveOne.mutate({ id: selected.id })} disabled={redriveOne.isPending} data-testid="detail-redrive">
                <RotateCcw aria-hidden />
                {redriveOne.isPending ? "Redriving…" : "Redrive"}
              </Button>
              <Button size="sm" variant="danger-ghost" onClick={() => setDeleting(selected)} data-testid="detail-delete">
                <Trash2 aria-hidden />
                Delete
              </Button>
            </>
          ) : null
        }
      >
        <div className="p-5">{selected ? <DeadLetterDetail key={selected.id} id={selected.id} initial={selected} /> : null}</div>
      </Drawer>

      <ConfirmDelete
        letter={deleting}
        onClose={() => setDeleting(null)}
        onDeleted={() => {
          setNotice("Deleted: the message will not be processed.");
          setDeleting(null);
          setSelected(null);
        }}
      />
      <BulkDialog action={bulk} filters={filters} onClose={() => setBulk(null)} onDone={setNotice} />
    </>
  );
}
