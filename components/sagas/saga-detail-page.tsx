"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { AlarmClock, ArrowLeft, Ban, CornerLeftUp, LoaderCircle, RotateCcw, Search } from "lucide-react";
import Link from "next/link";
import { useCallback, useEffect, useState, type ReactNode } from "react";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { Card, CardHeader } from "../ui/card";
import { cn } from "../ui/cn";
import { CopyButton } from "../ui/copy-button";
import { Alert, errorMessage } from "../ui/error-state";
import { Field, Input } from "../ui/form";
import { JsonView } from "../ui/json-view";
import { LiveStatus } from "../ui/live-figures";
import { Dialog } from "../ui/overlay";
import { DetailStates } from "../ui/query-states";
import { formatExact, RelativeTime } from "../ui/relative-time";
import { ShortId } from "../ui/short-id";
import { Table, Td, Th, THead, Tr } from "../ui/table";
import { Tabs } from "../ui/tabs";
import { SagaKindBadge, SagaStatusBadge, sagaStatusLook, StepStatusBadge } from "./saga-badges";
import { SagaTimeline, type StepSelection } from "./saga-timeline";
import { StepPanel } from "./step-panel";
import { durationBetween, formatDuration } from "./timeline-model";
import type { SagaDetail, SagaStep } from "./types";

const ACTIVE = new Set(["running", "compensating"]);

/** Date.now(), again every `intervalMs` while `active` (running bars grow; ended sagas hold still). */
function useClock(active: boolean, intervalMs = 1_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    setNow(Date.now());
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [active, intervalMs]);
  return now;
}

function Fact({ label, children, className }: { label: string; children: ReactNode; className?: string }) {
  return (
    <div className={cn("min-w-0", className)}>
      <dt className="text-[11px] font-medium tracking-wide text-muted-foreground uppercase">{label}</dt>
      <dd className="mt-1 min-w-0 truncate text-sm">{children}</dd>
    </div>
  );
}

type Action = "retry" | "cancel";
type DataTab = "input" | "data";

/** Asks before an operator's action, says what it will do, and shows a refusal in place. */
function ActionDialog({ action, saga, onClose }: { action: Action | null; saga: SagaDetail; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState("");
  const settle = (next: SagaDetail) => {
    queryClient.setQueryData(trpc.sagas.get.queryKey({ id: saga.id }), next);
    onClose();
  };
  const retry = useMutation(trpc.sagas.retry.mutationOptions({ onSuccess: settle }));
  const cancel = useMutation(trpc.sagas.cancel.mutationOptions({ onSuccess: settle }));
  const pending = retry.isPending || cancel.isPending;
  const error = action === "retry" ? retry.error : action === "cancel" ? cancel.error : null;
  const close = () => {
    retry.reset();
    cancel.reset();
    setReason("");
    onClose();
  };
  const completed = saga.steps.filter((step) => step.status === "completed").map((step) => step.name);
  return (
    <Dialog
      open={action !== null}
      onClose={close}
      title={action === "retry" ? "Retry this saga?" : "Cancel this saga?"}
      description={
        action === "retry"
          ? "The compensation that kept failing is tried again (its attempts start over), then the ones after it."
          : "Nothing more runs forward: what completed is compensated in reverse order, then the saga ends cancelled."
      }
      footer={
        <>
          <Button variant="outline" onClick={close}>
            Keep as is
          </Button>
          {action === "retry" ? (
            <Button onClick={() => retry.mutate({ id: saga.id })} disabled={pending} data-testid="saga-retry-confirm">
              {pending ? <LoaderCircle className="animate-spin" aria-hidden /> : <RotateCcw aria-hidden />}
              Retry
            </Button>
          ) : (
            <Button
              variant="danger"
              onClick={() => cancel.mutate({ id: saga.id, ...(reason.trim() ? { reason: reason.trim() } : {}) })}
              disabled={pending}
              data-testid="saga-cancel-confirm"
            >
              {pending ? <LoaderCircle className="animate-spin" aria-hidden /> : <Ban aria-hidden />}
              Cancel and compensate
            </Button>
          )}
        </>
      }
    >
      <div className="space-y-3">
        {action === "cancel" ? (
          <>
            <p className="text-sm text-muted-foreground">
              {completed.length === 0 ? (
                "No step has completed yet: nothing needs undoing."
              ) : (
                <>
                  To be compensated:{" "}
                  {[...completed].reverse().map((name, index) => (
                    <span key={name}>
                      {index > 0 ? " → " : ""}
                      <span className="font-mono text-foreground">{name}</span>
                    </span>
                  ))}
                </>
              )}
            </p>
            <Field label="Reason" htmlFor="saga-cancel-reason" hint="Kept on the saga and its saga.cancelled event">
              <Input id="saga-cancel-reason" value={reason} onChange={(event) => setReason(event.target.value)} placeholder="Cancelled from the dashboard" maxLength={500} />
            </Field>
          </>
        ) : saga.error ? (
          <Alert tone="warning" title="Last error">
            <span className="font-mono text-xs">{saga.error.message}</span>
          </Alert>
        ) : null}
        {error ? <Alert title="Refused">{errorMessage(error)}</Alert> : null}
      </div>
    </Dialog>
  );
}

function Children({ id }: { id: string }) {
  const trpc = useTRPC();
  const children = useQuery(trpc.sagas.list.queryOptions({ parentId: id, limit: 50 }, { refetchInterval: 5_000 }));
  const items = children.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <Card className="overflow-hidden" data-testid="saga-children">
      <CardHeader title={`Child sagas (${items.length}${children.data?.nextCursor ? "+" : ""})`} description="Started by one of this saga's steps" />
      <ul className="divide-y divide-border">
        {items.map((child) => (
          <li key={child.id}>
            <Link href={`/sagas/${child.id}`} className="flex flex-wrap items-center gap-3 px-5 py-2.5 text-sm hover:bg-muted/60">
              <SagaStatusBadge status={child.status} />
              <span className="font-mono text-xs font-medium">{child.type}</span>
              <span className="truncate font-mono text-xs text-muted-foreground">{child.subject ?? child.id}</span>
              <span className="ml-auto text-xs text-muted-foreground">
                {child.stepsDone}/{child.stepCount} steps · <RelativeTime time={child.startedAt} />
              </span>
            </Link>
          </li>
        ))}
      </ul>
    </Card>
  );
}

function Timers({ id }: { id: string }) {
  const trpc = useTRPC();
  const timers = useQuery(trpc.sagas.timers.queryOptions({ id }));
  const items = timers.data ?? [];
  return (
    <Card className="overflow-hidden" data-testid="saga-timers">
      <CardHeader title="Durable timers" description="Kept in Postgres; each fires once, across every worker" />
      {items.length === 0 ? <p className="px-5 py-4 text-sm text-muted-foreground">{timers.isPending ? "Loading…" : "No timers: this saga has no deadline."}</p> : null}
      <ul className="divide-y divide-border">
        {items.map((timer) => (
          <li key={timer.id} className="flex flex-wrap items-center gap-3 px-5 py-2.5 text-sm">
            <AlarmClock className="size-4 text-muted-foreground" aria-hidden />
            <span className="font-mono text-xs">{timer.kind}</span>
            <span className="rounded bg-muted px-1.5 py-px text-xs text-muted-foreground">{timer.status}</span>
            <span className="ml-auto text-xs text-muted-foreground">
              {timer.status === "fired" && timer.firedAt ? (
                <>
                  fired <RelativeTime time={timer.firedAt} />
                </>
              ) : timer.status === "cancelled" ? (
                <>
                  was due <RelativeTime time={timer.dueAt} />; cancelled when the saga ended
                </>
              ) : (
                <>
                  due <RelativeTime time={timer.dueAt} />
                </>
              )}
            </span>
          </li>
        ))}
      </ul>
    </Card>
  );
}

/** Every step and compensation as rows: the timeline's content for screen readers and for copying. */
function StepTable({ saga, now, onSelect }: { saga: SagaDetail; now: number; onSelect(selection: StepSelection): void }) {
  const rows: Array<{ phase: StepSelection["phase"]; index: number; step: SagaStep }> = [
    ...saga.steps.map((step, index) => ({ phase: "forward" as const, index, step })),
    ...saga.compensations.map((step, index) => ({ phase: "compensation" as const, index, step })),
  ];
  return (
    <Card className="overflow-hidden">
      <CardHeader title="Steps" description="The timeline as a table" />
      <Table data-testid="saga-step-table">
        <THead>
          <tr>
            <Th>Lane</Th>
            <Th>Step</Th>
            <Th>Status</Th>
            <Th className="text-right">Attempts</Th>
            <Th>Started</Th>
            <Th className="text-right">Duration</Th>
            <Th>Error</Th>
          </tr>
        </THead>
        <tbody>
          {rows.map(({ phase, index, step }) => {
            const duration = durationBetween(step.startedAt, step.status === "running" || step.status === "waiting" ? null : step.endedAt, now);
            return (
              <Tr key={`${phase}:${index}`} data-testid="step-row" data-phase={phase} data-step={step.name}>
                <Td className="text-xs text-muted-foreground">{phase === "forward" ? "Forward" : "Compensation"}</Td>
                <Td>
                  <button type="button" onClick={() => onSelect({ phase, index })} className="cursor-pointer font-mono text-xs font-medium text-primary hover:underline">
                    {step.name}
                  </button>
                </Td>
                <Td>
                  <StepStatusBadge status={step.status} />
                </Td>
                <Td className="text-right font-mono text-xs tabular-nums">{step.attempts}</Td>
                <Td className="text-xs whitespace-nowrap text-muted-foreground">{step.startedAt ? <RelativeTime time={step.startedAt} /> : "—"}</Td>
                <Td className="text-right font-mono text-xs whitespace-nowrap tabular-nums">{duration === null ? "—" : formatDuration(duration)}</Td>
                <Td className="max-w-[28rem] truncate text-xs text-danger" title={step.error?.message}>
                  {step.error?.message ?? ""}
                </Td>
              </Tr>
            );
          })}
        </tbody>
      </Table>
    </Card>
  );
}

function SagaView({ saga, live }: { saga: SagaDetail; live: ReactNode }) {
  const trpc = useTRPC();
  const me = useQuery(trpc.session.me.queryOptions(undefined, { staleTime: 60_000 }));
  const types = useQuery(trpc.sagas.types.queryOptions(undefined, { staleTime: 60_000 }));
  const canAct = Boolean(me.data && (me.data.isAdmin || me.data.scopes.includes("commands:execute")));
  const active = ACTIVE.has(saga.status);
  const now = useClock(active);
  const [selected, setSelected] = useState<StepSelection | null>(null);
  const [action, setAction] = useState<Action | null>(null);
  const [dataTab, setDataTab] = useState<DataTab>("input");
  const duration = durationBetween(saga.startedAt, saga.endedAt, now);
  const selectedStep = selected ? (selected.phase === "forward" ? saga.steps[selected.index] : saga.compensations[selected.index]) ?? null : null;
  const closePanel = useCallback(() => setSelected(null), []);
  const closeAction = useCallback(() => setAction(null), []);
  const failedStep = saga.steps.find((step) => step.status === "failed");
  const canCancel = saga.kind === "orchestrated" && active && !saga.cancelRequested;

  return (
    <div className="space-y-5" data-testid="saga-detail" data-saga={saga.id} data-status={saga.status}>
      <Card>
        <div className="flex flex-wrap items-start justify-between gap-4 px-5 pt-4 pb-3">
          <div className="min-w-0">
            <div className="flex flex-wrap items-center gap-2">
              <h1 className="font-mono text-lg font-semibold tracking-tight" data-testid="saga-type">
                {saga.type}
              </h1>
              <SagaStatusBadge status={saga.status} />
              <SagaKindBadge kind={saga.kind} />
              {saga.cancelRequested && active ? <span className="text-xs text-muted-foreground">cancel requested…</span> : null}
            </div>
            <p className="mt-1 inline-flex items-center gap-1 font-mono text-xs text-muted-foreground">
              {saga.id}
              <CopyButton value={saga.id} label="Copy saga id" className="size-5" />
            </p>
          </div>
          <div className="flex items-center gap-2">
            {live}
            {canAct && saga.status === "failed" ? (
              <Button onClick={() => setAction("retry")} data-testid="saga-retry">
                <RotateCcw aria-hidden /> Retry
              </Button>
            ) : null}
            {canAct && canCancel ? (
              <Button variant="outline" onClick={() => setAction("cancel")} data-testid="saga-cancel" className="text-danger">
                <Ban aria-hidden /> Cancel
              </Button>
            ) : null}
          </div>
        </div>
        <dl className="grid grid-cols-2 gap-x-6 gap-y-4 border-t border-border px-5 py-4 md:grid-cols-3 xl:grid-cols-[minmax(0,1.2fr)_minmax(0,1.4fr)_repeat(4,minmax(0,1fr))]">
          <Fact label="Subject">
            {saga.subject ? (
              <span className="inline-flex max-w-full items-center gap-0.5 font-mono text-xs" title={saga.subject}>
                <span className="truncate">{saga.subject}</span>
                <CopyButton value={saga.subject} label="Copy subject" className="size-5" />
              </span>
            ) : (
              <span className="text-muted-foreground">—</span>
            )}
          </Fact>
          <Fact label="Correlation id">
            <span className="inline-flex items-center gap-1.5">
              <ShortId id={saga.correlationid} />
              <Link
                href={`/events?tab=history&correlationid=${encodeURIComponent(saga.correlationid)}&order=oldest`}
                className="inline-flex shrink-0 items-center gap-1 text-xs font-medium text-primary hover:underline"
                data-testid="saga-correlation-events"
                title="Every event of this conversation, oldest first"
              >
                <Search className="size-3" aria-hidden /> Events
              </Link>
            </span>
          </Fact>
          <Fact label="Started">
            <span title={formatExact(saga.startedAt)}>
              <RelativeTime time={saga.startedAt} />
            </span>
          </Fact>
          <Fact label="Ended">{saga.endedAt ? <RelativeTime time={saga.endedAt} /> : <span className="text-muted-foreground">{active ? "still running" : "—"}</span>}</Fact>
          <Fact label="Duration">
            <span className="font-mono tabular-nums" data-testid="saga-duration">
              {duration === null ? "—" : formatDuration(duration)}
            </span>
          </Fact>
          <Fact label="Parent">
            {saga.parentId ? (
              <Link href={`/sagas/${saga.parentId}`} className="inline-flex items-center gap-1 font-mono text-xs text-primary hover:underline" data-testid="saga-parent">
                <CornerLeftUp className="size-3.5" aria-hidden />
                {saga.parentId.replace(/-/g, "").slice(-8)}
              </Link>
            ) : (
              <span className="text-muted-foreground">—</span>
            )}
          </Fact>
        </dl>
        {saga.error ? (
          <div className="border-t border-border px-5 py-3">
            <Alert tone={saga.status === "failed" ? "danger" : "warning"} title={failedStep ? `Step ${failedStep.name} failed for good` : sagaStatusLook[saga.status].hint}>
              <span className="font-mono text-xs" data-testid="saga-error">
                {saga.error.type}: {saga.error.message}
              </span>
            </Alert>
          </div>
        ) : null}
      </Card>

      <SagaTimeline saga={saga} now={now} selected={selected} onSelect={setSelected} />

      <StepTable saga={saga} now={now} onSelect={setSelected} />

      <div className="grid gap-5 lg:grid-cols-2">
        <Card className="overflow-hidden">
          <div className="px-5 pt-3">
            <Tabs<DataTab>
              items={[
                { value: "input", label: "Input" },
                { value: "data", label: "Data" },
              ]}
              value={dataTab}
              onChange={setDataTab}
            />
          </div>
          <div className="p-5">
            <JsonView value={dataTab === "input" ? saga.input : saga.data} />
            <p className="mt-2 text-xs text-muted-foreground">{dataTab === "input" ? "What the saga was started with." : "What the completed steps left for the next ones."}</p>
          </div>
        </Card>
        <div className="space-y-5">
          <Timers id={saga.id} />
          <Children id={saga.id} />
        </div>
      </div>

      <StepPanel step={selectedStep} phase={selected?.phase ?? "forward"} type={types.data?.find((type) => type.type === saga.type)} now={now} onClose={closePanel} />
      {canAct ? <ActionDialog action={action} saga={saga} onClose={closeAction} /> : null}
    </div>
  );
}

export function SagaDetailPage({ id }: { id: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const query = useQuery(trpc.sagas.get.queryOptions({ id }));
  const [at, setAt] = useState<number | undefined>(undefined);
  // The live feed writes into the query's cache: one source for the view, whichever answered last.
  const onData = useCallback(
    (saga: SagaDetail) => {
      queryClient.setQueryData(trpc.sagas.get.queryKey({ id }), saga);
      setAt(Date.now());
    },
    [queryClient, trpc, id],
  );
  // An ended saga does not move again (a failed one does, when an operator retries it).
  const moving = query.data !== undefined && (ACTIVE.has(query.data.status) || query.data.status === "failed");
  const live = useSubscription(trpc.sagas.watch.subscriptionOptions({ id, intervalMs: 1_000 }, { enabled: moving, onData }));
  return (
    <div className="mx-auto max-w-7xl">
      <Link href="/sagas" className="mb-4 inline-flex items-center gap-1.5 text-sm text-muted-foreground hover:text-foreground">
        <ArrowLeft className="size-4" aria-hidden /> Sagas
      </Link>
      <DetailStates
        query={query}
        placeholders={["h-40 w-full", "h-72 w-full", "h-48 w-full"]}
        notFound={{ title: "No such saga", children: <>No saga has the id <span className="font-mono text-xs">{id}</span>. It may belong to another installation.</> }}
        errorTitle="Could not load the saga"
      >
        {(saga) => <SagaView saga={saga} live={moving ? <LiveStatus paused={false} status={live.status} at={at} testId="saga-live" /> : null} />}
      </DetailStates>
    </div>
  );
}
