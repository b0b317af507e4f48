"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ArrowUpRight, LoaderCircle, RotateCw, Scissors } from "lucide-react";
import Link from "next/link";
import type { ReactNode } from "react";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { cn } from "../ui/cn";
import { Alert, errorMessage } from "../ui/error-state";
import { JsonView } from "../ui/json-view";
import { Drawer } from "../ui/overlay";
import { DetailStates } from "../ui/query-states";
import { formatExact, RelativeTime } from "../ui/relative-time";
import { ShortId } from "../ui/short-id";
import { TypeBadge } from "../ui/type-badge";
import type { AttemptDetail } from "./types";
import { AttemptStatusBadge, HttpStatus, TriggerBadge } from "./webhook-badges";
import { formatLatency, parseBody } from "./webhook-model";

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="min-w-0">
      <dt className="text-[11px] font-medium tracking-wide text-muted-foreground uppercase">{label}</dt>
      <dd className="mt-1 min-w-0 truncate text-sm">{children}</dd>
    </div>
  );
}

function HeadersTable({ headers, testId }: { headers: Record<string, string>; testId: string }) {
  const entries = Object.entries(headers).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return <p className="text-xs text-muted-foreground">No headers.</p>;
  return (
    <dl className="divide-y divide-border overflow-hidden rounded-lg border border-border font-mono text-xs" data-testid={testId}>
      {entries.map(([name, value]) => (
        <div key={name} className="grid grid-cols-[12rem_minmax(0,1fr)] gap-3 px-3 py-1.5">
          <dt className={cn("truncate text-muted-foreground", name.startsWith("webhook-") && "text-primary")} title={name}>
            {name}
          </dt>
          <dd className="break-all text-foreground/90">{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function Body({ body, testId, truncated }: { body: string; testId: string; truncated?: boolean }) {
  const parsed = parseBody(body);
  return (
    <div data-testid={testId} data-truncated={truncated ? "true" : "false"}>
      {parsed.json ? (
        <JsonView value={parsed.value} />
      ) : (
        <pre className="max-h-[32rem] overflow-auto rounded-lg border border-border bg-muted/50 p-4 font-mono text-xs leading-5 whitespace-pre-wrap">
          {parsed.text === "" ? <span className="text-muted-foreground italic">(empty body)</span> : parsed.text}
        </pre>
      )}
      {truncated ? (
        <p className="mt-1.5 flex items-center gap-1.5 text-xs text-amber-700 dark:text-amber-300" data-testid="body-truncated">
          <Scissors className="size-3.5" aria-hidden /> Truncated: only the first 64 KiB of the response were kept.
        </p>
      ) : null}
    </div>
  );
}

function Section({ title, aside, children }: { title: string; aside?: ReactNode; children: ReactNode }) {
  return (
    <section className="space-y-2.5 px-5 py-4">
      <div className="flex items-center justify-between gap-3">
        <h3 className="text-xs font-semibold tracking-wide text-muted-foreground uppercase">{title}</h3>
        {aside}
      </div>
      {children}
    </section>
  );
}

function AttemptBody({ attempt }: { attempt: AttemptDetail }) {
  return (
    <div className="divide-y divide-border" data-testid="attempt-viewer" data-attempt={attempt.id} data-status={attempt.status}>
      <dl className="grid grid-cols-2 gap-x-6 gap-y-4 px-5 py-4 sm:grid-cols-4">
        <Fact label="Status">
          <AttemptStatusBadge status={attempt.status} />
        </Fact>
        <Fact label="HTTP">
          <HttpStatus status={attempt.response?.status ?? null} />
        </Fact>
        <Fact label="Duration">
          <span className="font-mono tabular-nums">{formatLatency(attempt.durationMs)}</span>
        </Fact>
        <Fact label="Attempt">
          <span className="tabular-nums">#{attempt.attempt}</span> <TriggerBadge trigger={attempt.trigger} />
        </Fact>
        <Fact label="Sent">
          <span title={formatExact(attempt.createdAt)}>
            <RelativeTime time={attempt.createdAt} />
          </span>
        </Fact>
        <Fact label="Next attempt">{attempt.nextAttemptAt ? <RelativeTime time={attempt.nextAttemptAt} /> : <span className="text-muted-foreground">none</span>}</Fact>
        <Fact label="Event">
          <span className="inline-flex items-center gap-1">
            <TypeBadge type={attempt.eventType} />
          </span>
        </Fact>
        <Fact label="Event id">
          {attempt.trigger === "test" ? (
            <ShortId id={attempt.eventId} />
          ) : (
            <Link href={`/events/${attempt.eventId}`} className="inline-flex items-center gap-0.5 font-mono text-xs text-primary hover:underline" data-testid="attempt-event-link">
              {attempt.eventId.replace(/-/g, "").slice(-8)}
              <ArrowUpRight className="size-3" aria-hidden />
            </Link>
          )}
        </Fact>
      </dl>
      {attempt.error ? (
        <div className="px-5 py-3">
          <Alert title="Error">
            <span className="font-mono text-xs" data-testid="attempt-error">
              {attempt.error}
            </span>
          </Alert>
        </div>
      ) : null}
      <Section title="Request">
        <p className="flex items-center gap-2 font-mono text-xs break-all">
          <span className="rounded bg-primary/10 px-1.5 py-0.5 font-semibold text-primary">POST</span>
          <span data-testid="request-url">{attempt.request.url}</span>
        </p>
        <HeadersTable headers={attempt.request.headers} testId="request-headers" />
        <Body body={attempt.request.body} testId="request-body" />
      </Section>
      <Section title="Response" aside={attempt.response ? <HttpStatus status={attempt.response.status} /> : null}>
        {attempt.response ? (
          <>
            <HeadersTable headers={attempt.response.headers} testId="response-headers" />
            <Body body={attempt.response.body} testId="response-body" truncated={attempt.response.truncated} />
          </>
        ) : (
          <p className="rounded-lg border border-dashed border-border px-3 py-4 text-center text-sm text-muted-foreground" data-testid="no-response">
            No response: {attempt.error ?? "the request did not complete"}.
          </p>
        )}
      </Section>
    </div>
  );
}

/** Sends the attempt's delivery again now; the new attempt shows in the log (trigger `resend`). */
function ResendButton({ attempt, onResent }: { attempt: AttemptDetail; onResent(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const resend = useMutation(
    trpc.webhooks.resend.mutationOptions({
      onSuccess: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.webhooks.pathKey() });
        onResent();
      },
    }),
  );
  return (
    <span className="flex items-center gap-2">
      {resend.isError ? <span className="max-w-60 truncate text-xs text-danger" title={errorMessage(resend.error)}>{errorMessage(resend.error)}</span> : null}
      <Button
        variant="outline"
        size="sm"
        onClick={() => resend.mutate({ attemptId: attempt.id })}
        disabled={resend.isPending}
        data-testid="attempt-resend"
        title="Send this delivery again now"
      >
        {resend.isPending ? <LoaderCircle className="animate-spin" aria-hidden /> : <RotateCw aria-hidden />}
        {resend.isSuccess ? "Queued" : "Resend"}
      </Button>
    </span>
  );
}

/** One attempt's request and response, in a drawer, with Resend. */
export function AttemptViewer({ attemptId, onClose, onResent }: { attemptId: string | null; onClose(): void; onResent(): void }) {
  const trpc = useTRPC();
  const attempt = useQuery(trpc.webhooks.attempt.queryOptions({ id: attemptId ?? "" }, { enabled: attemptId !== null, staleTime: 60_000 }));
  return (
    <Drawer
      open={attemptId !== null}
      onClose={onClose}
      title={attempt.data ? `Attempt #${attempt.data.attempt} · ${attempt.data.eventType}` : "Attempt"}
      // A test send has no delivery to send again.
      actions={attempt.data && attempt.data.trigger !== "test" ? <ResendButton key={attempt.data.id} attempt={attempt.data} onResent={onResent} /> : undefined}
    >
      <DetailStates
        query={attempt}
        placeholders={["mx-5 mt-5 h-20", "mx-5 h-48", "mx-5 h-48"]}
        notFound={{ title: "No such attempt", children: "It may have been pruned by the attempt retention." }}
        errorTitle="Could not load the attempt"
      >
        {(record) => <AttemptBody attempt={record} />}
      </DetailStates>
    </Drawer>
  );
}
