"use client";

import { useQuery } from "@tanstack/react-query";
import { ExternalLink } from "lucide-react";
import Link from "next/link";
import type { ReactNode } from "react";
import { useTRPC, type RouterOutputs } from "../trpc";
import { Badge } from "../ui/badge";
import { Card, CardHeader } from "../ui/card";
import { cn } from "../ui/cn";
import { CopyButton } from "../ui/copy-button";
import { JsonView } from "../ui/json-view";
import { DetailStates } from "../ui/query-states";
import { formatExact, RelativeTime } from "../ui/relative-time";
import { TypeBadge } from "../ui/type-badge";

export type DeadLetterView = RouterOutputs["deadLetters"]["get"];

interface DecodedEvent {
  id: string;
  type: string;
  data: unknown;
  position?: number;
  subject?: string;
}

/** The event's id and type whether it decoded or not (the raw message's headers say). */
export function eventSummary(letter: DeadLetterView): { id: string; type: string | null; position: number | null } {
  if (letter.decoded) {
    const event = letter.event as DecodedEvent;
    return { id: event.id, type: event.type, position: event.position ?? null };
  }
  return { id: letter.headers.ce_id ?? (letter.event as { id?: string }).id ?? "(no id)", type: letter.headers.ce_type ?? null, position: null };
}

/** The payload: the decoded `data`, or the raw body (parsed when it is JSON). */
function payloadOf(letter: DeadLetterView): unknown {
  if (letter.decoded) return (letter.event as DecodedEvent).data;
  const body = (letter.event as { body?: unknown }).body;
  if (typeof body !== "string") return body ?? null;
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

function Fact({ label, children, mono }: { label: string; children: ReactNode; mono?: boolean }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs font-medium text-muted-foreground">{label}</dt>
      <dd className={cn("mt-0.5 text-sm break-all", mono && "font-mono text-xs leading-5")}>{children}</dd>
    </div>
  );
}

function Time({ value }: { value: string }) {
  return (
    <>
      <span className="tabular-nums">{formatExact(value)}</span>
      <span className="block text-xs text-muted-foreground">
        <RelativeTime time={value} />
      </span>
    </>
  );
}

/** Ordered for reading: the CloudEvents attributes first, in their usual order, then the rest. */
const headerOrder = ["ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "ce_subject", "ce_position", "ce_streamid", "ce_streamversion", "ce_correlationid", "ce_causationid", "ce_traceparent", "ce_tracestate", "ce_priority", "ce_partitionkey", "ce_schemaversion", "ce_dataschema", "content-type"];

function sortedHeaders(headers: Record<string, string>): Array<[string, string]> {
  const rank = (name: string) => {
    const index = headerOrder.indexOf(name);
    return index === -1 ? headerOrder.length : index;
  };
  return Object.entries(headers).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

export function DeadLetterDetail({ id, initial }: { id: string; initial?: DeadLetterView }) {
  const trpc = useTRPC();
  const query = useQuery(trpc.deadLetters.get.queryOptions({ id }, { initialData: initial, staleTime: 5_000 }));
  return (
    <DetailStates
      query={query}
      placeholders={["h-24 w-full", "h-48 w-full"]}
      notFound={{ title: "No longer a dead letter", children: "It was redriven or deleted meanwhile." }}
      errorTitle="Could not load this dead letter"
    >
      {(letter) => <LetterDetail letter={letter} />}
    </DetailStates>
  );
}

function LetterDetail({ letter }: { letter: DeadLetterView }) {
  const summary = eventSummary(letter);
  return (
    <div className="space-y-5" data-testid="dead-letter-detail" data-dead-letter-id={letter.id} data-event-id={summary.id}>
      <div className="flex flex-wrap items-center gap-2">
        {summary.type ? <TypeBadge type={summary.type} className="text-xs" /> : <Badge tone="danger">undecodable message</Badge>}
        <span className="text-xs text-muted-foreground">to</span>
        <span className="font-mono text-xs font-medium">{letter.subscription}</span>
        {summary.position !== null ? (
          <Link
            href={`/events/${encodeURIComponent(summary.id)}`}
            className="ml-auto inline-flex items-center gap-1 text-xs font-medium text-primary hover:underline"
          >
            <ExternalLink className="size-3.5" aria-hidden />
            Event #{summary.position.toLocaleString()} in the log
          </Link>
        ) : null}
      </div>

      <div className="rounded-xl border border-red-200 bg-red-50/70 p-4 dark:border-red-500/25 dark:bg-red-500/10" data-testid="dead-letter-error">
        <div className="flex items-center gap-2">
          <Badge tone="danger" className="font-mono">
            {letter.error.type}
          </Badge>
          <span className="text-xs text-red-800/80 dark:text-red-200/80">
            after {letter.attempts} attempt{letter.attempts === 1 ? "" : "s"}
          </span>
        </div>
        <p className="mt-2 font-mono text-xs leading-5 break-words whitespace-pre-wrap text-red-900 dark:text-red-100">{letter.error.message}</p>
      </div>

      <Card className="px-5 py-4">
        <dl className="grid grid-cols-2 gap-x-6 gap-y-4 sm:grid-cols-3">
          <Fact label="Attempts">
            <span className="font-mono tabular-nums">{letter.attempts}</span>
          </Fact>
          <Fact label="First failed">
            <Time value={letter.firstFailedAt} />
          </Fact>
          <Fact label="Last failed">
            <Time value={letter.lastFailedAt} />
          </Fact>
          <Fact label="Subscription" mono>
            {letter.subscription}
          </Fact>
          <Fact label="Topic" mono>
            {letter.topic}
          </Fact>
          <Fact label="Event id" mono>
            <span className="inline-flex items-start gap-1">
              {summary.id}
              <CopyButton value={summary.id} className="-mt-0.5 size-5" />
            </span>
          </Fact>
        </dl>
      </Card>

      <Card className="overflow-hidden">
        <CardHeader title="Payload" description={letter.decoded ? "The event's data, as it will be redelivered" : "The raw body: this message is not a well-formed event"} />
        <div className="p-4">
          <JsonView value={payloadOf(letter)} />
        </div>
      </Card>

      <Card className="overflow-hidden">
        <CardHeader title="Attributes" description="Every header on the wire (CloudEvents ce_* attributes and the rest)" />
        <dl className="divide-y divide-border" data-testid="dead-letter-attributes">
          {sortedHeaders(letter.headers).map(([name, value]) => (
            <div key={name} className="grid grid-cols-[10rem_1fr] items-start gap-3 px-5 py-2 text-sm">
              <dt className="pt-px font-mono text-xs text-muted-foreground">{name}</dt>
              <dd className="min-w-0 font-mono text-xs leading-5 break-all">{value}</dd>
            </div>
          ))}
        </dl>
      </Card>
    </div>
  );
}
