"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ArrowLeft, History, KeyRound, ListOrdered, Pencil, PlayCircle, PauseCircle, ScrollText, Send, Trash2 } from "lucide-react";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState, type ReactNode } from "react";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { CursorPager, useCursorPages } from "../ui/cursor-pager";
import { Card, CardHeader } from "../ui/card";
import { cn } from "../ui/cn";
import { CopyButton } from "../ui/copy-button";
import { EmptyState } from "../ui/empty-state";
import { Alert, errorMessage, ErrorState } from "../ui/error-state";
import { Stat } from "../ui/live-figures";
import { PageHeader } from "../ui/page-header";
import { DetailStates } from "../ui/query-states";
import { RelativeTime } from "../ui/relative-time";
import { ShortId } from "../ui/short-id";
import { Skeleton } from "../ui/spinner";
import { Table, Td, Th, THead } from "../ui/table";
import { TypeBadge } from "../ui/type-badge";
import { ActionsMenu } from "./actions-menu";
import { AttemptViewer } from "./attempt-viewer";
import { EndpointActionDialogs, type EndpointAction } from "./endpoint-actions";
import { EndpointFormDrawer } from "./endpoint-form";
import type { AttemptSummary, EndpointWithStats } from "./types";
import { AttemptStatusBadge, disabledExplanation, EndpointStatusBadge, HttpStatus, OutcomeStrip, TriggerBadge } from "./webhook-badges";
import { formatLatency, formatPercent, healthOf } from "./webhook-model";

const PAGE_SIZE = 25;
type StatusFilter = "" | "succeeded" | "failed";

function Setting({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="grid gap-1 py-2.5 sm:grid-cols-[9rem_minmax(0,1fr)] sm:gap-4">
      <dt className="text-xs font-medium text-muted-foreground">{label}</dt>
      <dd className="min-w-0 text-sm">{children}</dd>
    </div>
  );
}

function Settings({ endpoint, onRotate }: { endpoint: EndpointWithStats; onRotate(): void }) {
  const headers = Object.entries(endpoint.headers);
  const [current, ...previous] = endpoint.secrets;
  return (
    <Card>
      <CardHeader title="Settings" />
      <dl className="grid px-5 py-1.5 2xl:grid-cols-1 lg:grid-cols-2 lg:gap-x-8 [&>div]:border-b [&>div]:border-border [&>div:last-child]:border-b-0" data-testid="endpoint-settings">
        <Setting label="Event types">
          <div className="flex flex-wrap gap-1">
            {endpoint.eventTypes.map((pattern) =>
              pattern.includes("*") ? (
                <span key={pattern} className="rounded-md border border-border bg-muted/50 px-1.5 py-0.5 font-mono text-[11px]">
                  {pattern}
                </span>
              ) : (
                <TypeBadge key={pattern} type={pattern} />
              ),
            )}
          </div>
        </Setting>
        <Setting label="Filter">
          {endpoint.filter ? <code className="block rounded-md bg-muted/60 px-2 py-1 font-mono text-xs break-all">{endpoint.filter}</code> : <span className="text-muted-foreground">Every event of these types</span>}
        </Setting>
        <Setting label="Custom headers">
          {headers.length === 0 ? (
            <span className="text-muted-foreground">None</span>
          ) : (
            <ul className="space-y-0.5 font-mono text-xs">
              {headers.map(([name, value]) => (
                <li key={name} className="truncate">
                  <span className="text-muted-foreground">{name}:</span> {value}
                </li>
              ))}
            </ul>
          )}
        </Setting>
        <Setting label="Rate limit">{endpoint.rateLimitPerSecond === null ? <span className="text-muted-foreground">No limit</span> : `${endpoint.rateLimitPerSecond.toLocaleString()} per second`}</Setting>
        <Setting label="Order">
          {endpoint.orderedByKey ? (
            <span className="inline-flex items-center gap-1.5">
              <ListOrdered className="size-3.5 text-muted-foreground" aria-hidden /> In order per partition key
            </span>
          ) : (
            <span className="text-muted-foreground">Any order (fastest)</span>
          )}
        </Setting>
        <Setting label="Signing secret">
          <div className="flex flex-wrap items-center justify-between gap-2">
            <span className="text-xs text-muted-foreground">
              {current ? (
                <>
                  <span className="font-mono text-foreground">whsec_••••••••</span> created <RelativeTime time={current.createdAt} />
                </>
              ) : null}
              {previous.map((secret) => (
                <span key={secret.createdAt} className="block" data-testid="previous-secret">
                  Previous secret still signing until {secret.expiresAt ? <RelativeTime time={secret.expiresAt} /> : "—"}
                </span>
              ))}
            </span>
            <Button variant="outline" size="xs" onClick={onRotate} data-testid="rotate-secret">
              <KeyRound aria-hidden /> Rotate
            </Button>
          </div>
        </Setting>
        <Setting label="Created">
          <span className="text-xs text-muted-foreground">
            <RelativeTime time={endpoint.createdAt} /> by{" "}
            <span className="inline-block max-w-40 truncate align-bottom font-mono" title={endpoint.createdBy}>
              {endpoint.createdBy}
            </span>{" "}
            · updated <RelativeTime time={endpoint.updatedAt} />
          </span>
        </Setting>
      </dl>
    </Card>
  );
}

function AttemptsLog({ endpointId, onOpen, selected }: { endpointId: string; onOpen(id: string): void; selected: string | null }) {
  const trpc = useTRPC();
  const [status, setStatus] = useState<StatusFilter>("");
  const pages = useCursorPages(status);
  const { cursor } = pages;
  const attempts = useQuery(
    trpc.webhooks.attempts.queryOptions(
      { endpointId, limit: PAGE_SIZE, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) },
      // The newest page follows new attempts; older pages hold still.
      { refetchInterval: cursor ? false : 3_000 },
    ),
  );
  const items = attempts.data?.items ?? [];
  const filters: Array<{ value: StatusFilter; label: string }> = [
    { value: "", label: "All" },
    { value: "succeeded", label: "Succeeded" },
    { value: "failed", label: "Failed" },
  ];
  return (
    <Card className="overflow-hidden" data-testid="attempts-log">
      <CardHeader
        title="Attempts"
        description="Every request made to this endpoint, newest first. Open one to see its request and response."
        actions={
          <div className="flex h-8 items-center gap-0.5 rounded-lg border border-border bg-muted/50 p-0.5" role="group" aria-label="Filter by status">
            {filters.map((filter) => (
              <button
                key={filter.value || "all"}
                type="button"
                onClick={() => setStatus(filter.value)}
                aria-pressed={status === filter.value}
                data-testid="attempt-filter"
                data-status={filter.value || "all"}
                className={cn(
                  "h-full cursor-pointer rounded-md px-2.5 text-xs font-medium transition-colors",
                  status === filter.value ? "bg-card text-foreground shadow-xs" : "text-muted-foreground hover:text-foreground",
                )}
              >
                {filter.label}
              </button>
            ))}
          </div>
        }
      />
      {attempts.isPending ? (
        <div className="space-y-2 p-5">
          {Array.from({ length: 4 }, (_, index) => (
            <Skeleton key={index} className="h-9 w-full" />
          ))}
        </div>
      ) : attempts.isError ? (
        <ErrorState title="Could not load the attempts" error={attempts.error} onRetry={() => void attempts.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState icon={ScrollText} title={status ? `No ${status} attempts` : "No attempts yet"}>
          {status ? "Try another status." : "Attempts appear here as events of the endpoint's types arrive, or when you send a test."}
        </EmptyState>
      ) : (
        <>
          <Table>
            <THead>
              <tr>
                <Th>Time</Th>
                <Th>Event</Th>
                <Th>Attempt</Th>
                <Th>Status</Th>
                <Th>HTTP</Th>
                <Th className="text-right">Duration</Th>
                <Th>Next attempt</Th>
              </tr>
            </THead>
            <tbody>
              {items.map((attempt) => (
                <AttemptRow key={attempt.id} attempt={attempt} onOpen={onOpen} selected={attempt.id === selected} />
              ))}
            </tbody>
          </Table>
          <CursorPager pages={pages} summary={`${items.length} attempt${items.length === 1 ? "" : "s"}`} next={attempts.data?.next} testIdPrefix="attempts" />
        </>
      )}
    </Card>
  );
}

function AttemptRow({ attempt, onOpen, selected }: { attempt: AttemptSummary; onOpen(id: string): void; selected: boolean }) {
  return (
    <tr
      className={cn("cursor-pointer border-b border-border transition-colors last:border-b-0 hover:bg-muted/50", selected && "bg-accent/50")}
      onClick={() => onOpen(attempt.id)}
      data-testid="attempt-row"
      data-attempt={attempt.id}
      data-event={attempt.eventId}
      data-status={attempt.status}
      data-http={attempt.responseStatus ?? ""}
    >
      <Td className="text-xs whitespace-nowrap text-muted-foreground">
        <RelativeTime time={attempt.createdAt} />
      </Td>
      <Td>
        <div className="flex items-center gap-2">
          <TypeBadge type={attempt.eventType} />
          {attempt.trigger === "test" ? (
            <span className="font-mono text-[11px] text-muted-foreground">{attempt.eventId.replace(/-/g, "").slice(-8)}</span>
          ) : (
            <Link href={`/events/${attempt.eventId}`} className="font-mono text-[11px] text-muted-foreground hover:text-primary hover:underline" onClick={(event) => event.stopPropagation()} title={attempt.eventId}>
              {attempt.eventId.replace(/-/g, "").slice(-8)}
            </Link>
          )}
        </div>
      </Td>
      <Td className="text-xs whitespace-nowrap">
        <span className="tabular-nums">#{attempt.attempt}</span> <TriggerBadge trigger={attempt.trigger} />
      </Td>
      <Td>
        <AttemptStatusBadge status={attempt.status} />
      </Td>
      <Td>
        <HttpStatus status={attempt.responseStatus} />
        {attempt.error && attempt.responseStatus === null ? (
          <span className="ml-2 inline-block max-w-48 truncate align-middle text-xs text-danger" title={attempt.error}>
            {attempt.error}
          </span>
        ) : null}
      </Td>
      <Td className="text-right font-mono text-xs whitespace-nowrap tabular-nums">{formatLatency(attempt.durationMs)}</Td>
      <Td className="text-xs whitespace-nowrap text-muted-foreground">{attempt.nextAttemptAt ? <RelativeTime time={attempt.nextAttemptAt} /> : "—"}</Td>
    </tr>
  );
}

function Health({ endpoint }: { endpoint: EndpointWithStats }) {
  const trpc = useTRPC();
  const { stats } = endpoint;
  const health = healthOf(endpoint, stats);
  // The newest attempts for the outcome strip (the same query as the log's first page: shared cache).
  const recent = useQuery(trpc.webhooks.attempts.queryOptions({ endpointId: endpoint.id, limit: PAGE_SIZE }, { refetchInterval: 3_000 }));
  return (
    <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4" data-testid="endpoint-health" data-health={health}>
      <Stat
        label="Success (24 h)"
        value={<span className={cn(health === "failing" && "text-danger", health === "degraded" && "text-amber-600 dark:text-amber-400")}>{formatPercent(stats.successRate)}</span>}
        hint={`${stats.attempts.toLocaleString()} attempt${stats.attempts === 1 ? "" : "s"}`}
      />
      <Stat label="p95 latency" value={formatLatency(stats.p95LatencyMs)} hint="Over the last 24 hours" />
      <Stat
        label="Queue"
        value={stats.pending.toLocaleString()}
        hint={[stats.skipped > 0 ? `${stats.skipped.toLocaleString()} skipped` : null, stats.failed > 0 ? `${stats.failed.toLocaleString()} failed` : null].filter(Boolean).join(" · ") || "Nothing failed or skipped"}
      />
      <Card className="px-4 py-3.5">
        <p className="flex items-center justify-between text-xs font-medium tracking-wide text-muted-foreground uppercase">
          Last attempts
          <HttpStatus status={stats.lastStatus} />
        </p>
        {recent.data && recent.data.items.length > 0 ? (
          <OutcomeStrip attempts={recent.data.items} className="mt-2" />
        ) : (
          <p className="mt-2 text-xs text-muted-foreground">None yet</p>
        )}
      </Card>
    </div>
  );
}

export function EndpointDetailPage({ id }: { id: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const selected = params.get("attempt");
  const endpoint = useQuery(trpc.webhooks.get.queryOptions({ id }, { refetchInterval: 5_000 }));
  const [editing, setEditing] = useState(false);
  const [action, setAction] = useState<EndpointAction | null>(null);
  const enable = useMutation(trpc.webhooks.setEnabled.mutationOptions({ onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.webhooks.pathKey() }) }));
  const openAttempt = (attemptId: string | null) => router.replace(attemptId ? `${pathname}?attempt=${attemptId}` : pathname, { scroll: false });

  return (
    <>
      <Link href="/webhooks" className="mb-4 inline-flex items-center gap-1.5 text-sm text-muted-foreground hover:text-foreground">
        <ArrowLeft className="size-4" aria-hidden /> Webhooks
      </Link>
      <DetailStates
        query={endpoint}
        placeholders={["h-14 w-2/3", "h-24", "h-72"]}
        notFound={{ title: "No such endpoint", children: <Link href="/webhooks" className="text-primary hover:underline">Back to the endpoints</Link> }}
        errorTitle="Could not load the endpoint"
      >
        {(record) => (
          <div className="space-y-5" data-testid="endpoint-detail" data-endpoint={record.id}>
            <PageHeader
              className="mb-0"
              title={
                <span className="inline-flex max-w-full items-center gap-2">
                  <span className="truncate font-mono text-lg" title={record.url} data-testid="endpoint-url">
                    {record.url}
                  </span>
                  <CopyButton value={record.url} label="Copy URL" />
                  <EndpointStatusBadge endpoint={record} />
                </span>
              }
              description={
                <span className="inline-flex flex-wrap items-center gap-x-2">
                  {record.description || "No description"}
                  <span className="text-muted-foreground/60">·</span>
                  <span className="inline-flex items-center gap-1 text-xs">
                    id <ShortId id={record.id} />
                  </span>
                </span>
              }
              actions={
                <>
                  <Button variant="outline" onClick={() => setAction("test")} data-testid="send-test">
                    <Send aria-hidden /> Send test
                  </Button>
                  <Button variant="outline" onClick={() => setEditing(true)} data-testid="edit-endpoint">
                    <Pencil aria-hidden /> Edit
                  </Button>
                  {record.status === "enabled" ? (
                    <Button variant="outline" onClick={() => setAction("disable")} data-testid="disable-endpoint">
                      <PauseCircle aria-hidden /> Disable
                    </Button>
                  ) : (
                    <Button onClick={() => enable.mutate({ id: record.id, enabled: true })} disabled={enable.isPending} data-testid="enable-endpoint">
                      <PlayCircle aria-hidden /> Enable
                    </Button>
                  )}
                  <ActionsMenu
                    label="More actions"
                    items={[
                      { label: "Recover failed", icon: History, onSelect: () => setAction("recover"), testId: "action-recover" },
                      { label: "Rotate secret", icon: KeyRound, onSelect: () => setAction("rotate"), testId: "action-rotate" },
                      "separator",
                      { label: "Delete", icon: Trash2, onSelect: () => setAction("delete"), danger: true, testId: "action-delete" },
                    ]}
                  />
                </>
              }
            />
            {record.status === "disabled" ? (
              <Alert tone={record.disabledReason === "manual" ? "info" : "danger"} title={`Disabled: ${disabledExplanation(record.disabledReason)}`}>
                No deliveries are attempted. Events that arrive meanwhile are kept ({record.stats.skipped.toLocaleString()} skipped so far) and caught up, throttled, when it is enabled again.
              </Alert>
            ) : record.failingSince ? (
              <Alert tone="warning" title="Failing">
                Every attempt has failed since <RelativeTime time={record.failingSince} />. The endpoint is disabled automatically once it has failed continuously for the auto-disable period.
              </Alert>
            ) : null}
            {enable.isError ? <Alert>{errorMessage(enable.error)}</Alert> : null}
            <Health endpoint={record} />
            {/* Side by side only where the attempts table keeps all its columns. */}
            <div className="grid items-start gap-5 2xl:grid-cols-[minmax(0,1fr)_26rem]">
              <AttemptsLog endpointId={record.id} onOpen={openAttempt} selected={selected} />
              <Settings endpoint={record} onRotate={() => setAction("rotate")} />
            </div>
            <EndpointFormDrawer open={editing} endpoint={record} onClose={() => setEditing(false)} onCreated={() => setEditing(false)} onSaved={() => setEditing(false)} />
            <EndpointActionDialogs
              endpoint={record}
              action={action}
              onClose={() => setAction(null)}
              onDeleted={() => router.replace("/webhooks")}
              onOpenAttempt={(attempt) => {
                setAction(null);
                openAttempt(attempt.id);
              }}
            />
          </div>
        )}
      </DetailStates>
      <AttemptViewer attemptId={selected} onClose={() => openAttempt(null)} onResent={() => void queryClient.invalidateQueries({ queryKey: trpc.webhooks.attempts.pathKey() })} />
    </>
  );
}
