import { z } from "zod";
import { systemClock, type Clock } from "../core/clock";
import type { EventEnvelope } from "../core/envelope";
import { EngineError, NotFoundError, ValidationError, type FieldIssue } from "../core/errors";
import { requiredFieldOptions, zodIssues } from "../core/field-issues";
import { isUuid, newId } from "../core/ids";
import type { JsonSchema } from "../core/registry";
import { TASK_EVENT_TYPES, taskDeadSchema, taskSucceededSchema } from "../tasks/events";
import { SAGA_EVENT_TYPES } from "./events";
import type { SagaActionPorts, SagaEventSink, SagaOperations, SagaRuntimeStats, SagaSignalSource, SagaTypeDescriptor, StartSagaOptions, StartedSaga } from "./ports";
import {
  DEFAULT_COMPENSATION_RETRY,
  DEFAULT_STEP_RETRY,
  DEFAULT_STEP_TIMEOUT_MS,
  SAGA_NAME_PATTERN,
  stepIdempotencyKey,
  type SagaAction,
  type SagaDefinition,
} from "./saga-definition";
import { pendingStep, SagaRun, type ResolvedSaga, type RunEnvironment, type SagaObservation } from "./saga-run";
import {
  activeSagaStatuses,
  terminalSagaStatuses,
  type SagaCounts,
  type SagaListQuery,
  type SagaPage,
  type SagaRecord,
  type SagaSignalOutcome,
  type SagaStatus,
  type SagaStore,
} from "./saga-store";
import { childOutcome, describeAction, resolveSagaRetry, runAction, SagaShutdownError, sagaEventId, type ActionDeps } from "./step-actions";
import type { ScheduleTimer, TimerListQuery, TimerRecord } from "./timer-store";

/**
 * Runs orchestrated sagas (see saga-definition.ts for what a saga is and saga-run.ts for how one
 * claimed saga advances). Any number of processes run an orchestrator over one SagaStore: a saga
 * is advanced by whoever holds its lease, which the starter takes at once and a crashed worker's
 * successor takes once it expired. Awaited outcomes come in as signals (task and saga events fed
 * to `handleEvent`); deadlines are durable timers.
 */

/** The part of DurableTimers the orchestrator uses (server/engine/sagas/timers.ts). */
export interface SagaTimers {
  on(kind: string, handler: (timer: TimerRecord, context: { signal: AbortSignal }) => Promise<void>): void;
  schedule(timer: ScheduleTimer): Promise<boolean>;
  cancelByKey(key: string): Promise<number>;
  list(query: TimerListQuery): Promise<TimerRecord[]>;
}

export type { SagaObservation };

export interface SagaOrchestratorErrorInfo {
  sagaId?: string;
  /** `advance`, `release`, `catch_up`, `poll`, `signal`, `deadline`, `observer`, `ended`. */
  stage: string;
  error: unknown;
}

export interface SagaOrchestratorOptions {
  store: SagaStore;
  timers: SagaTimers;
  actions: SagaActionPorts;
  events: SagaEventSink;
  // Definitions differ in their input and data types; the orchestrator handles them alike.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  definitions?: SagaDefinition<any, any>[];
  /** Choreographies, listed by `listTypes` beside the orchestrated types. */
  extraTypes?: SagaTypeDescriptor[];
  /** This process as lease holder (defaultConsumerName() in the runtime). */
  owner: string;
  /** Default 30 s: how long a crashed worker keeps a saga from the others. */
  leaseMs?: number;
  /** Default 250 ms: how often idle workers look for due sagas. */
  pollIntervalMs?: number;
  /** Default 32: sagas advanced at once in this process. */
  concurrency?: number;
  /** Default 5 s: how long `stop()` lets running attempts finish before aborting them. */
  stopGraceMs?: number;
  clock?: Clock;
  /** In [0, 1), for retry jitter. */
  random?: () => number;
  onError?(info: SagaOrchestratorErrorInfo): void;
}

export const SAGA_DEADLINE_TIMER_KIND = "saga.deadline";
/** The step name under which a deadline's escalation is recorded (and its idempotency key, `saga:<id>:deadline`). */
export const DEADLINE_STEP = "deadline";
export const DEFAULT_SAGA_LEASE_MS = 30_000;
export const DEFAULT_SAGA_POLL_INTERVAL_MS = 250;
export const DEFAULT_SAGA_CONCURRENCY = 32;

/** Bounds `runDue` (every loop is bounded). */
const MAX_RUN_DUE_ROUNDS = 1_000;
/** How many times `cancel` reads again when the saga moved on between its read and its write. */
const CANCEL_TRIES = 5;

const startOptionsSchema = z
  .object({
    id: z.string().refine(isUuid, "must be a UUID").optional(),
    correlationid: z.string().min(1).max(200).optional(),
    causationid: z.string().min(1).max(200).optional(),
    traceparent: z.string().min(1).max(200).optional(),
    parentId: z.string().refine(isUuid, "must be a UUID").optional(),
  })
  .strict();

const cancelReasonSchema = z.string().trim().min(1, "must not be empty").max(500);

const sagaEndSchema = z.object({ sagaId: z.string() });
const sagaEndStatus: Record<string, SagaStatus> = {
  [SAGA_EVENT_TYPES.completed]: "completed",
  [SAGA_EVENT_TYPES.compensated]: "compensated",
  [SAGA_EVENT_TYPES.cancelled]: "cancelled",
  [SAGA_EVENT_TYPES.failed]: "failed",
};

export class SagaOrchestrator implements SagaOperations, SagaSignalSource {
  readonly signalTypes: string[] = [TASK_EVENT_TYPES.succeeded, TASK_EVENT_TYPES.dead, ...Object.keys(sagaEndStatus)];

  readonly #store: SagaStore;
  readonly #timers: SagaTimers;
  readonly #events: SagaEventSink;
  readonly #owner: string;
  readonly #leaseMs: number;
  readonly #pollIntervalMs: number;
  readonly #concurrency: number;
  readonly #stopGraceMs: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #onError: SagaOrchestratorOptions["onError"];
  readonly #extraTypes: SagaTypeDescriptor[];
  readonly #definitions = new Map<string, ResolvedSaga & { descriptor: SagaTypeDescriptor }>();
  /** Saga types some definition starts as children: their ends are signalled to the parent directly. */
  readonly #childTypes = new Set<string>();
  readonly #listeners = new Set<(observation: SagaObservation) => void | Promise<void>>();
  /** Sagas this process is advancing, and those it is claiming to advance. */
  readonly #active = new Map<string, Promise<void>>();
  readonly #claiming = new Set<string>();
  readonly #controllers = new Set<AbortController>();
  readonly #actionDeps: ActionDeps;
  readonly #environment: RunEnvironment;
  #running = false;
  #stopping = false;
  #aborting = false;
  #loop: Promise<void> | undefined;
  #wakeLoop: (() => void) | undefined;
  /** The last poll took as many as it could: more may be due. */
  #backlog = false;
  #transitions = 0;
  #leaseLost = 0;

  constructor(options: SagaOrchestratorOptions) {
    this.#store = options.store;
    this.#timers = options.timers;
    this.#events = options.events;
    this.#owner = options.owner;
    this.#leaseMs = options.leaseMs ?? DEFAULT_SAGA_LEASE_MS;
    this.#pollIntervalMs = options.pollIntervalMs ?? DEFAULT_SAGA_POLL_INTERVAL_MS;
    this.#concurrency = options.concurrency ?? DEFAULT_SAGA_CONCURRENCY;
    this.#stopGraceMs = options.stopGraceMs ?? 5_000;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#onError = options.onError;
    this.#extraTypes = options.extraTypes ?? [];
    this.#actionDeps = {
      ports: options.actions,
      startChild: (type, input, startOptions) => this.start(type, input, startOptions),
      getSaga: (id) => this.#store.get(id),
    };
    this.#environment = {
      store: this.#store,
      owner: this.#owner,
      leaseMs: this.#leaseMs,
      clock: this.#clock,
      random: this.#random,
      events: this.#events,
      actions: this.#actionDeps,
      stopping: () => this.#stopping,
      track: (controller) => this.#track(controller),
      observe: (observation) => this.#observe(observation),
      transitionsSaved: (count) => {
        this.#transitions += count;
      },
      continueSoon: (sagaId) => this.#continueSoon(sagaId),
      ended: (saga) => this.#ended(saga),
      report: (info) => this.#report(info),
    };
    for (const definition of options.definitions ?? []) this.define(definition);
    this.#timers.on(SAGA_DEADLINE_TIMER_KIND, (timer, context) => this.#onDeadline(timer, context.signal));
  }

  /** Adds a saga type (before `startWorkers`, so every worker knows it). */
  define<TInput, TData>(definition: SagaDefinition<TInput, TData>): void {
    const general = definition as unknown as SagaDefinition<unknown, unknown>;
    if (!SAGA_NAME_PATTERN.test(general.type)) throw new RangeError(`saga type ${JSON.stringify(general.type)} must match ${SAGA_NAME_PATTERN}`);
    if (this.#definitions.has(general.type)) throw new RangeError(`saga type ${general.type} is already defined`);
    const names = new Set<string>();
    for (const step of general.steps) {
      if (!SAGA_NAME_PATTERN.test(step.name)) throw new RangeError(`saga ${general.type}: step name ${JSON.stringify(step.name)} must match ${SAGA_NAME_PATTERN}`);
      if (names.has(step.name)) throw new RangeError(`saga ${general.type}: step ${step.name} is defined twice`);
      if (step.name === DEADLINE_STEP && general.deadline) throw new RangeError(`saga ${general.type}: the step name ${DEADLINE_STEP} records the deadline's escalation`);
      if (step.timeoutMs !== undefined && !(Number.isFinite(step.timeoutMs) && step.timeoutMs > 0)) throw new RangeError(`saga ${general.type}: step ${step.name} needs a positive timeoutMs`);
      names.add(step.name);
    }
    if (general.deadline?.onExpiry === "escalate" && !general.deadline.escalation) throw new RangeError(`saga ${general.type}: an escalating deadline needs an escalation action`);
    const steps = general.steps.map((step) => ({
      definition: step,
      retry: resolveSagaRetry(DEFAULT_STEP_RETRY, step.retry),
      compensationRetry: resolveSagaRetry(DEFAULT_COMPENSATION_RETRY, step.compensationRetry),
      timeoutMs: step.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
    }));
    const actions = [...general.steps.flatMap((step) => [step.action, step.compensation]), general.deadline?.escalation];
    for (const action of actions) if (action?.kind === "children") this.#childTypes.add(action.sagaType);
    const descriptor: SagaTypeDescriptor = {
      type: general.type,
      kind: "orchestrated",
      description: general.description,
      steps: steps.map(({ definition: step, retry, timeoutMs }) => ({
        name: step.name,
        description: step.description ?? "",
        action: describeAction(step.action),
        compensation: step.compensation ? describeAction(step.compensation) : null,
        timeoutMs,
        maxAttempts: retry.maxAttempts,
      })),
      schema: z.toJSONSchema(general.input, { io: "input", unrepresentable: "any" }) as JsonSchema,
      deadline: general.deadline ? { afterMs: general.deadline.afterMs, onExpiry: general.deadline.onExpiry } : null,
    };
    this.#definitions.set(general.type, { definition: general, steps, descriptor });
  }

  listTypes(): SagaTypeDescriptor[] {
    return [...[...this.#definitions.values()].map(({ descriptor }) => descriptor), ...this.#extraTypes].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  }

  async start(type: string, input: unknown, options: StartSagaOptions = {}): Promise<StartedSaga> {
    const resolved = this.#definitions.get(type);
    if (!resolved) throw new NotFoundError(`Unknown saga type ${JSON.stringify(type)}`);
    const issues: FieldIssue[] = [];
    const parsedOptions = startOptionsSchema.safeParse(options, requiredFieldOptions);
    if (!parsedOptions.success) issues.push(...zodIssues(parsedOptions.error));
    const parsedInput = resolved.definition.input.safeParse(input, requiredFieldOptions);
    if (!parsedInput.success) issues.push(...zodIssues(parsedInput.error, "input"));
    if (issues.length > 0 || !parsedInput.success) {
      const first = issues[0];
      throw new ValidationError(issues.length === 1 && first ? `Invalid saga start: ${first.path}: ${first.message}` : `${issues.length} invalid fields`, issues);
    }

    const id = options.id?.toLowerCase() ?? newId();
    // A start by a known id (a child, a reaction's redelivery) is mostly a repeat: answer it without publishing.
    if (options.id !== undefined) {
      const existing = await this.#store.get(id);
      if (existing) return { saga: existing, created: false };
    }
    const { definition } = resolved;
    const now = this.#nowIso();
    const record: SagaRecord = {
      id,
      type,
      kind: "orchestrated",
      status: "running",
      subject: definition.subject ? definition.subject(parsedInput.data) : null,
      correlationid: options.correlationid ?? id,
      traceparent: options.traceparent ?? null,
      parentId: options.parentId?.toLowerCase() ?? null,
      input: parsedInput.data,
      data: definition.initialData(parsedInput.data),
      steps: definition.steps.map((step) => pendingStep(step.name)),
      compensations: [],
      error: null,
      cursor: 0,
      wakeAt: now,
      awaiting: [],
      signals: {},
      cancelRequested: false,
      startedAt: now,
      updatedAt: now,
      endedAt: null,
      revision: 0,
      leaseOwner: null,
      leaseUntil: null,
    };
    await this.#events.publish([
      {
        id: sagaEventId(id, "started"),
        type: SAGA_EVENT_TYPES.started,
        source: "urn:eventloom:sagas",
        subject: id,
        partitionkey: id,
        correlationid: record.correlationid,
        ...(options.causationid === undefined ? {} : { causationid: options.causationid }),
        ...(options.traceparent === undefined ? {} : { traceparent: options.traceparent }),
        data: { sagaId: id, sagaType: type, subject: record.subject, parentId: record.parentId, steps: record.steps.map((step) => step.name) },
      },
    ]);
    // The starter advances the saga itself when it has room, without waiting for a poll to claim it.
    const advanceHere = this.#hasRoom();
    const { created, saga } = await this.#store.create(record, advanceHere ? this.#claimArgs() : undefined);
    if (!created) return { saga, created: false };
    if (definition.deadline) {
      await this.#timers.schedule({
        id: `saga-deadline:${id}`,
        kind: SAGA_DEADLINE_TIMER_KIND,
        key: id,
        dueAt: new Date(Date.parse(now) + definition.deadline.afterMs).toISOString(),
        payload: { sagaType: type, onExpiry: definition.deadline.onExpiry },
      });
    }
    this.#transitions += 1;
    await this.#observe({ kind: "saved", saga, transition: "started" });
    if (advanceHere) this.#launch(saga);
    return { saga, created: true };
  }

  async get(id: string): Promise<SagaRecord | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#store.get(id.toLowerCase());
  }

  list(query: SagaListQuery): Promise<SagaPage> {
    return this.#store.list(query);
  }

  counts(): Promise<SagaCounts> {
    return this.#store.counts();
  }

  timers(query: TimerListQuery): Promise<TimerRecord[]> {
    return this.#timers.list(query);
  }

  async retry(id: string): Promise<SagaRecord> {
    const saga = await this.#operable(id);
    if (saga.status !== "failed") throw new EngineError("conflict", `Saga ${saga.id} is ${saga.status}; only a failed saga can be retried`);
    // Its failed compensation stays recorded as it ran; the worker runs it again as a new one.
    const updated = await this.#store.update(saga.id, saga.revision, { status: "compensating" }, this.#nowIso());
    if (!updated) throw new EngineError("conflict", `Saga ${saga.id} changed meanwhile; read it again`);
    this.#continueSoon(updated.id);
    return updated;
  }

  async cancel(id: string, reason: string): Promise<SagaRecord> {
    const parsedReason = cancelReasonSchema.safeParse(reason, requiredFieldOptions);
    if (!parsedReason.success) throw new ValidationError("Invalid cancel reason", zodIssues(parsedReason.error, "reason"));
    for (let tries = 0; tries < CANCEL_TRIES; tries++) {
      const saga = await this.#operable(id);
      if (!activeSagaStatuses.includes(saga.status)) throw new EngineError("conflict", `Saga ${saga.id} is ${saga.status}; only a running or compensating saga can be cancelled`);
      if (saga.cancelRequested) return saga;
      // A compensating saga keeps the failure it is undoing as its error; it ends cancelled.
      const error = saga.status === "running" ? { error: { type: "SagaCancelled", message: parsedReason.data } } : {};
      const updated = await this.#store.update(saga.id, saga.revision, { cancelRequested: true, ...error }, this.#nowIso());
      if (updated) {
        this.#continueSoon(updated.id);
        return updated;
      }
    }
    throw new EngineError("conflict", `Saga ${id} kept changing; try again`);
  }

  stats(): SagaRuntimeStats {
    return { owner: this.#owner, running: this.#running, active: this.#active.size, transitions: this.#transitions, leaseLost: this.#leaseLost };
  }

  /** Turns task outcomes and saga ends into signals for the sagas awaiting them. */
  async handleEvent(event: EventEnvelope): Promise<void> {
    const signal = signalOf(event);
    if (!signal) return;
    const reached = await this.#store.signal(signal.key, signal.outcome, this.#nowIso());
    for (const sagaId of reached) this.#continueSoon(sagaId);
  }

  /** Listeners are awaited in order; one that throws is reported and the saga goes on. */
  observe(listener: (observation: SagaObservation) => void | Promise<void>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts the polling loop; sagas started or signalled in this process are advanced at once. */
  startWorkers(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopping = false;
    this.#aborting = false;
    this.#loop = this.#pollLoop();
  }

  /** Stops claiming, lets running attempts finish for the grace period, aborts the rest and releases every lease. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#stopping = true;
    this.#wakeLoop?.();
    await this.#loop;
    this.#loop = undefined;
    if (!(await this.#settleWithin(this.#stopGraceMs))) {
      this.#aborting = true;
      for (const controller of this.#controllers) controller.abort(new SagaShutdownError("the saga orchestrator stopped"));
      await this.#settleWithin(this.#stopGraceMs);
    }
  }

  /** One pass (tests, tools): claims and advances due sagas until none is due. Returns the transitions made. */
  async runDue(): Promise<number> {
    const before = this.#transitions;
    for (let round = 0; round < MAX_RUN_DUE_ROUNDS; round++) {
      const claimed = await this.#store.claimDue({ ...this.#claimArgs(), limit: this.#concurrency });
      if (claimed.length === 0) break;
      for (const saga of claimed) this.#launch(saga);
      await Promise.all(this.#active.values());
    }
    return this.#transitions - before;
  }

  // -------------------------------------------------------------------------------------------
  // Workers

  async #pollLoop(): Promise<void> {
    while (this.#running) {
      try {
        await this.#poll();
      } catch (error) {
        this.#report({ stage: "poll", error });
      }
      if (!this.#running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#pollIntervalMs);
        this.#wakeLoop = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeLoop = undefined;
    }
  }

  async #poll(): Promise<void> {
    const room = this.#concurrency - this.#active.size - this.#claiming.size;
    if (room <= 0) return;
    const claimed = await this.#store.claimDue({ ...this.#claimArgs(), limit: room });
    this.#backlog = claimed.length === room;
    for (const saga of claimed) this.#launch(saga);
  }

  #hasRoom(): boolean {
    return this.#running && !this.#stopping && this.#active.size + this.#claiming.size < this.#concurrency;
  }

  /** Advances a saga this process holds; one run per saga at a time in this process. */
  #launch(saga: SagaRecord): void {
    if (this.#active.has(saga.id)) return;
    const run = this.#drive(saga).finally(() => {
      this.#active.delete(saga.id);
      if (this.#backlog) this.#wakeLoop?.();
    });
    this.#active.set(saga.id, run);
  }

  async #drive(saga: SagaRecord): Promise<void> {
    const resolved = this.#definitions.get(saga.type);
    if (!resolved) {
      // Another worker (a newer deployment) may know the type: let go of it for a while.
      this.#report({ sagaId: saga.id, stage: "advance", error: new Error(`saga type ${saga.type} is not defined in this worker`) });
      const wakeAt = new Date(this.#clock.now() + this.#leaseMs).toISOString();
      await this.#store.save({ ...saga, wakeAt }, { ...this.#claimArgs(), release: true }).catch((error: unknown) => this.#report({ sagaId: saga.id, stage: "release", error }));
      return;
    }
    const outcome = await new SagaRun(this.#environment, resolved, saga).drive();
    if (outcome === "lease_lost") this.#leaseLost += 1;
  }

  /** A saga became due (a signal, a cancel, a retry): claim and advance it here now, if there is room. */
  #continueSoon(sagaId: string): void {
    if (!this.#hasRoom() || this.#active.has(sagaId) || this.#claiming.has(sagaId)) return;
    this.#claiming.add(sagaId);
    this.#store.claim(sagaId, this.#claimArgs()).then(
      (saga) => {
        this.#claiming.delete(sagaId);
        if (saga) this.#launch(saga);
      },
      (error: unknown) => {
        this.#claiming.delete(sagaId);
        this.#report({ sagaId, stage: "poll", error });
      },
    );
  }

  #track(controller: AbortController): () => void {
    if (this.#aborting) controller.abort(new SagaShutdownError("the saga orchestrator stopped"));
    this.#controllers.add(controller);
    return () => this.#controllers.delete(controller);
  }

  /** True when every run ended within `ms`. */
  async #settleWithin(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const settled = (async () => {
      for (let round = 0; round < MAX_RUN_DUE_ROUNDS && (this.#active.size > 0 || this.#claiming.size > 0); round++) {
        await Promise.allSettled([...this.#active.values()]);
        if (this.#active.size === 0 && this.#claiming.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return true as const;
    })();
    try {
      return await Promise.race([settled, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Ends, deadlines, signals

  /** After a saga's end: its deadline is moot, and a parent waiting for it is told at once. */
  async #ended(saga: SagaRecord): Promise<void> {
    try {
      if (terminalSagaStatuses.includes(saga.status) && this.#definitions.get(saga.type)?.definition.deadline) await this.#timers.cancelByKey(saga.id);
      const outcome = childOutcome(saga);
      if (outcome && (saga.parentId !== null || this.#childTypes.has(saga.type))) {
        const reached = await this.#store.signal(`saga:${saga.id}`, outcome, this.#nowIso());
        for (const sagaId of reached) this.#continueSoon(sagaId);
      }
    } catch (error) {
      // The saga.* event still reaches a parent through handleEvent, and a moot deadline does nothing.
      this.#report({ sagaId: saga.id, stage: "ended", error });
    }
  }

  /**
   * A saga's deadline passed. `compensate`: it is cancelled (reason "deadline"). `escalate`: the
   * escalation runs once (idempotency key `saga:<id>:deadline`) and is recorded as the saga's
   * `deadline` step; a saga some worker holds right now is retried by the timer a little later.
   */
  async #onDeadline(timer: TimerRecord, signal: AbortSignal): Promise<void> {
    const saga = await this.#store.get(timer.key);
    if (!saga || saga.kind !== "orchestrated" || !activeSagaStatuses.includes(saga.status)) return;
    const deadline = this.#definitions.get(saga.type)?.definition.deadline;
    if (!deadline) return;
    if (deadline.onExpiry === "compensate") {
      if (!saga.cancelRequested) await this.cancel(saga.id, "deadline");
      return;
    }
    if (!deadline.escalation || saga.steps.some((step) => step.name === DEADLINE_STEP && step.status === "completed")) return;
    await this.#escalate(saga, deadline.escalation, timer, signal);
  }

  async #escalate(saga: SagaRecord, escalation: SagaAction<unknown>, timer: TimerRecord, signal: AbortSignal): Promise<void> {
    const startedAt = this.#nowIso();
    const outcome = await runAction(
      escalation,
      {
        sagaId: saga.id,
        sagaType: saga.type,
        step: DEADLINE_STEP,
        attempt: Math.max(1, timer.attempts),
        idempotencyKey: stepIdempotencyKey(saga.id, DEADLINE_STEP, "forward"),
        correlationid: saga.correlationid,
        ...(saga.traceparent === null ? {} : { traceparent: saga.traceparent }),
        data: saga.data,
        signal: AbortSignal.any([signal, AbortSignal.timeout(DEFAULT_STEP_TIMEOUT_MS)]),
      },
      this.#actionDeps,
    );
    const held = await this.#store.claim(saga.id, this.#claimArgs());
    // The escalation's effect is idempotent: when the timer fires again it is repeated harmlessly and recorded then.
    if (!held) throw new Error(`saga ${saga.id} is being advanced; its deadline escalation is recorded on the timer's next run`);
    const endedAt = this.#nowIso();
    const escalated = {
      ...pendingStep(DEADLINE_STEP),
      status: "completed" as const,
      attempts: 1,
      startedAt,
      endedAt,
      result: outcome.kind === "done" ? outcome.result : { awaiting: outcome.kind === "await" ? outcome.keys : [] },
      events: outcome.kind === "done" ? outcome.events : [],
      history: [{ attempt: 1, startedAt, endedAt }],
    };
    const next = { ...held, steps: [...held.steps.filter((step) => step.name !== DEADLINE_STEP), escalated], updatedAt: endedAt };
    const saved = await this.#store.save(next, { ...this.#claimArgs(), release: true });
    this.#transitions += 1;
    await this.#observe({ kind: "saved", saga: saved, transition: `step_completed:${DEADLINE_STEP}` });
    if (saved.wakeAt !== null && Date.parse(saved.wakeAt) <= this.#clock.now()) this.#continueSoon(saved.id);
  }

  async #operable(id: string): Promise<SagaRecord> {
    const saga = await this.get(id);
    if (!saga) throw new NotFoundError(`Saga ${id} not found`);
    if (saga.kind !== "orchestrated") throw new EngineError("conflict", `Saga ${saga.id} is choreographed: nothing orchestrates it, so it cannot be retried or cancelled`);
    return saga;
  }

  async #observe(observation: SagaObservation): Promise<void> {
    for (const listener of this.#listeners) {
      try {
        await listener(observation);
      } catch (error) {
        this.#report({ sagaId: observation.saga.id, stage: "observer", error });
      }
    }
  }

  #claimArgs() {
    return { owner: this.#owner, now: this.#nowIso(), leaseMs: this.#leaseMs };
  }

  #nowIso(): string {
    return new Date(this.#clock.now()).toISOString();
  }

  #report(info: SagaOrchestratorErrorInfo): void {
    try {
      this.#onError?.(info);
    } catch {
      // A failing reporter must not take the orchestrator down.
    }
  }
}

/** The signal an event carries for awaiting sagas: a task's end or a saga's end. */
function signalOf(event: EventEnvelope): { key: string; outcome: SagaSignalOutcome } | undefined {
  const position = (event as { position?: unknown }).position;
  const events = [{ id: event.id, type: event.type, ...(typeof position === "number" ? { position } : {}) }];
  if (event.type === TASK_EVENT_TYPES.succeeded) {
    const data = taskSucceededSchema.safeParse(event.data);
    return data.success ? { key: `task:${data.data.taskId}`, outcome: { ok: true, result: data.data.result, events } } : undefined;
  }
  if (event.type === TASK_EVENT_TYPES.dead) {
    const data = taskDeadSchema.safeParse(event.data);
    if (!data.success) return undefined;
    const { taskId, error, reason } = data.data;
    return { key: `task:${taskId}`, outcome: { ok: false, error: { type: error.type, message: error.message }, retryable: reason !== "non_retryable", events } };
  }
  const status = sagaEndStatus[event.type];
  if (status === undefined) return undefined;
  const data = sagaEndSchema.safeParse(event.data);
  const outcome = data.success ? childOutcome({ id: data.data.sagaId, status }) : undefined;
  return data.success && outcome ? { key: `saga:${data.data.sagaId}`, outcome } : undefined;
}
