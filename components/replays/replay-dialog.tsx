"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { CircleCheck, CircleX, History, Square } from "lucide-react";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useTRPC, type RouterOutputs } from "../trpc";
import { Badge, type BadgeTone } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardHeader } from "../ui/card";
import { cn } from "../ui/cn";
import { Alert, errorMessage } from "../ui/error-state";
import { Field, Input, Select } from "../ui/form";
import { Dialog } from "../ui/overlay";
import { RelativeTime } from "../ui/relative-time";
import { shortenId } from "../ui/short-id";
import { Skeleton } from "../ui/spinner";
import { Tabs } from "../ui/tabs";

type Replay = NonNullable<RouterOutputs["replays"]["get"]>;

const statusTone: Record<Replay["status"], BadgeTone> = { queued: "neutral", running: "primary", done: "success", failed: "danger", cancelled: "warning" };
const finished = (status: Replay["status"]) => status === "done" || status === "failed" || status === "cancelled";

export function ReplayStatusBadge({ status }: { status: Replay["status"] }) {
  return (
    <Badge tone={statusTone[status]} data-testid="replay-status" data-status={status}>
      {status}
    </Badge>
  );
}

export function ReplayProgress({ replay }: { replay: Pick<Replay, "total" | "done" | "status"> }) {
  const percent = replay.total === 0 ? (finished(replay.status) ? 100 : 0) : Math.min(100, Math.round((replay.done / replay.total) * 100));
  return (
    <div className="flex items-center gap-3">
      <div className="h-1.5 flex-1 overflow-hidden rounded-full bg-muted" role="progressbar" aria-valuemin={0} aria-valuemax={replay.total} aria-valuenow={replay.done}>
        <div
          className={cn("h-full rounded-full transition-[width]", replay.status === "failed" ? "bg-danger" : replay.status === "cancelled" ? "bg-amber-500" : "bg-primary")}
          style={{ width: `${percent}%` }}
        />
      </div>
      <span className="shrink-0 font-mono text-xs text-muted-foreground tabular-nums" data-testid="replay-progress">
        {replay.done.toLocaleString()} / {replay.total.toLocaleString()}
      </span>
    </div>
  );
}

/** One replay, refreshed every second until it ends; with Cancel while it runs. */
function ReplayTracker({ id }: { id: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const replay = useQuery(
    trpc.replays.get.queryOptions(
      { id },
      { refetchInterval: (query) => (query.state.data && finished(query.state.data.status) ? false : 1_000), staleTime: 0 },
    ),
  );
  const cancel = useMutation(
    trpc.replays.cancel.mutationOptions({
      onSuccess: (data) => {
        queryClient.setQueryData(trpc.replays.get.queryKey({ id }), data);
        void queryClient.invalidateQueries({ queryKey: trpc.replays.list.queryKey() });
      },
    }),
  );
  const data = replay.data;
  useEffect(() => {
    if (data && finished(data.status)) void queryClient.invalidateQueries({ queryKey: trpc.replays.list.queryKey() });
  }, [data, queryClient, trpc]);
  if (!data) return replay.isError ? <Alert>{errorMessage(replay.error)}</Alert> : <Skeleton className="h-16 w-full" />;
  return (
    <div className="space-y-3 rounded-lg border border-border bg-muted/40 p-4" data-testid="replay-tracker" data-replay-id={data.id}>
      <div className="flex items-center justify-between gap-3">
        <div className="flex items-center gap-2 text-sm">
          {data.status === "done" ? <CircleCheck className="size-4 text-success" aria-hidden /> : data.status === "failed" ? <CircleX className="size-4 text-danger" aria-hidden /> : null}
          <span className="font-medium">Replay to {data.target.subscription}</span>
          <ReplayStatusBadge status={data.status} />
        </div>
        {!finished(data.status) ? (
          <Button variant="outline" size="xs" onClick={() => cancel.mutate({ id })} disabled={cancel.isPending} data-testid="replay-cancel">
            <Square aria-hidden />
            Cancel
          </Button>
        ) : null}
      </div>
      <ReplayProgress replay={data} />
      {data.error ? <p className="text-xs text-danger">{data.error}</p> : null}
      <p className="text-xs text-muted-foreground">
        Positions {(data.filter.afterPosition + 1).toLocaleString()}–{data.filter.toPosition.toLocaleString()}
        {data.filter.types?.length ? ` · ${data.filter.types.join(", ")}` : ""}
        {data.ratePerSecond ? ` · at most ${data.ratePerSecond}/s` : ""} · id <span className="font-mono">{shortenId(data.id)}</span>
      </p>
    </div>
  );
}

function toIso(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function positiveInteger(text: string): number | undefined {
  if (text.trim() === "") return undefined;
  const value = Number(text);
  return Number.isInteger(value) && value >= 1 ? value : Number.NaN;
}

type RangeMode = "positions" | "time";

/**
 * Replays events of the log to one subscription: pick it, a range by position or time, a type
 * filter and a rate; count first, then start and watch the progress.
 */
export function ReplayDialog({
  open,
  onClose,
  subscription: initialSubscription,
  subscriptions,
  initialTypes,
}: {
  open: boolean;
  onClose(): void;
  subscription?: string;
  /** Names to pick from (loaded here when not given). */
  subscriptions?: string[];
  initialTypes?: string[];
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const known = useQuery(trpc.queues.list.queryOptions(undefined, { enabled: open && !subscriptions?.length, staleTime: 30_000 }));
  const names = useMemo(() => (subscriptions?.length ? subscriptions : (known.data?.items.map((item) => item.name) ?? [])), [subscriptions, known.data]);
  const eventTypes = useQuery(trpc.eventTypes.list.queryOptions(undefined, { enabled: open, staleTime: 60_000 }));

  const [subscription, setSubscription] = useState(initialSubscription ?? "");
  const [mode, setMode] = useState<RangeMode>("positions");
  const [fromPosition, setFromPosition] = useState("");
  const [toPosition, setToPosition] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [types, setTypes] = useState((initialTypes ?? []).join(", "));
  const [rate, setRate] = useState("");
  const [startedId, setStartedId] = useState<string | null>(null);

  const count = useMutation(trpc.replays.create.mutationOptions());
  const start = useMutation(
    trpc.replays.create.mutationOptions({
      onSuccess: (result) => {
        if (result.replay) setStartedId(result.replay.id);
        void queryClient.invalidateQueries({ queryKey: trpc.replays.list.queryKey() });
      },
    }),
  );

  // Opening again (or for another subscription) starts a fresh form.
  useEffect(() => {
    if (!open) return;
    setSubscription(initialSubscription ?? "");
    setTypes((initialTypes ?? []).join(", "));
    setStartedId(null);
    count.reset();
    start.reset();
    // Only when the dialog opens or its preset changes (the mutations' identities change every render).
  }, [open, initialSubscription]);

  const chosen = subscription || names[0] || "";
  const typeList = types
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
  const fromNumber = positiveInteger(fromPosition);
  const toNumber = positiveInteger(toPosition);
  const rateNumber = rate.trim() === "" ? undefined : Number(rate);
  const problems: Record<string, string> = {};
  if (mode === "positions") {
    if (Number.isNaN(fromNumber)) problems.fromPosition = "A position is a whole number from 1";
    if (Number.isNaN(toNumber)) problems.toPosition = "A position is a whole number from 1";
    if (fromNumber && toNumber && toNumber < fromNumber) problems.toPosition = "Must not be below the first position";
  } else if (from && to && new Date(from) > new Date(to)) {
    problems.to = "Must be after “From”";
  }
  if (rateNumber !== undefined && !(rateNumber > 0 && rateNumber <= 10_000)) problems.rate = "Between 0 and 10,000 per second";
  if (typeList.some((type) => !/^(?:\*|[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*(?:\.\*)?)$/.test(type))) problems.types = "Comma-separated types, each optionally ending in .*";
  const valid = chosen !== "" && Object.keys(problems).length === 0;

  const request = {
    subscription: chosen,
    ...(mode === "positions" ? { fromPosition: fromNumber, toPosition: toNumber } : { from: toIso(from), to: toIso(to) }),
    ...(typeList.length > 0 ? { types: typeList } : {}),
    ...(rateNumber !== undefined ? { ratePerSecond: rateNumber } : {}),
  };
  const counted = count.data && count.variables && JSON.stringify({ ...count.variables, dryRun: undefined }) === JSON.stringify({ ...request, dryRun: undefined }) ? count.data.matched : undefined;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!valid) return;
    if (counted === undefined) count.mutate({ ...request, dryRun: true });
    else start.mutate({ ...request, dryRun: false });
  }

  const error = count.error ?? start.error;

  return (
    <Dialog
      open={open}
      onClose={onClose}
      title="Replay events"
      description="Deliver events of the log again to one subscription — it processes them even if it did before."
      className="max-w-xl"
      footer={
        startedId ? (
          <Button onClick={onClose} data-testid="replay-close">
            Close
          </Button>
        ) : (
          <>
            <Button variant="ghost" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" form="replay-form" disabled={!valid || count.isPending || start.isPending || counted === 0} data-testid="replay-submit">
              {counted === undefined ? (count.isPending ? "Counting…" : "Count events") : start.isPending ? "Starting…" : `Replay ${counted.toLocaleString()} event${counted === 1 ? "" : "s"}`}
            </Button>
          </>
        )
      }
    >
      {startedId ? (
        <ReplayTracker id={startedId} />
      ) : (
        <form id="replay-form" onSubmit={submit} className="space-y-4" data-testid="replay-form">
          <Field label="Subscription" htmlFor="replay-subscription">
            <Select id="replay-subscription" value={chosen} onChange={(event) => setSubscription(event.target.value)}>
              {names.length === 0 ? <option value="">No subscriptions</option> : null}
              {names.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </Select>
          </Field>

          <div>
            <Tabs<RangeMode>
              className="mb-3"
              value={mode}
              onChange={setMode}
              items={[
                { value: "positions", label: "By position" },
                { value: "time", label: "By time" },
              ]}
            />
            {mode === "positions" ? (
              <div className="grid grid-cols-2 gap-3">
                <Field label="From position" htmlFor="replay-from-position" hint="Default: the start of the log" error={problems.fromPosition}>
                  <Input id="replay-from-position" inputMode="numeric" value={fromPosition} onChange={(event) => setFromPosition(event.target.value)} placeholder="1" aria-invalid={!!problems.fromPosition || undefined} />
                </Field>
                <Field label="To position" htmlFor="replay-to-position" hint="Default: the head now" error={problems.toPosition}>
                  <Input id="replay-to-position" inputMode="numeric" value={toPosition} onChange={(event) => setToPosition(event.target.value)} placeholder="head" aria-invalid={!!problems.toPosition || undefined} />
                </Field>
              </div>
            ) : (
              <div className="grid grid-cols-2 gap-3">
                <Field label="From" htmlFor="replay-from" hint="Event time, your time zone">
                  <Input id="replay-from" type="datetime-local" value={from} onChange={(event) => setFrom(event.target.value)} />
                </Field>
                <Field label="To" htmlFor="replay-to" error={problems.to}>
                  <Input id="replay-to" type="datetime-local" value={to} onChange={(event) => setTo(event.target.value)} aria-invalid={!!problems.to || undefined} />
                </Field>
              </div>
            )}
          </div>

          <div className="grid grid-cols-[1fr_9rem] gap-3">
            <Field label="Types" htmlFor="replay-types" hint="Comma-separated; exam.* matches a family. Empty: every type." error={problems.types}>
              <Input id="replay-types" value={types} onChange={(event) => setTypes(event.target.value)} list="replay-type-suggestions" placeholder="Any type" spellCheck={false} aria-invalid={!!problems.types || undefined} />
              <datalist id="replay-type-suggestions">
                {(eventTypes.data ?? []).map((item) => (
                  <option key={item.type} value={item.type} />
                ))}
              </datalist>
            </Field>
            <Field label="Rate (events/s)" htmlFor="replay-rate" hint="Empty: no limit" error={problems.rate}>
              <Input id="replay-rate" inputMode="decimal" value={rate} onChange={(event) => setRate(event.target.value)} placeholder="∞" aria-invalid={!!problems.rate || undefined} />
            </Field>
          </div>

          {counted !== undefined ? (
            <Alert tone={counted === 0 ? "warning" : "info"}>
              <span data-testid="replay-matched" data-matched={counted}>
                {counted === 0 ? "No events match: widen the range or the types." : `${counted.toLocaleString()} event${counted === 1 ? "" : "s"} will be delivered again to ${chosen}.`}
              </span>
            </Alert>
          ) : null}
          {error ? <Alert>{errorMessage(error)}</Alert> : null}
        </form>
      )}
    </Dialog>
  );
}

/** The latest replays with their progress (admins). */
export function RecentReplays({ className }: { className?: string }) {
  const trpc = useTRPC();
  const replays = useQuery(
    trpc.replays.list.queryOptions(
      { limit: 5 },
      { refetchInterval: (query) => (query.state.data?.some((replay) => !finished(replay.status)) ? 1_000 : 15_000), staleTime: 0 },
    ),
  );
  return (
    <Card className={cn("overflow-hidden", className)} data-testid="recent-replays">
      <CardHeader title="Recent replays" description="Events of the log delivered again to a subscription" />
      {replays.isPending ? (
        <div className="p-5">
          <Skeleton className="h-10 w-full" />
        </div>
      ) : replays.isError ? (
        <div className="p-5">
          <Alert>{errorMessage(replays.error)}</Alert>
        </div>
      ) : replays.data.length === 0 ? (
        <p className="flex items-center gap-2 px-5 py-4 text-sm text-muted-foreground">
          <History className="size-4" aria-hidden />
          No replays yet. Replay a range of the log to a subscription to have it process those events again.
        </p>
      ) : (
        <ul className="divide-y divide-border">
          {replays.data.map((replay) => (
            <li key={replay.id} className="grid grid-cols-[minmax(0,1fr)_minmax(0,14rem)] items-center gap-4 px-5 py-3" data-testid="recent-replay">
              <div className="min-w-0">
                <div className="flex items-center gap-2 text-sm">
                  <span className="font-mono font-medium">{replay.target.subscription}</span>
                  <ReplayStatusBadge status={replay.status} />
                </div>
                <p className="mt-0.5 truncate text-xs text-muted-foreground">
                  Positions {(replay.filter.afterPosition + 1).toLocaleString()}–{replay.filter.toPosition.toLocaleString()}
                  {replay.filter.types?.length ? ` · ${replay.filter.types.join(", ")}` : ""} · by {replay.createdBy} · <RelativeTime time={replay.createdAt} />
                  {replay.error ? <span className="text-danger"> · {replay.error}</span> : null}
                </p>
              </div>
              <ReplayProgress replay={replay} />
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
