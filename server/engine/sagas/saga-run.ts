import type { Clock } from "../core/clock";
import { SAGA_EVENT_TYPES } from "./events";
import type { SagaEventSink } from "./ports";
import { stepIdempotencyKey, type SagaAction, type SagaDefinition, type SagaRetryPolicy, type SagaStepDefinition, type StepContext } from "./saga-definition";
import {
  activeSagaStatuses,
  SagaLeaseLostError,
  type SagaErrorInfo,
  type SagaRecord,
  type SagaStatus,
  type SagaStepRecord,
  type SagaStore,
} from "./saga-store";
import {
  classifyFailure,
  lookupOutcome,
  resolveAwaited,
  retryDelayMs,
  runAction,
  sagaErrorInfo,
  sagaEventId,
  SagaShutdownError,
  SagaStepTimeoutError,
  type ActionDeps,
  type ActionOutcome,
} from "./step-actions";

/**
 * One claimed saga driven forward by the worker that holds its lease, transition by transition,
 * until it has to wait (an awaited outcome, a retry delay), ends, or the worker stops. Every
 * transition is saved before the work it announces (an attempt's start before its action runs),
 * and a completion is saved together with the next start, so the happy path writes once per step.
 */

export type SagaObservation =
  /** The action returned (its effect happened); the save recording that has not been made yet. */
  | { kind: "action_done"; saga: SagaRecord; step: string; phase: "forward" | "compensation" }
  /** A transition was saved (one observation per transition when a save holds several). */
  | { kind: "saved"; saga: SagaRecord; transition: string };

export interface ResolvedStep {
  definition: SagaStepDefinition<unknown>;
  retry: SagaRetryPolicy;
  compensationRetry: SagaRetryPolicy;
  timeoutMs: number;
}

export interface ResolvedSaga {
  definition: SagaDefinition<unknown, unknown>;
  steps: ResolvedStep[];
}

/** What a run needs from the orchestrator that started it. */
export interface RunEnvironment {
  store: SagaStore;
  owner: string;
  leaseMs: number;
  clock: Clock;
  random: () => number;
  events: SagaEventSink;
  actions: ActionDeps;
  /** The orchestrator is stopping: save what is done and let go. */
  stopping(): boolean;
  /** Registers an attempt's controller so a stop can abort it; returns the unregistration. */
  track(controller: AbortController): () => void;
  observe(observation: SagaObservation): Promise<void>;
  transitionsSaved(count: number): void;
  /** The saga is due and free: advance it again in this process if there is room. */
  continueSoon(sagaId: string): void;
  /** The saga reached an end (terminal or failed): cancel its timers, tell a waiting parent. */
  ended(saga: SagaRecord): Promise<void>;
  report(info: { sagaId: string; stage: string; error: unknown }): void;
}

/** Bounds one run (every loop is bounded); a saga with more to do is released and claimed again. */
const MAX_TRANSITIONS_PER_RUN = 1_000;
/** How long a saga whose run broke (a store or publish error) rests before a worker tries again. */
const ERROR_BACKOFF_MS = 5_000;
const HISTORY_LIMIT = 20;

interface StepWork {
  phase: "forward" | "compensation";
  record: SagaStepRecord;
  action: SagaAction<unknown>;
  policy: SagaRetryPolicy;
  timeoutMs: number;
}

type WorkResult = { kind: "completed"; result: unknown } | { kind: "failed"; error: SagaErrorInfo } | { kind: "yielded" } | { kind: "cancelled" };

const YIELDED: WorkResult = { kind: "yielded" };
const CANCELLED: WorkResult = { kind: "cancelled" };
const NEVER_ABORTED = new AbortController().signal;

export function pendingStep(name: string): SagaStepRecord {
  return { name, status: "pending", attempts: 0, startedAt: null, endedAt: null, events: [], history: [] };
}

export class SagaRun {
  readonly #saga: SagaRecord;
  /** The record as last read or saved: a lost save is merged again only if nobody but a signal or an operator's cancel changed it. */
  #base: SagaRecord;
  /** Transitions made in memory since the last save. */
  readonly #marks: string[] = [];

  constructor(
    private readonly env: RunEnvironment,
    private readonly resolved: ResolvedSaga,
    saga: SagaRecord,
  ) {
    this.#saga = saga;
    this.#base = structuredClone(saga);
  }

  /** Advances the saga until it waits, ends or the worker stops. Never throws: a lost lease ends the run quietly. */
  async drive(): Promise<"done" | "lease_lost"> {
    try {
      for (let transitions = 0; transitions < MAX_TRANSITIONS_PER_RUN; transitions++) {
        if (!(await this.#next())) return "done";
      }
      await this.#commit(true);
      return "done";
    } catch (error) {
      if (error instanceof SagaLeaseLostError) return "lease_lost";
      this.env.report({ sagaId: this.#saga.id, stage: "advance", error });
      return this.#restAfterError();
    }
  }

  /** Lets go of a saga whose run broke: its stored state (not the half-made one in memory) rests a while. */
  async #restAfterError(): Promise<"done" | "lease_lost"> {
    try {
      const stored = await this.env.store.get(this.#saga.id);
      if (!stored || stored.leaseOwner !== this.env.owner) return "lease_lost";
      const now = this.env.clock.now();
      const rest = activeSagaStatuses.includes(stored.status) ? { wakeAt: new Date(now + ERROR_BACKOFF_MS).toISOString() } : {};
      await this.env.store.save({ ...stored, ...rest }, this.#claimArgs(true));
      return "done";
    } catch (error) {
      if (error instanceof SagaLeaseLostError) return "lease_lost";
      // The lease runs out and another worker takes the saga over.
      this.env.report({ sagaId: this.#saga.id, stage: "release", error });
      return "done";
    }
  }

  /** One transition; false when the run is over. */
  async #next(): Promise<boolean> {
    const saga = this.#saga;
    if (this.env.stopping() || !activeSagaStatuses.includes(saga.status)) {
      await this.#commit(true);
      return false;
    }
    return saga.status === "running" ? this.#forward() : this.#compensate();
  }

  async #forward(): Promise<boolean> {
    const saga = this.#saga;
    if (saga.cancelRequested) {
      await this.#beginCompensation(null, saga.error ?? { type: "SagaCancelled", message: "cancelled" });
      return true;
    }
    const index = saga.cursor;
    const step = this.resolved.steps[index];
    const record = saga.steps[index];
    if (!step || !record) {
      await this.#end("completed");
      return false;
    }
    if (record.status === "pending") {
      let runs: boolean;
      try {
        runs = step.definition.when ? step.definition.when(saga.data) : true;
      } catch (error) {
        return this.#failStep(record, sagaErrorInfo(error));
      }
      if (!runs) {
        record.status = "skipped";
        record.endedAt = this.#nowIso();
        saga.cursor = index + 1;
        this.#marks.push(`step_skipped:${record.name}`);
        return true;
      }
    }
    const outcome = await this.#work({ phase: "forward", record, action: step.definition.action, policy: step.retry, timeoutMs: step.timeoutMs });
    switch (outcome.kind) {
      case "yielded":
        return false;
      case "cancelled":
        return true;
      case "failed":
        await this.#beginCompensation(record.name, outcome.error);
        return true;
      case "completed":
        try {
          if (step.definition.apply) saga.data = step.definition.apply(saga.data, outcome.result);
        } catch (error) {
          return this.#failStep(record, sagaErrorInfo(error));
        }
        saga.cursor = index + 1;
        saga.wakeAt = this.#nowIso();
        return true;
    }
  }

  /** A step that cannot go on (its `when` or `apply` threw): failed for good, compensation begins. */
  async #failStep(record: SagaStepRecord, error: SagaErrorInfo): Promise<boolean> {
    record.status = "failed";
    record.error = error;
    record.endedAt = this.#nowIso();
    this.#marks.push(`step_failed:${record.name}`);
    await this.#beginCompensation(record.name, error);
    return true;
  }

  async #beginCompensation(failedStep: string | null, error: SagaErrorInfo): Promise<void> {
    const saga = this.#saga;
    const now = this.#nowIso();
    // A step in flight when the saga is cancelled never completed: it is not compensated.
    const current = saga.steps[saga.cursor];
    if (current && (current.status === "running" || current.status === "waiting")) {
      current.status = "failed";
      current.error = error;
      current.endedAt = now;
      current.nextAttemptAt = null;
      const open = current.history.at(-1);
      if (open && open.endedAt === null) Object.assign(open, { endedAt: now, error });
      this.#marks.push(`step_failed:${current.name}`);
    }
    saga.cursor = Math.min(saga.cursor, saga.steps.length - 1);
    const toCompensate = this.#stepsToCompensate().map((index) => this.resolved.steps[index]?.definition.name ?? "");
    await this.#publish("compensating", SAGA_EVENT_TYPES.compensating, { failedStep, error, toCompensate });
    saga.status = "compensating";
    saga.error = error;
    saga.awaiting = [];
    saga.signals = {};
    saga.wakeAt = now;
    this.#marks.push("compensating");
  }

  /** Indexes of completed steps with a compensation not yet completed, from the cursor down. */
  #stepsToCompensate(): number[] {
    const saga = this.#saga;
    const indexes: number[] = [];
    for (let index = Math.min(saga.cursor, saga.steps.length - 1); index >= 0; index--) {
      const record = saga.steps[index];
      if (record?.status !== "completed" || !this.resolved.steps[index]?.definition.compensation) continue;
      if (saga.compensations.some((compensation) => compensation.name === record.name && compensation.status === "completed")) continue;
      indexes.push(index);
    }
    return indexes;
  }

  async #compensate(): Promise<boolean> {
    const saga = this.#saga;
    const index = this.#stepsToCompensate()[0];
    const step = index === undefined ? undefined : this.resolved.steps[index];
    const compensation = step?.definition.compensation;
    if (index === undefined || !step || !compensation) {
      await this.#end(saga.cancelRequested ? "cancelled" : "compensated");
      return false;
    }
    saga.cursor = index;
    const name = step.definition.name;
    // A compensation that failed for good stays in the list as it was; a retry runs a new one.
    let record = saga.compensations.findLast((entry) => entry.name === name && (entry.status === "pending" || entry.status === "running" || entry.status === "waiting"));
    if (!record) {
      record = pendingStep(name);
      saga.compensations.push(record);
    }
    const outcome = await this.#work({ phase: "compensation", record, action: compensation, policy: step.compensationRetry, timeoutMs: step.timeoutMs });
    switch (outcome.kind) {
      case "yielded":
      case "cancelled":
        return false;
      case "completed":
        saga.cursor = index - 1;
        saga.wakeAt = this.#nowIso();
        return true;
      case "failed":
        await this.#publish(`failed:${saga.compensations.length}`, SAGA_EVENT_TYPES.failed, { compensation: name, error: outcome.error });
        saga.status = "failed";
        saga.wakeAt = null;
        this.#marks.push("failed");
        await this.#commit(true);
        await this.env.ended(this.#saga);
        return false;
    }
  }

  async #end(status: Extract<SagaStatus, "completed" | "compensated" | "cancelled">): Promise<void> {
    const saga = this.#saga;
    const durationMs = Math.max(0, Math.round(this.env.clock.now() - Date.parse(saga.startedAt)));
    const error = saga.error ?? { type: "SagaCancelled", message: "cancelled" };
    if (status === "completed") await this.#publish(status, SAGA_EVENT_TYPES.completed, { durationMs });
    else if (status === "compensated") await this.#publish(status, SAGA_EVENT_TYPES.compensated, { durationMs, error });
    else await this.#publish(status, SAGA_EVENT_TYPES.cancelled, { durationMs, reason: error.message });
    saga.status = status;
    saga.endedAt = this.#nowIso();
    saga.wakeAt = null;
    saga.awaiting = [];
    saga.signals = {};
    this.#marks.push(status);
    await this.#commit(true);
    await this.env.ended(this.#saga);
  }

  /** Advances one step (or compensation) by what its record says: start an attempt, resume one, or settle a wait. */
  async #work(work: StepWork): Promise<WorkResult> {
    const { record } = work;
    const saga = this.#saga;
    const now = this.env.clock.now();
    switch (record.status) {
      case "pending":
        return this.#attempt(work, true);
      case "running": {
        // An attempt whose end was never recorded was interrupted (a crash, a stop): not a failure, run it again.
        if (record.history.at(-1)?.endedAt === null) return this.#attempt(work, false);
        if (record.nextAttemptAt && Date.parse(record.nextAttemptAt) > now) {
          saga.wakeAt = record.nextAttemptAt;
          await this.#commit(true);
          return YIELDED;
        }
        return this.#attempt(work, true);
      }
      case "waiting": {
        const resolved = resolveAwaited(work.action, this.#context(work, NEVER_ABORTED), saga.awaiting, saga.signals);
        if (resolved) return this.#settle(work, resolved);
        // A signal made the saga due now; the wait's own deadline is counted from the attempt's start.
        const deadline = waitDeadline(record, work.timeoutMs, now);
        if (deadline <= now) {
          const waited = saga.awaiting.filter((key) => !(key in saga.signals));
          return this.#settle(work, { kind: "failed", error: new SagaStepTimeoutError(`no outcome for ${waited.join(", ")} within ${work.timeoutMs} ms`) });
        }
        saga.wakeAt = new Date(deadline).toISOString();
        await this.#commit(true);
        return YIELDED;
      }
      case "completed":
        return { kind: "completed", result: record.result };
      case "failed":
      case "skipped":
        return { kind: "failed", error: record.error ?? { type: "StepFailed", message: `${record.name} did not complete` } };
    }
  }

  /** Runs one attempt; `fresh` starts (and first saves) a new one, otherwise the interrupted one runs again. */
  async #attempt(work: StepWork, fresh: boolean): Promise<WorkResult> {
    const { record } = work;
    const saga = this.#saga;
    if (fresh) {
      const startedAt = this.#nowIso();
      record.status = "running";
      record.attempts += 1;
      record.startedAt ??= startedAt;
      record.endedAt = null;
      record.nextAttemptAt = null;
      record.history.push({ attempt: record.attempts, startedAt, endedAt: null });
      if (record.history.length > HISTORY_LIMIT) record.history.splice(0, record.history.length - HISTORY_LIMIT);
      saga.wakeAt = startedAt;
      this.#marks.push(`${labelOf(work)}_started:${record.name}`);
      await this.#commit(false);
      // A cancel request that came with that save: the step is not run (the cancel fails it).
      if (work.phase === "forward" && saga.cancelRequested) return CANCELLED;
    }
    const outcome = await this.#run(work);
    if (outcome.kind === "failed" && outcome.error instanceof SagaShutdownError) {
      await this.#commit(true);
      return YIELDED;
    }
    if (outcome.kind !== "failed") await this.env.observe({ kind: "action_done", saga: this.#saga, step: record.name, phase: work.phase });
    return this.#settle(work, outcome);
  }

  /** The action with the attempt's timeout; a stop aborts it too. */
  async #run(work: StepWork): Promise<ActionOutcome> {
    const controller = new AbortController();
    const untrack = this.env.track(controller);
    const timer = setTimeout(
      () => controller.abort(new SagaStepTimeoutError(`attempt ${work.record.attempts} of ${work.record.name} ran longer than ${work.timeoutMs} ms`)),
      work.timeoutMs,
    );
    const aborted = new Promise<never>((_resolve, reject) => {
      if (controller.signal.aborted) reject(controller.signal.reason);
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    // Started on a later tick, so an action that throws synchronously is a failed attempt too.
    const action = Promise.resolve().then(() => runAction(work.action, this.#context(work, controller.signal), this.env.actions));
    // The loser of the race must not surface as an unhandled rejection.
    action.catch(() => undefined);
    aborted.catch(() => undefined);
    try {
      return await Promise.race([action, aborted]);
    } catch (error) {
      return { kind: "failed", error };
    } finally {
      clearTimeout(timer);
      untrack();
    }
  }

  /** Records what an attempt (or a wait) came to: completed, waiting, retry later, or failed for good. */
  async #settle(work: StepWork, outcome: ActionOutcome): Promise<WorkResult> {
    const { record } = work;
    const saga = this.#saga;
    const now = this.env.clock.now();
    const nowIso = new Date(now).toISOString();
    const label = labelOf(work);
    const open = record.history.at(-1);
    switch (outcome.kind) {
      case "done": {
        record.status = "completed";
        record.endedAt = nowIso;
        record.result = outcome.result;
        record.events.push(...outcome.events);
        record.nextAttemptAt = null;
        delete record.error;
        if (open && open.endedAt === null) open.endedAt = nowIso;
        saga.awaiting = [];
        saga.signals = {};
        this.#marks.push(`${label}_completed:${record.name}`);
        return { kind: "completed", result: outcome.result };
      }
      case "await": {
        const settled = resolveAwaited(work.action, this.#context(work, NEVER_ABORTED), outcome.keys, outcome.settled);
        // Everything awaited had ended already (a repeat of a finished task): no need to wait.
        if (settled) return this.#settle(work, settled);
        record.status = "waiting";
        saga.awaiting = outcome.keys;
        saga.signals = { ...outcome.settled };
        saga.wakeAt = new Date(waitDeadline(record, work.timeoutMs, now)).toISOString();
        this.#marks.push(`${label}_waiting:${record.name}`);
        await this.#commit(true);
        await this.#catchUp(outcome.keys.filter((key) => !(key in outcome.settled)));
        return YIELDED;
      }
      case "failed": {
        const error = sagaErrorInfo(outcome.error);
        const verdict = classifyFailure(outcome.error);
        record.error = error;
        if (open && open.endedAt === null) Object.assign(open, { endedAt: nowIso, error });
        saga.awaiting = [];
        saga.signals = {};
        if (!verdict.retryable || record.attempts >= work.policy.maxAttempts) {
          record.status = "failed";
          record.endedAt = nowIso;
          record.nextAttemptAt = null;
          this.#marks.push(`${label}_failed:${record.name}`);
          return { kind: "failed", error };
        }
        const delayMs = retryDelayMs(verdict, record.attempts, work.policy, this.env.random);
        record.status = "running";
        record.nextAttemptAt = new Date(now + delayMs).toISOString();
        saga.wakeAt = record.nextAttemptAt;
        this.#marks.push(`${label}_retry_scheduled:${record.name}`);
        if (delayMs <= 0) return this.#attempt(work, true);
        await this.#commit(true);
        return YIELDED;
      }
    }
  }

  /**
   * Right after saving `waiting`: an outcome that came before the save found nothing awaiting it,
   * so look each awaited thing up once and deliver what ended as a signal.
   */
  async #catchUp(keys: readonly string[]): Promise<void> {
    const now = this.#nowIso();
    const reached = await Promise.all(
      keys.map(async (key) => {
        try {
          const outcome = await lookupOutcome(key, this.env.actions);
          return outcome ? await this.env.store.signal(key, outcome, now) : [];
        } catch (error) {
          // The signal feed (or the wait's deadline) still settles it.
          this.env.report({ sagaId: this.#saga.id, stage: "catch_up", error });
          return [];
        }
      }),
    );
    if (reached.flat().includes(this.#saga.id)) this.env.continueSoon(this.#saga.id);
  }

  #context(work: StepWork, signal: AbortSignal): StepContext<unknown> {
    const saga = this.#saga;
    return {
      sagaId: saga.id,
      sagaType: saga.type,
      step: work.record.name,
      attempt: Math.max(1, work.record.attempts),
      idempotencyKey: stepIdempotencyKey(saga.id, work.record.name, work.phase),
      correlationid: saga.correlationid,
      ...(saga.traceparent === null ? {} : { traceparent: saga.traceparent }),
      data: saga.data,
      signal,
    };
  }

  /** Publishes a lifecycle event before the save that makes its transition (a crash republishes the same id). */
  async #publish(transition: string, type: string, data: Record<string, unknown>): Promise<void> {
    const saga = this.#saga;
    await this.env.events.publish([
      {
        id: sagaEventId(saga.id, transition),
        type,
        source: "urn:eventloom:sagas",
        subject: saga.id,
        partitionkey: saga.id,
        correlationid: saga.correlationid,
        ...(saga.traceparent === null ? {} : { traceparent: saga.traceparent }),
        data: { sagaId: saga.id, sagaType: saga.type, subject: saga.subject, parentId: saga.parentId, ...data },
      },
    ]);
  }

  /**
   * Saves the saga (extending the lease, or releasing it). A save lost only to a signal or an
   * operator's cancel request while the lease is still ours is merged with what they wrote and
   * made again; any other loss ends the run (SagaLeaseLostError).
   */
  async #commit(release: boolean): Promise<void> {
    const saga = this.#saga;
    saga.updatedAt = this.#nowIso();
    let saved: SagaRecord | undefined;
    for (let tries = 0; saved === undefined; tries++) {
      try {
        saved = await this.env.store.save(this.#saga, this.#claimArgs(release));
      } catch (error) {
        if (!(error instanceof SagaLeaseLostError) || tries >= 3) throw error;
        const retaken = await this.#retake();
        if (!retaken) throw error;
        this.#rebase(retaken);
      }
    }
    // The run goes on mutating its own copy (steps in hand stay the saved ones); only the store's bookkeeping comes back.
    Object.assign(this.#saga, { revision: saved.revision, leaseOwner: saved.leaseOwner, leaseUntil: saved.leaseUntil });
    this.#base = structuredClone(saved);
    const marks = this.#marks.splice(0);
    this.env.transitionsSaved(marks.length);
    for (const transition of marks) await this.env.observe({ kind: "saved", saga: saved, transition });
    if (release && activeSagaStatuses.includes(saved.status) && saved.wakeAt !== null && Date.parse(saved.wakeAt) <= this.env.clock.now()) {
      this.env.continueSoon(saved.id);
    }
  }

  /**
   * After a lost save: a signal or an operator's cancel request bumps the revision and frees the
   * lease. If that is all that happened since our last save (no other worker moved the saga on),
   * claim it back; undefined when someone else holds it or changed it.
   */
  async #retake(): Promise<SagaRecord | undefined> {
    const claimed = await this.env.store.claim(this.#saga.id, this.#claimArgs(false));
    if (!claimed) return undefined;
    const base = this.#base;
    const unchanged =
      claimed.status === base.status &&
      claimed.cursor === base.cursor &&
      JSON.stringify([claimed.steps, claimed.compensations, claimed.data, claimed.awaiting]) === JSON.stringify([base.steps, base.compensations, base.data, base.awaiting]);
    if (unchanged) return claimed;
    // Another worker moved it on meanwhile: it is theirs to go on with, so let go of this claim.
    await this.env.store.save(claimed, this.#claimArgs(true)).catch(() => undefined);
    return undefined;
  }

  /** Puts our next state on top of the stored revision, keeping the signals and the cancel request that came meanwhile. */
  #rebase(stored: SagaRecord): void {
    const mine = this.#saga;
    const signals = { ...mine.signals };
    let signalled = false;
    for (const [key, outcome] of Object.entries(stored.signals)) {
      if (mine.awaiting.includes(key) && !(key in signals)) {
        signals[key] = outcome;
        signalled = true;
      }
    }
    const cancelled = stored.cancelRequested && !mine.cancelRequested;
    const nudged = (signalled || cancelled) && activeSagaStatuses.includes(mine.status);
    this.#base = structuredClone(stored);
    Object.assign(mine, {
      revision: stored.revision,
      leaseOwner: stored.leaseOwner,
      leaseUntil: stored.leaseUntil,
      signals,
      cancelRequested: mine.cancelRequested || stored.cancelRequested,
      error: cancelled && mine.status === "running" ? stored.error : mine.error,
      wakeAt: nudged ? this.#nowIso() : mine.wakeAt,
    });
  }

  #claimArgs(release: boolean) {
    return { owner: this.env.owner, now: this.#nowIso(), leaseMs: this.env.leaseMs, release };
  }

  #nowIso(): string {
    return new Date(this.env.clock.now()).toISOString();
  }
}

function labelOf(work: StepWork): "step" | "compensation" {
  return work.phase === "forward" ? "step" : "compensation";
}

/** When an awaited attempt gives up: its timeout after the attempt started. */
function waitDeadline(record: SagaStepRecord, timeoutMs: number, now: number): number {
  const startedAt = record.history.at(-1)?.startedAt;
  return (startedAt === undefined ? now : Date.parse(startedAt)) + timeoutMs;
}
