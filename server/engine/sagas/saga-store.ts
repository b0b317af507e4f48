/**
 * The SagaStore port: the durable state of every saga instance, one record per saga, written after
 * every transition. Implementations: in memory (unit tests) and drizzle on PGlite / Postgres
 * (server/adapters/postgres/sagas). Every implementation passes `describeSagaStoreContract`.
 *
 * Work is handed out by lease: a saga is due when `wakeAt <= now` and nobody holds an unexpired
 * lease on it. `claimDue` takes due sagas (across processes each saga goes to one claimer:
 * `FOR UPDATE SKIP LOCKED` in Postgres), and `save` writes the next state only while the saver
 * still holds the lease and the revision it read is current, so a worker that lost its lease (it
 * stalled past `leaseMs`) can never overwrite the state another worker moved on.
 */

export const sagaStatuses = ["running", "completed", "compensating", "compensated", "failed", "cancelled"] as const;
/**
 * - `running`: forward steps are being run (or awaited).
 * - `completed`: every step completed (or was skipped).
 * - `compensating`: a step failed for good, or the saga was cancelled; compensations are running.
 * - `compensated`: after a failure, every compensation that was needed completed.
 * - `failed`: a compensation kept failing: the saga waits for an operator (retry resumes it).
 * - `cancelled`: cancelled by an operator (or its deadline), and compensated.
 */
export type SagaStatus = (typeof sagaStatuses)[number];

export const terminalSagaStatuses: readonly SagaStatus[] = ["completed", "compensated", "cancelled"];
/** Statuses a worker has something to do in (when due). */
export const activeSagaStatuses: readonly SagaStatus[] = ["running", "compensating"];

export const sagaStepStatuses = ["pending", "running", "waiting", "completed", "failed", "skipped"] as const;
/**
 * - `pending`: not reached yet.
 * - `running`: an attempt started (recorded before the action runs, so attempts survive crashes).
 * - `waiting`: the action was started and the step waits for its outcome (a task, child sagas).
 * - `completed` / `failed` (for good) / `skipped` (its `when` did not hold).
 */
export type SagaStepStatus = (typeof sagaStepStatuses)[number];

export interface SagaErrorInfo {
  type: string;
  message: string;
}

export interface SagaStepAttempt {
  attempt: number;
  startedAt: string;
  endedAt: string | null;
  /** Set when the attempt failed. */
  error?: SagaErrorInfo;
}

/** An event the step's action caused (a command's events, the task's final event): linked to the event detail. */
export interface SagaStepEvent {
  id: string;
  type: string;
  position?: number;
}

export interface SagaStepRecord {
  name: string;
  status: SagaStepStatus;
  attempts: number;
  startedAt: string | null;
  endedAt: string | null;
  /** The last attempt's error. */
  error?: SagaErrorInfo;
  /** When the next attempt is due (after a failed attempt with attempts left). */
  nextAttemptAt?: string | null;
  /** The action's result (JSON), once completed. */
  result?: unknown;
  events: SagaStepEvent[];
  /** Every attempt, oldest first (at most the last 20 kept). */
  history: SagaStepAttempt[];
}

/** The outcome of something a saga waits for, delivered by `signal`. */
export type SagaSignalOutcome =
  | { ok: true; result: unknown; events?: SagaStepEvent[] }
  | { ok: false; error: SagaErrorInfo; retryable: boolean; events?: SagaStepEvent[] };

export type SagaKind = "orchestrated" | "choreographed";

export interface SagaRecord {
  id: string;
  type: string;
  kind: SagaKind;
  status: SagaStatus;
  /** The saga's subject (e.g. a sheet id), or null. */
  subject: string | null;
  correlationid: string;
  traceparent: string | null;
  /** The saga that started this one as a child, or null. */
  parentId: string | null;
  input: unknown;
  /** What the completed steps left (see SagaStepDefinition.apply). */
  data: unknown;
  /** Forward steps, in definition order (every step listed; unreached ones `pending`). */
  steps: SagaStepRecord[];
  /** Compensations in the order they ran (each named after its step). */
  compensations: SagaStepRecord[];
  /** Why the saga is compensating / failed / cancelled: the failed step's error, or the cancel reason. */
  error: SagaErrorInfo | null;
  /** The step (forward, by index) the saga is at; while compensating, the step whose compensation is next. */
  cursor: number;
  /** When a worker should next look at the saga; null while it only waits for a signal and has no deadline. */
  wakeAt: string | null;
  /** Signal keys the current step waits for (`task:<taskId>`, `saga:<childId>`); empty when waiting for nothing. */
  awaiting: string[];
  /** Outcomes received for awaited keys (kept until the step moves on). */
  signals: Record<string, SagaSignalOutcome>;
  /** An operator asked to cancel; the worker that holds the saga honours it at its next transition. */
  cancelRequested: boolean;
  startedAt: string;
  updatedAt: string;
  endedAt: string | null;
  /** Incremented by every save: optimistic concurrency. */
  revision: number;
  /** The worker that holds the saga, and until when; null when free. */
  leaseOwner: string | null;
  leaseUntil: string | null;
}

export interface SagaListQuery {
  type?: string;
  status?: SagaStatus;
  correlationid?: string;
  kind?: SagaKind;
  parentId?: string;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  /** 1..1000; newest first. */
  limit: number;
}

export interface SagaPage {
  items: SagaRecord[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export interface SagaCounts {
  /** Per type, per status (zeros left out). */
  byType: Record<string, Partial<Record<SagaStatus, number>>>;
}

export interface ClaimArgs {
  owner: string;
  /** ISO time the claim is judged against (the orchestrator's clock). */
  now: string;
  leaseMs: number;
}

/** A save lost: the revision moved on or the lease passed to another worker. Stop working on the saga. */
export class SagaLeaseLostError extends Error {
  constructor(
    readonly sagaId: string,
    message: string,
  ) {
    super(message);
    this.name = "SagaLeaseLostError";
  }
}

export interface SagaStore {
  /**
   * Stores a new saga (revision 1), unless one with its id exists: then nothing is written and the
   * stored one is returned with `created: false`. `lease` takes it for `owner` at once (the starter
   * runs the first step without waiting for a claim).
   */
  create(saga: SagaRecord, lease?: ClaimArgs): Promise<{ created: boolean; saga: SagaRecord }>;
  get(id: string): Promise<SagaRecord | undefined>;
  list(query: SagaListQuery): Promise<SagaPage>;
  counts(): Promise<SagaCounts>;
  /** Takes up to `limit` due sagas (active status, `wakeAt <= now`, lease free or expired), oldest `wakeAt` first. */
  claimDue(args: ClaimArgs & { limit: number }): Promise<SagaRecord[]>;
  /** Takes one saga by id if its lease is free or expired (due or not). */
  claim(id: string, args: ClaimArgs): Promise<SagaRecord | undefined>;
  /**
   * Writes `next` (its revision must equal the stored revision; the stored one becomes revision + 1)
   * if `owner` still holds an unexpired lease. `release` frees the lease; otherwise it is extended
   * by `leaseMs` from `now`. Throws SagaLeaseLostError when either check fails.
   */
  save(next: SagaRecord, args: ClaimArgs & { release: boolean }): Promise<SagaRecord>;
  /**
   * Delivers an outcome to every active saga whose `awaiting` holds `key` and that has no outcome
   * for it yet: stores it in `signals` and makes the saga due now. Idempotent. Returns the ids of
   * the sagas it reached (none when nothing awaits the key).
   */
  signal(key: string, outcome: SagaSignalOutcome, now: string): Promise<string[]>;
  /**
   * Operator actions on a saga nobody may hold: sets fields without a lease (cancel requested, a
   * failed saga made active again), makes it due now, bumps the revision. Returns the stored record,
   * or undefined when `expectedRevision` is stale.
   */
  update(id: string, expectedRevision: number, patch: Partial<Pick<SagaRecord, "status" | "cancelRequested" | "wakeAt" | "cursor" | "compensations" | "error">>, now: string): Promise<SagaRecord | undefined>;
  /**
   * Upserts a choreographed saga's view (rebuilt from the log on every event; no lease). A stored
   * view with a higher revision (rebuilt from more events, by another process) is kept: trackers
   * in several processes may finish out of order.
   */
  put(saga: SagaRecord): Promise<void>;
}
