import type { EventEnvelope, StoredEvent } from "../core/envelope";

/**
 * The EventStore port. Implementations: in-memory (unit tests) and drizzle on PGlite / Postgres
 * (server/adapters/postgres). Every implementation passes `describeEventStoreContract`.
 *
 * Guarantees:
 * - `position` is gap-free and increases in commit order: a reader that has seen position N has
 *   seen every committed event with a position below N, and no later commit can land below it.
 * - An append is atomic across all of its streams: all events are stored or none.
 * - An event whose `id` is already stored is not stored again: the stored one is returned in its
 *   place, flagged `duplicate` (producer-supplied ids are idempotency keys).
 */

/** `any`: no check. `no_stream`: the stream must not exist. `stream_exists`: it must. A number: the stream's current version. */
export type ExpectedVersion = number | "any" | "no_stream" | "stream_exists";

export interface StreamAppend {
  streamId: string;
  expectedVersion: ExpectedVersion;
  events: EventEnvelope[];
}

export interface IdempotencyClaim {
  /** Scoped by the caller, e.g. `events:<principal>:<Idempotency-Key>`. */
  key: string;
  /** Hash of the request body: the same key with another body is a mismatch. */
  fingerprint: string;
}

export interface AppendedEvent extends StoredEvent {
  /** True when an event with this id was already stored (this is that event). */
  duplicate: boolean;
}

export type AppendOutcome =
  | { status: "appended"; events: AppendedEvent[] }
  /** The idempotency key was used before with the same fingerprint: these are that append's events. */
  | { status: "replayed"; events: StoredEvent[] }
  | { status: "conflict"; streamId: string; expected: ExpectedVersion; actual: number }
  | { status: "idempotency_mismatch"; key: string };

export interface ReadAllFilter {
  /** Exclusive lower bound: events with position > after. */
  after?: number;
  /** Inclusive upper bound. */
  toPosition?: number;
  /** Type patterns (`exam.created`, `exam.*`, `*`); any matches. */
  types?: string[];
  subject?: string;
  correlationid?: string;
  /** Event time range, inclusive, RFC 3339. */
  from?: string;
  to?: string;
  limit: number;
}

export interface ReadAllPage {
  events: StoredEvent[];
  /**
   * Where the next read should continue (`after`). Equals the last scanned position even when
   * filters matched nothing, so a filtered tail does not rescan the log.
   */
  lastPosition: number;
}

export interface ReadStreamOptions {
  /** Inclusive, 1-based. */
  fromVersion?: number;
  limit?: number;
}

export interface CheckpointStore {
  /** Position processed up to, or 0. */
  load(name: string): Promise<number>;
  /**
   * Compare-and-set: stores `position` only if the current value is `expected`. Returns false if
   * another processor moved it (the caller must stop: it no longer owns the checkpoint).
   */
  store(name: string, position: number, expected: number): Promise<boolean>;
  list(): Promise<Array<{ name: string; position: number; updatedAt: string }>>;
}

export interface EventStore {
  append(appends: StreamAppend[], options?: { idempotency?: IdempotencyClaim }): Promise<AppendOutcome>;
  /**
   * What an append with this claim would answer without appending anything: the first append's
   * events ("replayed"), "idempotency_mismatch" for another fingerprint, or undefined when the key
   * is unused. Lets a command be answered before it is decided again against newer state.
   */
  lookupIdempotency(claim: IdempotencyClaim): Promise<Extract<AppendOutcome, { status: "replayed" | "idempotency_mismatch" }> | undefined>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<StoredEvent[]>;
  /** Current version of a stream, 0 if it has no events. */
  streamVersion(streamId: string): Promise<number>;
  readAll(filter: ReadAllFilter): Promise<ReadAllPage>;
  getById(id: string): Promise<StoredEvent | undefined>;
  /** Highest committed position, 0 when empty. */
  headPosition(): Promise<number>;
  readonly checkpoints: CheckpointStore;
  /**
   * Called after this process commits an append (wake-up for tails; other processes' appends are
   * seen by polling or by the adapter's own notification, e.g. LISTEN/NOTIFY).
   */
  onAppended(listener: (headPosition: number) => void): () => void;
  /** Round trip to the backing store, for health checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
