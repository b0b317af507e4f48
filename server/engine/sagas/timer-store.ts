/**
 * The TimerStore port: durable timers ("if grading has not finished in 10 minutes, escalate", saga
 * deadlines). Implementations: in memory (unit tests) and drizzle on PGlite / Postgres
 * (server/adapters/postgres/sagas). Every implementation passes `describeTimerStoreContract`.
 *
 * A due timer is claimed with a lease (across processes each claim goes to one claimer:
 * `FOR UPDATE SKIP LOCKED`), its handler runs, and `complete` marks it fired. A claimer that dies
 * mid-handler leaves the claim to expire and another process fires the timer again, so handlers
 * make their effect idempotent by the timer's id (e.g. an event id derived from it): the timer
 * fires, in effect, exactly once.
 */

export const timerStatuses = ["scheduled", "fired", "cancelled"] as const;
export type TimerStatus = (typeof timerStatuses)[number];

export interface TimerRecord {
  /** Chosen by the scheduler, deterministic (e.g. `saga-deadline:<sagaId>`), so scheduling twice keeps one timer. */
  id: string;
  /** Which handler fires it (`saga.deadline`, `sheet.grading_overdue`). */
  kind: string;
  /** What it is about (a saga id, a sheet id): for listing and cancelling. */
  key: string;
  dueAt: string;
  payload: unknown;
  status: TimerStatus;
  /** Handler runs started (a failed or crashed run counts). */
  attempts: number;
  createdAt: string;
  firedAt: string | null;
  /** The last failed run's error. */
  lastError: string | null;
  claimedBy: string | null;
  claimedUntil: string | null;
}

export interface ScheduleTimer {
  id: string;
  kind: string;
  key: string;
  dueAt: string;
  payload: unknown;
}

export interface TimerListQuery {
  kind?: string;
  key?: string;
  status?: TimerStatus;
  /** 1..1000; soonest due first. */
  limit: number;
}

export interface TimerStore {
  /** Stores a scheduled timer unless one with its id exists (any status). True when stored. */
  schedule(timer: ScheduleTimer, now: string): Promise<boolean>;
  /**
   * Cancels a scheduled timer (not one being fired: its claim is left to finish, and a claim whose
   * holder died is fired by the next claimer). True when cancelled.
   */
  cancel(id: string): Promise<boolean>;
  /** Cancels every scheduled timer of `key` (e.g. a saga that ended). Returns how many. */
  cancelByKey(key: string): Promise<number>;
  get(id: string): Promise<TimerRecord | undefined>;
  list(query: TimerListQuery): Promise<TimerRecord[]>;
  /**
   * Takes up to `limit` scheduled timers with `dueAt <= now` whose claim is free or expired, soonest
   * first; counts an attempt and sets `claimedBy` / `claimedUntil = now + leaseMs`.
   */
  claimDue(args: { owner: string; now: string; leaseMs: number; limit: number; kinds?: string[] }): Promise<TimerRecord[]>;
  /**
   * Marks a claimed timer fired, if `owner` still holds the claim (nobody claimed it since, even if
   * its lease ran out: the effect happened, nobody else started it). True when marked.
   */
  complete(id: string, owner: string, now: string): Promise<boolean>;
  /** Gives a claim back after a failed run: due again at `dueAt`, with the error kept. */
  release(id: string, owner: string, args: { dueAt: string; error: string }): Promise<boolean>;
  /**
   * When the soonest scheduled timer can next be claimed (to sleep until then): its `dueAt`, or
   * the end of its claim when one holds it. Undefined when none is scheduled.
   */
  nextDueAt(kinds?: string[]): Promise<string | undefined>;
  /** Removes fired and cancelled timers that fired (or, cancelled, were due) before `before`. Returns how many. */
  prune(before: string): Promise<number>;
}
