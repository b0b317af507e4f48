import { createHash } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "../core/canonical-json";
import { systemClock, type Clock } from "../core/clock";
import { buildEnvelope, DEFAULT_SOURCE, priorities, type EventDraft, type Priority } from "../core/envelope";
import { describeError, EngineError, NonRetryableError, RetryAfterError, ValidationError, type FieldIssue } from "../core/errors";
import { requiredFieldOptions, zodIssues } from "../core/field-issues";
import { isUuid, newId } from "../core/ids";
import { toWireMessage } from "../transport/codec";
import type { DeadLetterStore, Inbox } from "../transport/dead-letters";
import type { TransportDriver } from "../transport/driver";
import { decideAfterFailure, resolveRetryPolicy, type RetryPolicy } from "../transport/retry-policy";
import {
  startSubscriber,
  type DeliveredEvent,
  type DeliveryContext,
  type RunningSubscriber,
  type SubscriberErrorStage,
  type SubscriberStats,
} from "../transport/subscriber";
import { TASK_EVENT_TYPES, type TaskDeadData, type TaskFailedData, type TaskProgressData, type TaskQueuedData, type TaskStartedData, type TaskSucceededData } from "./events";
import { taskStatuses, type TaskCount, type TaskPage, type TaskRecord, type TaskStatus, type TaskStore } from "./task-store";
import { resolveTaskType, type ResolvedTaskType, type TaskContext, type TaskProgress, type TaskTypeDefinition } from "./task-type";

/**
 * The priority task queue (the seed's async task queue), built on the transport:
 *
 * - `submit` validates the input against the type's zod schema, records the task (`queued`) in
 *   the TaskStore, and publishes it as one message on the `tasks` topic of the configured
 *   TransportDriver, with the task's priority as the message priority and its key (default: the
 *   task id) as the order key. So priorities, competing workers and per-key order behave the same
 *   on every broker.
 * - The worker pool is one `startSubscriber` on that topic with `concurrency` = the pool size:
 *   under backlog `high` runs before `normal` before `low`, FIFO within a priority.
 * - An attempt runs the handler with an AbortSignal; the type's timeout (default 300 s) aborts it
 *   and counts as a failed attempt. A failed attempt is retried after 1, 2, 5, 10, 30 s (the
 *   RetryPolicy's `scheduleMs`; 6 attempts in all), then the task is dead: dead-lettered with its
 *   last error. A `NonRetryableError` (or anything with `nonRetryable: true`) goes dead at once.
 * - Every step is recorded in the TaskStore and published as a `task.*` event through the
 *   EventPublisher (subject and partition key = the task id), so tasks appear in the live tail
 *   and in traces.
 *
 * Delivery is at least once: a worker that dies mid-task leaves the message unsettled and the
 * broker hands it to another worker (the attempt counted up). A task that already succeeded is
 * never run again (its record says so); handlers should still be idempotent, since a worker can
 * die after the work and before recording it.
 */

export const TASK_TOPIC = "tasks";
export const TASK_SUBSCRIPTION = "task-workers";
/** The type of task messages on the `tasks` topic (transport only; not an event-log type). */
export const TASK_MESSAGE_TYPE = "task.execute";
/** Delays before the 2nd..6th attempt (the seed's RETRY_DELAY = [1, 2, 5, 10, 30] s). */
export const TASK_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([1_000, 2_000, 5_000, 10_000, 30_000]);
export const DEFAULT_TASK_WORKERS = 8;
export const MAX_TASK_LIST_LIMIT = 1000;

/** The production retry policy of tasks: the schedule exactly (no jitter), then dead. */
export const TASK_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  ...resolveRetryPolicy({ scheduleMs: TASK_RETRY_SCHEDULE_MS, maxAttempts: TASK_RETRY_SCHEDULE_MS.length + 1, jitter: 0 }),
});

/** An attempt ran longer than its type's timeout; its signal was aborted. Retryable. */
export class TaskTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TaskTimeoutError";
  }
}

/** The worker pool stopped while the attempt ran and its grace period ended. Retryable. */
export class TaskShutdownError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TaskShutdownError";
  }
}

/** What the queue publishes events through: the EventPublisher, or a test double. */
export interface TaskEventSink {
  publish(drafts: EventDraft[]): Promise<unknown>;
}

export type TaskQueueErrorStage = SubscriberErrorStage | "event" | "progress" | "enqueue";

export interface TaskQueueErrorInfo {
  stage: TaskQueueErrorStage;
  error: unknown;
  taskId?: string;
  attempt?: number;
}

export interface TaskQueueOptions {
  driver: TransportDriver;
  store: TaskStore;
  events: TaskEventSink;
  /** Where dead tasks' messages are kept (the transport's shared dead-letter store). */
  deadLetters: DeadLetterStore;
  inbox?: Inbox;
  types?: ReadonlyArray<TaskTypeDefinition<z.ZodType, unknown>>;
  /** Default `tasks`. */
  topic?: string;
  /** The worker pool's consumer group. Default `task-workers`. */
  subscription?: string;
  /** Pool size: attempts running at once in this process. Default 8. */
  concurrency?: number;
  /** Overrides of {@link TASK_RETRY_POLICY} (tests use short schedules). */
  retry?: Partial<RetryPolicy>;
  /** How long `stop()` lets running attempts finish before aborting them. Default 10 s. */
  stopGraceMs?: number;
  /** `source` of the task events. */
  source?: string;
  clock?: Clock;
  /** In [0, 1), for retry jitter (none by default). */
  random?: () => number;
  /** Problems that do not stop the queue: failed attempts, an event that could not be published... */
  onError?(info: TaskQueueErrorInfo): void;
}

export interface SubmitTaskRequest {
  type: string;
  input: unknown;
  priority?: Priority;
  /** Tasks with one key run one at a time, in submit order. Default: none (the task's own id). */
  key?: string;
  /** A repeat of a submit with the same key returns the first task instead of a new one. */
  idempotencyKey?: string;
  /** The caller's conversation: the task's events carry it. Default: the task id. */
  correlationid?: string;
  /** The caller's W3C trace context: the task's message and events continue it. */
  traceparent?: string;
}

export interface SubmittedTask {
  id: string;
  status: TaskStatus;
  /** True when an earlier submit with the same idempotency key is returned. */
  replayed: boolean;
  task: TaskRecord;
}

export interface TaskTypeDescriptor {
  type: string;
  description: string;
  priority: Priority;
  timeoutMs: number;
  schema: ResolvedTaskType["schema"];
}

export interface TaskCounts {
  /** Tasks per status, over every type. */
  byStatus: Record<TaskStatus, number>;
  /** Tasks per type and status (every defined type listed, zeros included). */
  byType: Record<string, Record<TaskStatus, number>>;
}

export interface TaskQueueStats extends SubscriberStats {
  workers: number;
  /** Attempts running now. */
  active: number;
}

type AttemptOutcome = { ok: true; result: unknown } | { ok: false; error: unknown };

const taskMessageSchema = z.object({ taskId: z.string().refine(isUuid), taskType: z.string(), input: z.unknown() });
type TaskMessage = z.infer<typeof taskMessageSchema>;

function emptyCounts(): Record<TaskStatus, number> {
  return Object.fromEntries(taskStatuses.map((status) => [status, 0])) as Record<TaskStatus, number>;
}

/** The error the Subscriber dead-letters: the original's name and message, marked non-retryable. */
function deadError(error: unknown): Error {
  const { type, message } = describeTaskError(error);
  const dead = new Error(message, { cause: error });
  dead.name = type;
  return Object.assign(dead, { nonRetryable: true });
}

function isNonRetryable(error: unknown): boolean {
  return error instanceof NonRetryableError || (typeof error === "object" && error !== null && (error as { nonRetryable?: unknown }).nonRetryable === true);
}

export class TaskQueue {
  readonly topic: string;
  readonly subscription: string;
  readonly policy: RetryPolicy;
  private readonly types = new Map<string, ResolvedTaskType>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly active = new Set<AbortController>();
  private groupReady: Promise<void> | undefined;
  private subscriber: RunningSubscriber | undefined;
  private starting: Promise<void> | undefined;
  private workers: number;

  constructor(private readonly options: TaskQueueOptions) {
    this.topic = options.topic ?? TASK_TOPIC;
    this.subscription = options.subscription ?? TASK_SUBSCRIPTION;
    const retry = withoutUndefined(options.retry ?? {});
    // A schedule of n delays makes n + 1 attempts unless maxAttempts says otherwise.
    if (retry.scheduleMs && retry.maxAttempts === undefined) retry.maxAttempts = retry.scheduleMs.length + 1;
    this.policy = resolveRetryPolicy({ ...TASK_RETRY_POLICY, ...retry });
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.workers = options.concurrency ?? DEFAULT_TASK_WORKERS;
    for (const definition of options.types ?? []) this.define(definition);
  }

  /** Adds a task type (before `start`, so every worker knows it). */
  define<TSchema extends z.ZodType, TResult>(definition: TaskTypeDefinition<TSchema, TResult>): void {
    const resolved = resolveTaskType(definition as unknown as TaskTypeDefinition<z.ZodType, unknown>);
    if (this.types.has(resolved.type)) throw new RangeError(`task type ${resolved.type} is already defined`);
    this.types.set(resolved.type, resolved);
  }

  /** The defined types, by name. */
  listTypes(): TaskTypeDescriptor[] {
    return [...this.types.values()]
      .sort((a, b) => (a.type < b.type ? -1 : 1))
      .map(({ type, description, priority, timeoutMs, schema }) => ({ type, description, priority, timeoutMs, schema }));
  }

  // -------------------------------------------------------------------------------------------
  // Submitting and reading

  async submit(request: SubmitTaskRequest): Promise<SubmittedTask> {
    // The input travels and is stored as JSON: validate the JSON form, which is what workers get.
    const input = jsonOf(request.input);
    const definition = this.validate(request, input);
    const now = this.nowIso();
    const id = newId();
    const priority = request.priority ?? definition.priority;
    const key = request.key ?? null;
    const idempotencyKey = request.idempotencyKey ?? null;
    const fingerprint =
      idempotencyKey === null
        ? null
        : createHash("sha256").update(canonicalJson({ type: request.type, input: input.ok ? input.value : null, priority: request.priority ?? null, key })).digest("hex");
    const record = this.queuedRecord(definition, {
      id,
      priority,
      key,
      input: input.ok ? input.value : null,
      idempotencyKey,
      fingerprint,
      correlationid: request.correlationid ?? id,
      createdAt: now,
      updatedAt: now,
    });

    await this.ensureGroup();
    const { created, task } = await this.options.store.create(record);
    if (!created) {
      if (task.fingerprint !== fingerprint) {
        throw new EngineError("conflict", `The idempotency key was already used for a different task request (task ${task.id})`);
      }
      return { id: task.id, status: task.status, replayed: true, task };
    }

    const message = buildEnvelope(
      {
        id,
        type: TASK_MESSAGE_TYPE,
        source: this.options.source ?? DEFAULT_SOURCE,
        subject: id,
        partitionkey: key ?? id,
        priority,
        correlationid: task.correlationid,
        ...(request.traceparent === undefined ? {} : { traceparent: request.traceparent }),
        data: { taskId: id, taskType: task.type, input: task.input } satisfies TaskMessage,
      },
      () => this.clock.now(),
    );
    // Announced before the message goes out, so `task.queued` precedes whatever the worker records.
    await this.emit(task, message, TASK_EVENT_TYPES.queued, {
      taskId: id,
      taskType: task.type,
      priority,
      key,
      maxAttempts: task.maxAttempts,
      timeoutMs: task.timeoutMs,
    } satisfies TaskQueuedData);
    try {
      await this.options.driver.publish(this.topic, [toWireMessage(message)]);
    } catch (error) {
      // Nothing will run it: a record left behind would wait as `queued` forever. The caller is
      // told to retry (503), and the log says what became of the announced task.
      await this.options.store.delete(id).catch((deleteError: unknown) => this.report({ stage: "enqueue", error: deleteError, taskId: id }));
      const described = describeTaskError(error);
      await this.emit(task, message, TASK_EVENT_TYPES.dead, { taskId: id, taskType: task.type, attempts: 0, error: described, reason: "not_queued" } satisfies TaskDeadData);
      throw new EngineError("unavailable", `The task could not be queued: the ${this.options.driver.kind} transport did not accept it`, {
        cause: error,
        retryAfterSeconds: 5,
      });
    }
    return { id, status: task.status, replayed: false, task };
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    if (!isUuid(id)) return undefined;
    return this.options.store.get(id.toLowerCase());
  }

  async list(filter: { status?: TaskStatus; type?: string; limit?: number; cursor?: string } = {}): Promise<TaskPage> {
    const limit = filter.limit ?? 100;
    const issues: FieldIssue[] = [];
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TASK_LIST_LIMIT) issues.push({ path: "limit", message: `must be between 1 and ${MAX_TASK_LIST_LIMIT}` });
    if (filter.status !== undefined && !taskStatuses.includes(filter.status)) issues.push({ path: "status", message: `must be one of ${taskStatuses.join(", ")}` });
    if (filter.cursor !== undefined && !isUuid(filter.cursor)) issues.push({ path: "cursor", message: "must be the next cursor of a previous page" });
    if (issues.length > 0) throw new ValidationError(`Invalid task filter: ${issues.map((issue) => issue.path).join(", ")}`, issues);
    return this.options.store.list({
      limit,
      ...(filter.status === undefined ? {} : { status: filter.status }),
      ...(filter.type === undefined ? {} : { type: filter.type }),
      ...(filter.cursor === undefined ? {} : { cursor: filter.cursor.toLowerCase() }),
    });
  }

  async counts(): Promise<TaskCounts> {
    const rows: TaskCount[] = await this.options.store.counts();
    const byStatus = emptyCounts();
    const byType: Record<string, Record<TaskStatus, number>> = {};
    for (const type of this.types.keys()) byType[type] = emptyCounts();
    for (const { type, status, count } of rows) {
      byStatus[status] += count;
      (byType[type] ??= emptyCounts())[status] += count;
    }
    return { byStatus, byType };
  }

  // -------------------------------------------------------------------------------------------
  // The worker pool

  /** Starts this process's workers (idempotent). `concurrency` overrides the pool size. */
  async start(options: { concurrency?: number } = {}): Promise<void> {
    if (this.subscriber) return;
    this.starting ??= (async () => {
      this.workers = options.concurrency ?? this.workers;
      this.subscriber = await startSubscriber(this.options.driver, {
        topic: this.topic,
        subscription: this.subscription,
        concurrency: this.workers,
        // Nothing waits in this process behind a running task: a newly queued high-priority task
        // is handed out by the broker ahead of waiting lower ones as soon as a worker is free.
        prefetch: this.workers,
        retry: this.policy,
        deadLetters: this.options.deadLetters,
        ...(this.options.inbox ? { inbox: this.options.inbox } : {}),
        clock: this.clock,
        random: this.random,
        handler: (event, context) => this.handle(event, context),
        onError: ({ stage, error, messageId, attempt }) => this.report({ stage, error, ...(messageId ? { taskId: messageId } : {}), ...(attempt ? { attempt } : {}) }),
      });
    })().finally(() => {
      this.starting = undefined;
    });
    await this.starting;
  }

  get running(): boolean {
    return this.subscriber !== undefined;
  }

  /**
   * Stops fetching and waits for running attempts; after `graceMs` (default `stopGraceMs`, 10 s)
   * the ones still running are aborted (TaskShutdownError: a failed attempt, retried later).
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    await this.starting?.catch(() => undefined);
    const subscriber = this.subscriber;
    if (!subscriber) return;
    const graceMs = options.graceMs ?? this.options.stopGraceMs ?? 10_000;
    const timer = setTimeout(() => {
      for (const controller of this.active) controller.abort(new TaskShutdownError(`the worker pool stopped; the attempt was aborted after a ${graceMs} ms grace period`));
    }, graceMs);
    try {
      await subscriber.stop();
    } finally {
      clearTimeout(timer);
      this.subscriber = undefined;
    }
  }

  stats(): TaskQueueStats {
    const base: SubscriberStats = this.subscriber?.stats() ?? {
      inFlight: 0,
      running: 0,
      processed: 0,
      failed: 0,
      retried: 0,
      deadLettered: 0,
      duplicates: 0,
      ratePerSecond: 0,
    };
    return { ...base, workers: this.workers, active: this.active.size };
  }

  // -------------------------------------------------------------------------------------------
  // Internals

  private validate(request: SubmitTaskRequest, input: { ok: true; value: unknown } | { ok: false }): ResolvedTaskType {
    const issues: FieldIssue[] = [];
    const known = [...this.types.keys()].sort().join(", ");
    const definition = typeof request.type === "string" ? this.types.get(request.type) : undefined;
    if (!definition) issues.push({ path: "type", message: `unknown task type ${JSON.stringify(request.type)}; known: ${known || "(none)"}` });
    if (request.priority !== undefined && !(priorities as readonly string[]).includes(request.priority)) {
      issues.push({ path: "priority", message: `must be one of ${priorities.join(", ")}` });
    }
    if (request.key !== undefined && (typeof request.key !== "string" || request.key.length < 1 || request.key.length > 500)) {
      issues.push({ path: "key", message: "must be 1 to 500 characters" });
    }
    if (request.idempotencyKey !== undefined && (typeof request.idempotencyKey !== "string" || request.idempotencyKey.length < 1 || request.idempotencyKey.length > 500)) {
      issues.push({ path: "idempotencyKey", message: "must be 1 to 500 characters" });
    }
    if (definition) {
      if (request.input === undefined) {
        issues.push({ path: "input", message: "is required" });
      } else if (!input.ok) {
        issues.push({ path: "input", message: "must be JSON (no functions, bigints or cycles)" });
      } else if (hasNul(input.value)) {
        issues.push({ path: "input", message: "must not contain the character U+0000 (Postgres cannot store it)" });
      } else {
        const parsed = definition.input.safeParse(input.value, requiredFieldOptions);
        if (!parsed.success) issues.push(...zodIssues(parsed.error, "input"));
      }
    }
    if (issues.length > 0 || !definition) {
      const first = issues[0];
      throw new ValidationError(issues.length === 1 && first ? `Invalid task: ${first.path}: ${first.message}` : `${issues.length} invalid fields`, issues);
    }
    return definition;
  }

  /** The group must exist before the first message, or brokers that only route to existing groups drop it. */
  private ensureGroup(): Promise<void> {
    this.groupReady ??= this.options.driver.ensureGroup(this.topic, this.subscription).catch((error: unknown) => {
      this.groupReady = undefined;
      throw new EngineError("unavailable", `The task queue's transport (${this.options.driver.kind}) is unreachable`, { cause: error, retryAfterSeconds: 5 });
    });
    return this.groupReady;
  }

  private nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private report(info: TaskQueueErrorInfo): void {
    try {
      this.options.onError?.(info);
    } catch {
      // A failing reporter must not take the queue down.
    }
  }

  /** Publishes one task event; a failure is reported, never fails the task (the store has the truth). */
  private async emit(task: Pick<TaskRecord, "id">, cause: DeliveredEvent, type: string, data: unknown): Promise<void> {
    try {
      await this.options.events.publish([
        {
          type,
          data,
          subject: task.id,
          partitionkey: task.id,
          correlationid: cause.correlationid,
          causationid: cause.id,
          traceparent: cause.traceparent,
          ...(this.options.source ? { source: this.options.source } : {}),
        },
      ]);
    } catch (error) {
      this.report({ stage: "event", error, taskId: task.id });
    }
  }

  private recordFromMessage(message: TaskMessage, event: DeliveredEvent, definition: ResolvedTaskType): TaskRecord {
    return this.queuedRecord(definition, {
      id: message.taskId,
      priority: event.priority,
      key: event.partitionkey && event.partitionkey !== message.taskId ? event.partitionkey : null,
      input: message.input ?? null,
      idempotencyKey: null,
      fingerprint: null,
      correlationid: event.correlationid,
      createdAt: event.time,
      updatedAt: this.nowIso(),
    });
  }

  /** A task of `definition` not started yet: no attempts, result, error or progress. */
  private queuedRecord(
    definition: ResolvedTaskType,
    fields: Pick<TaskRecord, "id" | "priority" | "key" | "input" | "idempotencyKey" | "fingerprint" | "correlationid" | "createdAt" | "updatedAt">,
  ): TaskRecord {
    return {
      ...fields,
      type: definition.type,
      status: "queued",
      result: null,
      error: null,
      attempts: 0,
      maxAttempts: this.policy.maxAttempts,
      timeoutMs: definition.timeoutMs,
      progress: null,
      startedAt: null,
      finishedAt: null,
      nextAttemptAt: null,
    };
  }

  private async handle(event: DeliveredEvent, delivery: DeliveryContext): Promise<void> {
    if (event.type !== TASK_MESSAGE_TYPE) return;
    const parsed = taskMessageSchema.safeParse(event.data);
    if (!parsed.success) throw new NonRetryableError(`message ${event.id} is not a task message`);
    const message = parsed.data;
    const definition = this.types.get(message.taskType);
    // Another worker (a newer deployment) may know it: retryable.
    if (!definition) throw new Error(`task type ${message.taskType} is not defined in this worker`);
    const store = this.options.store;
    const attempt = delivery.attempt;

    // The message outran (or outlived) its record: rebuild the record from the message.
    const task = (await store.get(message.taskId)) ?? (await store.create(this.recordFromMessage(message, event, definition))).task;
    // Done before: a duplicate delivery (its ack was lost) has nothing left to do.
    if (task.status === "succeeded") return;
    // Dead and delivered again (not by a redrive, which starts at attempt 1): the dead letter
    // could not be stored last time; hand it to the Subscriber to dead-letter again.
    if (task.status === "dead" && attempt > 1) throw deadError(Object.assign(new Error(task.error?.message ?? "dead"), { name: task.error?.type ?? "Error" }));
    if (attempt > this.policy.maxAttempts) {
      const error = { type: "AttemptsExhausted", message: `delivered ${attempt} times; at most ${this.policy.maxAttempts} attempts are made` };
      await store.update(task.id, { status: "dead", error, finishedAt: this.nowIso(), nextAttemptAt: null, updatedAt: this.nowIso() });
      await this.emit(task, event, TASK_EVENT_TYPES.dead, { taskId: task.id, taskType: task.type, attempts: attempt, error, reason: "attempts_exhausted" } satisfies TaskDeadData);
      throw deadError(Object.assign(new Error(error.message), { name: error.type }));
    }

    const startedAt = this.nowIso();
    const running = await store.update(
      task.id,
      { status: "running", attempts: attempt, startedAt, finishedAt: null, nextAttemptAt: null, progress: { percent: 0 }, updatedAt: startedAt },
      // `running`: a worker died mid-attempt and this is its redelivery. `dead`: a redriven dead letter.
      { statuses: ["queued", "failed", "running", "dead"] },
    );
    if (!running) return;
    await this.emit(running, event, TASK_EVENT_TYPES.started, { taskId: task.id, taskType: task.type, attempt, maxAttempts: this.policy.maxAttempts } satisfies TaskStartedData);

    const input = definition.input.safeParse(message.input, requiredFieldOptions);
    const startedMs = this.clock.now();
    let outcome: AttemptOutcome;
    let lastProgress: TaskProgress | null = null;
    if (!input.success) {
      const problems = zodIssues(input.error, "input").map((issue) => `${issue.path} ${issue.message}`).join("; ");
      outcome = { ok: false, error: new NonRetryableError(`the stored input no longer matches the ${definition.type} schema: ${problems}`) };
    } else {
      const attemptRun = this.runAttempt(definition, running, event, attempt, input.data);
      outcome = await attemptRun.outcome;
      // Progress reported before the end is recorded before the outcome.
      await attemptRun.writes();
      lastProgress = attemptRun.lastProgress();
    }

    const finishedAt = this.nowIso();
    const current = { statuses: ["running"] as TaskStatus[], attempts: attempt };
    if (outcome.ok) {
      const result = outcome.result;
      const done = await store.update(
        task.id,
        { status: "succeeded", result, error: null, finishedAt, nextAttemptAt: null, progress: { ...lastProgress, percent: 100 }, updatedAt: finishedAt },
        current,
      );
      if (!done) return;
      await this.emit(done, event, TASK_EVENT_TYPES.succeeded, {
        taskId: task.id,
        taskType: task.type,
        attempt,
        durationMs: Math.max(0, Math.round(this.clock.now() - startedMs)),
        result,
      } satisfies TaskSucceededData);
      return;
    }

    await this.recordFailure(task, event, attempt, outcome.error, finishedAt);
  }

  /**
   * Records a failed attempt and tells the Subscriber what to do: retry after the delay the queue
   * chose (status failed, nextAttemptAt) or dead-letter (status dead). Always throws.
   */
  private async recordFailure(task: TaskRecord, event: DeliveredEvent, attempt: number, error: unknown, finishedAt: string): Promise<never> {
    const store = this.options.store;
    const current = { statuses: ["running"] as TaskStatus[], attempts: attempt };
    const described = describeTaskError(error);
    const decision = decideAfterFailure(error, attempt, this.policy, this.random);
    if (decision.action === "retry") {
      const nextAttemptAt = new Date(this.clock.now() + decision.delayMs).toISOString();
      const failed = await store.update(task.id, { status: "failed", error: described, nextAttemptAt, updatedAt: finishedAt }, current);
      if (failed) {
        await this.emit(failed, event, TASK_EVENT_TYPES.failed, {
          taskId: task.id,
          taskType: task.type,
          attempt,
          maxAttempts: this.policy.maxAttempts,
          error: described,
          retryInMs: decision.delayMs,
          nextAttemptAt,
        } satisfies TaskFailedData);
      }
      // The queue decided the delay (recorded as nextAttemptAt); the Subscriber carries it out.
      throw new RetryAfterError(`attempt ${attempt} of task ${task.id} failed: ${described.type}: ${described.message}`, decision.delayMs, { cause: error });
    }
    const dead = await store.update(task.id, { status: "dead", error: described, finishedAt, nextAttemptAt: null, updatedAt: finishedAt }, current);
    if (dead) {
      await this.emit(dead, event, TASK_EVENT_TYPES.dead, {
        taskId: task.id,
        taskType: task.type,
        attempts: attempt,
        error: described,
        reason: isNonRetryable(error) ? "non_retryable" : "attempts_exhausted",
      } satisfies TaskDeadData);
    }
    throw deadError(error);
  }

  /**
   * Runs the handler once with its timeout. `outcome` settles when the handler does or when the
   * signal is aborted (timeout, shutdown), whichever comes first: a handler that ignores its
   * signal keeps running, but its worker slot is given back. `writes()` is the chain of progress
   * writes, to wait for before the outcome is recorded.
   */
  private runAttempt(
    definition: ResolvedTaskType,
    task: TaskRecord,
    cause: DeliveredEvent,
    attempt: number,
    input: unknown,
  ): { outcome: Promise<AttemptOutcome>; writes(): Promise<void>; lastProgress(): TaskProgress | null } {
    const controller = new AbortController();
    this.active.add(controller);
    let ended = false;
    let last: TaskProgress | null = null;
    let chain: Promise<void> = Promise.resolve();
    const store = this.options.store;

    const progress = (percent: number, message?: string): Promise<void> => {
      if (ended) return Promise.resolve();
      const value: TaskProgress = { percent: Math.min(100, Math.max(0, Number.isFinite(percent) ? Math.round(percent * 100) / 100 : 0)) };
      if (message !== undefined) value.message = withoutNul(String(message).slice(0, 500));
      last = value;
      const write = chain.then(async () => {
        const updated = await store.update(task.id, { progress: value, updatedAt: this.nowIso() }, { statuses: ["running"], attempts: attempt });
        if (!updated) return;
        await this.emit(task, cause, TASK_EVENT_TYPES.progress, { taskId: task.id, taskType: task.type, attempt, ...value } satisfies TaskProgressData);
      });
      chain = write.catch((error: unknown) => this.report({ stage: "progress", error, taskId: task.id, attempt }));
      return chain;
    };

    const context: TaskContext = { taskId: task.id, attempt, signal: controller.signal, progress };
    const timer = setTimeout(
      () => controller.abort(new TaskTimeoutError(`attempt ${attempt} of ${definition.type} task ${task.id} ran longer than ${definition.timeoutMs} ms`)),
      definition.timeoutMs,
    );
    const aborted = new Promise<never>((_resolve, reject) => {
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    // Called on a later tick, so a handler that throws synchronously is a failed attempt too.
    const work = Promise.resolve().then(() => definition.handler(input, context));
    // The loser of the race must not surface as an unhandled rejection.
    work.catch(() => undefined);
    aborted.catch(() => undefined);

    const outcome = Promise.race([work, aborted]).then(
      (result): AttemptOutcome => {
        const json = jsonOf(result === undefined ? null : result);
        if (!json.ok) return { ok: false, error: new NonRetryableError(`the result of task ${task.id} is not JSON (no functions, bigints or cycles)`) };
        if (hasNul(json.value)) return { ok: false, error: new NonRetryableError(`the result of task ${task.id} contains the character U+0000, which cannot be stored`) };
        return { ok: true, result: json.value };
      },
      (error: unknown): AttemptOutcome => ({ ok: false, error }),
    ).finally(() => {
      ended = true;
      clearTimeout(timer);
      this.active.delete(controller);
    });
    return { outcome, writes: () => chain, lastProgress: () => last };
  }
}

/** U+0000 cannot be stored (Postgres text and jsonb refuse it). */
function hasNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (Array.isArray(value)) return value.some(hasNul);
  if (typeof value === "object" && value !== null) return Object.entries(value).some(([key, inner]) => key.includes("\u0000") || hasNul(inner));
  return false;
}

function withoutNul(text: string): string {
  return text.replaceAll("\u0000", "\uFFFD");
}

/** An error as the task records it: type and message, printable and storable. */
function describeTaskError(error: unknown): { type: string; message: string } {
  const { type, message } = describeError(error);
  return { type: withoutNul(type).slice(0, 200), message: withoutNul(message).slice(0, 2_000) };
}

/** The value as JSON carries it (dates become strings, undefined properties vanish). */
function jsonOf(value: unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? { ok: false } : { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, inner]) => inner !== undefined)) as Partial<T>;
}
