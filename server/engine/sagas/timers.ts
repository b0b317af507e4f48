import { systemClock, type Clock } from "../core/clock";
import type { ScheduleTimer, TimerListQuery, TimerRecord, TimerStore } from "./timer-store";

/**
 * Durable timers: a process registers a handler per timer kind and `start`s a polling loop that
 * claims due timers of those kinds (with a lease, so each goes to one process at a time), runs the
 * handler and marks the timer fired. A failed run is released to be tried again after a backoff
 * (1 s, doubling, at most 5 min) with its error kept; a run that outlives its lease is aborted
 * (another process may claim the timer once the lease is over, so the run must not go on as if it
 * still held it). Handlers make their effect idempotent by the timer id: a process that dies after
 * the effect but before `complete` has its timer fired again elsewhere.
 */

export type TimerHandler = (timer: TimerRecord, context: { signal: AbortSignal }) => Promise<void>;

export interface DurableTimersOptions {
  store: TimerStore;
  /** This process's name in claims (unique per process). */
  owner: string;
  /** Longest sleep between looks for due timers when none is due sooner. */
  pollIntervalMs?: number;
  /** How long a claim holds; a handler still running at LEASE_ABORT_FRACTION of it is aborted. */
  leaseMs?: number;
  /** Timers claimed per pass, and the most handlers running at once. */
  batchSize?: number;
  clock?: Clock;
  onError?(info: { timerId?: string; error: unknown }): void;
}

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 5 * 60_000;
/** How long `stop` lets running handlers finish before aborting them. */
const STOP_GRACE_MS = 5_000;
/** The share of the lease a handler may use: the rest is left for writing its outcome before the claim runs out. */
const LEASE_ABORT_FRACTION = 0.8;
/** The shortest sleep after a pass that left the batch unfilled. */
const MIN_IDLE_SLEEP_MS = 10;

/** The delay before the run after failed run number `attempts`: 1 s, 2 s, 4 s... at most 5 min. */
export function timerRetryDelayMs(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
}

/** Why a run was cut short; the run is then released instead of waited for. */
class RunAbortedError extends Error {
  constructor(message: string, readonly retryAt: "now" | "backoff") {
    super(message);
    this.name = "RunAbortedError";
  }
}

interface RunningTimer {
  controller: AbortController;
  done: Promise<void>;
}

export class DurableTimers {
  private readonly store: TimerStore;
  private readonly owner: string;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly clock: Clock;
  private readonly onError: (info: { timerId?: string; error: unknown }) => void;
  private readonly handlers = new Map<string, TimerHandler>();
  private readonly running = new Map<string, RunningTimer>();
  private loop: Promise<void> | undefined;
  private stopping = false;
  /** Ends the loop's current sleep early (a handler finished, a sooner timer was scheduled, stop). */
  private wake: (() => void) | undefined;
  /** Epoch ms the loop sleeps until, while it sleeps. */
  private sleepingUntil: number | undefined;

  constructor(options: DurableTimersOptions) {
    this.store = options.store;
    this.owner = options.owner;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.batchSize = options.batchSize ?? 100;
    this.clock = options.clock ?? systemClock;
    this.onError = options.onError ?? (() => undefined);
    for (const [name, value] of [["pollIntervalMs", this.pollIntervalMs], ["leaseMs", this.leaseMs], ["batchSize", this.batchSize]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`DurableTimers: ${name} must be an integer >= 1, got ${value}`);
    }
  }

  on(kind: string, handler: TimerHandler): void {
    if (this.handlers.has(kind)) throw new Error(`DurableTimers: a handler for timer kind "${kind}" is already registered`);
    this.handlers.set(kind, handler);
  }

  /** Stores the timer unless one with its id exists (then false: the first one stands). */
  async schedule(timer: ScheduleTimer): Promise<boolean> {
    const stored = await this.store.schedule(timer, this.isoNow());
    if (stored && this.sleepingUntil !== undefined && Date.parse(timer.dueAt) < this.sleepingUntil) this.wake?.();
    return stored;
  }

  cancel(id: string): Promise<boolean> {
    return this.store.cancel(id);
  }

  cancelByKey(key: string): Promise<number> {
    return this.store.cancelByKey(key);
  }

  list(query: TimerListQuery): Promise<TimerRecord[]> {
    return this.store.list(query);
  }

  get(id: string): Promise<TimerRecord | undefined> {
    return this.store.get(id);
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.poll();
  }

  /** Stops claiming, lets running handlers finish for a grace period, then aborts them and gives their claims back. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    const draining = Promise.all([...this.running.values()].map((run) => run.done));
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<"grace_over">((resolve) => {
      graceTimer = setTimeout(() => resolve("grace_over"), STOP_GRACE_MS);
    });
    try {
      if ((await Promise.race([draining, graceOver])) === "grace_over") {
        for (const run of this.running.values()) run.controller.abort(new RunAbortedError(`timers of ${this.owner} stopped before the handler finished`, "now"));
        await draining;
      }
    } finally {
      clearTimeout(graceTimer);
    }
  }

  /** One pass: claims the due timers this process has handlers for, runs them, and returns how many fired. */
  async fireDue(): Promise<number> {
    const runs = await this.claimAndRun();
    const outcomes = await Promise.all(runs);
    return outcomes.filter(Boolean).length;
  }

  private async poll(): Promise<void> {
    while (!this.stopping) {
      try {
        const capacity = this.batchSize - this.running.size;
        const claimedFully = capacity > 0 && (await this.claimAndRun()).length === capacity;
        if (claimedFully) continue;
        // A timer that looks claimable but was not (another process is claiming it right now) must
        // not make this loop spin until that claim commits.
        await this.sleep(Math.max(await this.nextWakeAt(), this.clock.now() + MIN_IDLE_SLEEP_MS));
      } catch (error) {
        this.onError({ error });
        // The store is failing: look again after a poll interval, not at once.
        await this.sleep(this.clock.now() + this.pollIntervalMs);
      }
    }
  }

  /** When to look again: the next timer's claimable moment, but no later than a poll interval from now. */
  private async nextWakeAt(): Promise<number> {
    const latest = this.clock.now() + this.pollIntervalMs;
    // At capacity, only a finishing handler (which wakes the loop) or the poll interval helps.
    if (this.running.size >= this.batchSize || this.handlers.size === 0) return latest;
    const next = await this.store.nextDueAt([...this.handlers.keys()]);
    return next === undefined ? latest : Math.min(latest, Date.parse(next));
  }

  private async sleep(until: number): Promise<void> {
    const ms = until - this.clock.now();
    if (ms <= 0 || this.stopping) return;
    this.sleepingUntil = until;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.wake?.(), ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
    this.sleepingUntil = undefined;
  }

  /** Claims what fits in the batch and starts each run; each promise says whether its timer fired. */
  private async claimAndRun(): Promise<Array<Promise<boolean>>> {
    const limit = this.batchSize - this.running.size;
    if (limit <= 0 || this.handlers.size === 0) return [];
    const claimed = await this.store.claimDue({ owner: this.owner, now: this.isoNow(), leaseMs: this.leaseMs, limit, kinds: [...this.handlers.keys()] });
    return claimed.map((timer) => this.run(timer));
  }

  private run(timer: TimerRecord): Promise<boolean> {
    const controller = new AbortController();
    const fired = this.fire(timer, controller);
    const done = fired.then(() => undefined);
    this.running.set(timer.id, { controller, done });
    void done.finally(() => {
      this.running.delete(timer.id);
      // A slot is free: the loop may have been sleeping at capacity.
      if (this.running.size === this.batchSize - 1) this.wake?.();
    });
    return fired;
  }

  private async fire(timer: TimerRecord, controller: AbortController): Promise<boolean> {
    const leaseTimer = setTimeout(
      () => controller.abort(new RunAbortedError(`handler did not finish within ${LEASE_ABORT_FRACTION * 100}% of the ${this.leaseMs} ms lease`, "backoff")),
      Math.floor(this.leaseMs * LEASE_ABORT_FRACTION),
    );
    try {
      const handler = this.handlers.get(timer.kind);
      if (!handler) throw new Error(`claimed a timer of kind "${timer.kind}", which has no handler here`);
      // A handler that ignores its signal is not waited for: its claim is given back at the abort.
      const aborted = new Promise<never>((_, reject) => {
        controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
      });
      await Promise.race([handler(structuredClone(timer), { signal: controller.signal }), aborted]);
    } catch (error) {
      this.onError({ timerId: timer.id, error });
      const retryAt = error instanceof RunAbortedError && error.retryAt === "now" ? this.clock.now() : this.clock.now() + timerRetryDelayMs(timer.attempts);
      await this.store
        .release(timer.id, this.owner, { dueAt: new Date(retryAt).toISOString(), error: describeError(error) })
        .catch((releaseError: unknown) => this.onError({ timerId: timer.id, error: releaseError }));
      return false;
    } finally {
      clearTimeout(leaseTimer);
    }
    try {
      return await this.store.complete(timer.id, this.owner, this.isoNow());
    } catch (error) {
      // The claim runs out and the timer fires again elsewhere: the handler's effect is idempotent.
      this.onError({ timerId: timer.id, error });
      return false;
    }
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
