import { buildEnvelope, type EventDraft, type EventEnvelope, type StoredEvent } from "../core/envelope";
import { ValidationError, type FieldIssue } from "../core/errors";
import type { Result } from "../core/result";
import type { AppendedEvent, IdempotencyClaim } from "./event-store";
import { mergeByStream, type Appender } from "./group-commit";

/** The part of the event-type registry the publisher needs. */
export interface EventValidator {
  validate(type: string, data: unknown, version?: number): Result<unknown, FieldIssue[]>;
  get(type: string): { version: number } | undefined;
}

/** Where committed events go next in this process (the in-process bus). */
export interface CommittedEventSink {
  publishMany(events: StoredEvent[]): { syncErrors: ReadonlyArray<{ subscription: string; error: unknown }> };
}

export type PublishOutcome =
  | { status: "accepted"; events: AppendedEvent[] }
  /** The idempotency key was seen before with the same request: the original events. */
  | { status: "replayed"; events: StoredEvent[] }
  | { status: "idempotency_mismatch" };

export interface PublishOptions {
  idempotency?: IdempotencyClaim;
  /** Prefix for issue paths of the draft at `index`, e.g. `events[3].` for a batch. */
  issuePrefix?: (index: number) => string;
}

/**
 * Publishing an event: validate every draft against the registry, build envelopes, make them
 * durable in the event store (all or nothing), then hand the new ones to the in-process bus.
 * The store's global log is the outbox: transports relay from it, never from here.
 */
export class EventPublisher {
  constructor(
    private readonly store: Appender,
    private readonly validator: EventValidator,
    private readonly sink: CommittedEventSink,
    private readonly onHandlerError: (failure: { subscription: string; error: unknown }) => void,
    private readonly now: () => number = Date.now,
  ) {}

  async publish(drafts: EventDraft[], options: PublishOptions = {}): Promise<PublishOutcome> {
    const envelopes = toValidEnvelopes(drafts, this.validator, { now: this.now, issuePrefix: options.issuePrefix });
    const outcome = await this.store.append(
      mergeByStream(envelopes.map((event) => ({ streamId: streamIdOf(event), expectedVersion: "any", events: [event] }))),
      { idempotency: options.idempotency },
    );
    switch (outcome.status) {
      case "appended": {
        // The store answers stream by stream; callers expect the order of their request.
        const byId = new Map(outcome.events.map((event) => [event.id, event]));
        const events = envelopes.map((envelope) => byId.get(envelope.id.toLowerCase())!);
        handToSink(this.sink, events, this.onHandlerError);
        return { status: "accepted", events };
      }
      case "replayed":
        return { status: "replayed", events: inRequestOrder(envelopes, outcome.events) };
      case "idempotency_mismatch":
        return { status: "idempotency_mismatch" };
      case "conflict":
        // Published events append with expectedVersion "any", so the store cannot report one.
        throw new Error(`unexpected version conflict on stream ${outcome.streamId}`);
    }
  }
}

/**
 * Validates every draft against the registry and builds its envelope. All failing fields of all
 * drafts are reported together (one ValidationError), so a bad draft stores nothing at all.
 */
export function toValidEnvelopes(
  drafts: readonly EventDraft[],
  validator: EventValidator,
  options: { now?: () => number; issuePrefix?: (index: number) => string } = {},
): EventEnvelope[] {
  const issues: FieldIssue[] = [];
  // A draft without a schema version is written at the type's latest version: validating it
  // against the latest but stamping it 1 would make readers upcast data that is already current.
  const versioned = drafts.map((draft) => ({
    ...draft,
    schemaversion: draft.schemaversion ?? validator.get(draft.type)?.version,
  }));
  versioned.forEach((draft, index) => {
    const result = validator.validate(draft.type, draft.data, draft.schemaversion);
    if (result.ok) return;
    const prefix = options.issuePrefix?.(index) ?? "";
    for (const issue of result.error) issues.push({ path: prefix + issue.path, message: issue.message });
  });
  if (issues.length > 0) {
    throw new ValidationError(
      issues.length === 1 ? `Invalid event: ${issues[0]!.path}: ${issues[0]!.message}` : `${issues.length} invalid fields`,
      issues,
    );
  }
  return versioned.map((draft) => buildEnvelope(draft, options.now));
}

/**
 * Hands just-committed events to the in-process bus. They are committed: a failing sync handler
 * cannot undo that, so its error is the handler's problem, reported, and the caller still succeeds.
 * Duplicates (already stored, so already handed over once) are skipped.
 */
export function handToSink(
  sink: CommittedEventSink,
  events: readonly AppendedEvent[],
  onHandlerError: (failure: { subscription: string; error: unknown }) => void,
): void {
  const fresh = events.filter((event) => !event.duplicate);
  if (fresh.length === 0) return;
  for (const failure of sink.publishMany(fresh).syncErrors) onHandlerError(failure);
}

/**
 * A replay answers with the stored events stream by stream; the idempotency fingerprint proves the
 * request is the same, so each draft's event is the next unclaimed one of the draft's stream.
 */
function inRequestOrder(drafts: ReadonlyArray<{ subject?: string; type: string }>, stored: StoredEvent[]): StoredEvent[] {
  const queues = new Map<string, StoredEvent[]>();
  for (const event of stored) {
    const queue = queues.get(event.streamid);
    if (queue) queue.push(event);
    else queues.set(event.streamid, [event]);
  }
  return drafts.map((draft) => queues.get(streamIdOf(draft))?.shift()).filter((event) => event !== undefined);
}

/**
 * Events published directly (not through a command) belong to the stream of their subject, so an
 * entity's history reads as one stream; events without a subject share a stream per type.
 */
export function streamIdOf(event: { subject?: string; type: string }): string {
  return event.subject ?? `$type-${event.type}`;
}
