import { newId } from "./ids";
import { childTraceparent } from "./traceparent";

/**
 * The message envelope: CloudEvents 1.0 attribute names plus Eventloom's extensions. On the wire
 * (every transport) these travel as native headers so a plain broker client can read them.
 */
export const priorities = ["high", "normal", "low"] as const;
export type Priority = (typeof priorities)[number];

export interface EventEnvelope<TData = unknown> {
  specversion: "1.0";
  /** UUIDv7 unless the producer supplied its own id (then it is the idempotency key). */
  id: string;
  /** Dotted type name, e.g. `exam.created`. */
  type: string;
  source: string;
  /** RFC 3339 UTC. */
  time: string;
  subject?: string;
  datacontenttype: string;
  dataschema?: string;
  data: TData;
  correlationid: string;
  causationid?: string;
  traceparent: string;
  tracestate?: string;
  priority: Priority;
  partitionkey?: string;
  /** Version of the event type's schema that `data` conforms to. */
  schemaversion: number;
}

/** An event once the store has committed it: its place in the global log and in its stream. */
export interface StoredEvent<TData = unknown> extends EventEnvelope<TData> {
  /** Place in the global log: gap-free, increasing in commit order. */
  position: number;
  streamid: string;
  /** 1-based version of the event within its stream. */
  streamversion: number;
}

/** What a producer supplies; everything else gets a default from {@link buildEnvelope}. */
export interface EventDraft<TData = unknown> {
  type: string;
  data: TData;
  id?: string;
  source?: string;
  time?: string;
  subject?: string;
  datacontenttype?: string;
  dataschema?: string;
  correlationid?: string;
  causationid?: string;
  /** The caller's `traceparent`; the envelope gets a child span of it. */
  traceparent?: string;
  tracestate?: string;
  priority?: Priority;
  partitionkey?: string;
  schemaversion?: number;
}

export const DEFAULT_SOURCE = "urn:eventloom";

export function buildEnvelope<TData>(draft: EventDraft<TData>, now: () => number = Date.now): EventEnvelope<TData> {
  const id = draft.id ?? newId();
  const envelope: EventEnvelope<TData> = {
    specversion: "1.0",
    id,
    type: draft.type,
    source: draft.source ?? DEFAULT_SOURCE,
    time: draft.time ?? new Date(now()).toISOString(),
    datacontenttype: draft.datacontenttype ?? "application/json",
    data: draft.data,
    // A new conversation starts with the first event; its id names the whole chain.
    correlationid: draft.correlationid ?? id,
    traceparent: childTraceparent(draft.traceparent),
    priority: draft.priority ?? "normal",
    schemaversion: draft.schemaversion ?? 1,
  };
  if (draft.subject !== undefined) envelope.subject = draft.subject;
  if (draft.dataschema !== undefined) envelope.dataschema = draft.dataschema;
  if (draft.causationid !== undefined) envelope.causationid = draft.causationid;
  if (draft.tracestate !== undefined) envelope.tracestate = draft.tracestate;
  if (draft.partitionkey !== undefined) envelope.partitionkey = draft.partitionkey;
  return envelope;
}

/** The draft of an event caused by `cause`: same correlation and trace, causation = cause's id. */
export function causedBy(cause: EventEnvelope, draft: EventDraft): EventDraft {
  return {
    ...draft,
    correlationid: cause.correlationid,
    causationid: cause.id,
    traceparent: cause.traceparent,
    tracestate: draft.tracestate ?? cause.tracestate,
  };
}

/**
 * Type patterns used by subscriptions and queries: exact (`exam.created`), trailing wildcard
 * (`exam.*`, matching `exam.created` and `exam.sheet.graded`), or `*` for everything.
 */
export function typeMatches(pattern: string, type: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

export function matchesAnyType(patterns: readonly string[] | undefined, type: string): boolean {
  return !patterns || patterns.length === 0 || patterns.some((pattern) => typeMatches(pattern, type));
}
