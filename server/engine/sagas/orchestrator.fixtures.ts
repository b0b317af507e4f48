import { buildEnvelope, type EventDraft, type EventEnvelope } from "../core/envelope";
import { FakeClock } from "../core/clock";
import type { CommandExecutionContext, CommandExecutor, CommandResult } from "../cqrs/command";
import { newId } from "../core/ids";
import { TASK_EVENT_TYPES, type TaskDeadData, type TaskSucceededData } from "../tasks/events";
import type { SubmitTaskRequest, SubmittedTask } from "../tasks/task-queue";
import type { TaskRecord } from "../tasks/task-store";
import { InMemorySagaStore } from "./memory-saga-store";
import { SagaOrchestrator, type SagaObservation, type SagaOrchestratorErrorInfo, type SagaOrchestratorOptions } from "./orchestrator";
import type { SagaActionPorts } from "./ports";
import type { SagaDefinition } from "./saga-definition";
import { InMemoryTimerStore } from "./memory-timer-store";
import { DurableTimers } from "./timers";

/** Test doubles for the orchestrator's ports: commands and tasks that keep one effect per idempotency key. */

export class FakeCommands implements CommandExecutor {
  /** Every execution, replays included. */
  readonly calls: Array<{ name: string; input: unknown; context: CommandExecutionContext }> = [];
  /** Executions that had an effect (the first per idempotency key). */
  readonly effects: Array<{ name: string; input: unknown; key: string | undefined }> = [];
  readonly #results = new Map<string, CommandResult>();
  /** Per command: throw to fail the execution. */
  readonly behaviour = new Map<string, (input: unknown, call: number) => void | Promise<void>>();

  async execute(name: string, input: unknown, context: CommandExecutionContext): Promise<CommandResult> {
    this.calls.push({ name, input, context });
    const key = context.idempotencyKey;
    const prior = key === undefined ? undefined : this.#results.get(key);
    if (prior) return { ...prior, replayed: true };
    await this.behaviour.get(name)?.(input, this.calls.filter((call) => call.name === name).length);
    this.effects.push({ name, input, key });
    const result: CommandResult = { command: name, streamId: `stream-${name}`, version: this.effects.length, events: [{ id: newId(), type: `${name}.done`, position: this.effects.length }], replayed: false };
    if (key !== undefined) this.#results.set(key, result);
    return result;
  }

  effectsOf(name: string): number {
    return this.effects.filter((effect) => effect.name === name).length;
  }
}

export class FakeTasks implements Pick<SagaActionPorts["tasks"], "submit" | "get"> {
  readonly tasks = new Map<string, TaskRecord>();
  readonly #byKey = new Map<string, string>();
  /** Called after a new task is recorded, before submit returns (a worker racing the saga). */
  onSubmit: ((task: TaskRecord) => Promise<void>) | undefined;

  async submit(request: SubmitTaskRequest): Promise<SubmittedTask> {
    const existing = request.idempotencyKey === undefined ? undefined : this.#byKey.get(request.idempotencyKey);
    if (existing) {
      const task = this.tasks.get(existing)!;
      return { id: task.id, status: task.status, replayed: true, task: structuredClone(task) };
    }
    const now = new Date().toISOString();
    const task: TaskRecord = {
      id: newId(),
      type: request.type,
      priority: request.priority ?? "normal",
      key: null,
      status: "queued",
      input: request.input,
      result: null,
      error: null,
      attempts: 0,
      maxAttempts: 6,
      timeoutMs: 300_000,
      progress: null,
      idempotencyKey: request.idempotencyKey ?? null,
      fingerprint: null,
      correlationid: request.correlationid ?? newId(),
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      finishedAt: null,
      nextAttemptAt: null,
    };
    this.tasks.set(task.id, task);
    if (request.idempotencyKey !== undefined) this.#byKey.set(request.idempotencyKey, task.id);
    const submitted: SubmittedTask = { id: task.id, status: task.status, replayed: false, task: structuredClone(task) };
    await this.onSubmit?.(task);
    return submitted;
  }

  async get(taskId: string): Promise<TaskRecord | undefined> {
    const task = this.tasks.get(taskId);
    return task && structuredClone(task);
  }

  only(type?: string): TaskRecord {
    const matching = [...this.tasks.values()].filter((task) => type === undefined || task.type === type);
    if (matching.length !== 1) throw new Error(`expected one ${type ?? ""} task, found ${matching.length}`);
    return matching[0]!;
  }

  /** Marks the task succeeded and returns its `task.succeeded` event. */
  succeed(taskId: string, result: unknown): EventEnvelope {
    const task = this.tasks.get(taskId)!;
    Object.assign(task, { status: "succeeded", result, attempts: 1 });
    return taskEvent(task, TASK_EVENT_TYPES.succeeded, { taskId, taskType: task.type, attempt: 1, durationMs: 5, result } satisfies TaskSucceededData);
  }

  /** Marks the task dead and returns its `task.dead` event. */
  kill(taskId: string, reason: TaskDeadData["reason"], message = "unreadable"): EventEnvelope {
    const task = this.tasks.get(taskId)!;
    const attempts = reason === "attempts_exhausted" ? task.maxAttempts : 1;
    const error = { type: reason === "non_retryable" ? "NonRetryableError" : "Error", message };
    Object.assign(task, { status: "dead", error, attempts });
    return taskEvent(task, TASK_EVENT_TYPES.dead, { taskId, taskType: task.type, attempts, error, reason } satisfies TaskDeadData);
  }
}

function taskEvent(task: TaskRecord, type: string, data: unknown): EventEnvelope {
  return buildEnvelope({ type, data, subject: task.id, partitionkey: task.id, correlationid: task.correlationid });
}

export interface Harness {
  orchestrator: SagaOrchestrator;
  store: InMemorySagaStore;
  timers: DurableTimers;
  timerStore: InMemoryTimerStore;
  clock: FakeClock;
  commands: FakeCommands;
  tasks: FakeTasks;
  published: EventDraft[];
  errors: SagaOrchestratorErrorInfo[];
  observations: SagaObservation[];
  /** Saved transitions, in order. */
  transitions(sagaId?: string): string[];
  /** Another orchestrator (another worker process) over the same stores and ports. */
  another(owner: string, overrides?: Partial<SagaOrchestratorOptions>): SagaOrchestrator;
}

export function harness(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- definitions of any input and data
  definitions: SagaDefinition<any, any>[],
  overrides: Partial<SagaOrchestratorOptions> & { store?: InMemorySagaStore; clock?: FakeClock } = {},
): Harness {
  const clock = overrides.clock ?? new FakeClock();
  const store = overrides.store ?? new InMemorySagaStore();
  const timerStore = new InMemoryTimerStore();
  const commands = new FakeCommands();
  const tasks = new FakeTasks();
  const published: EventDraft[] = [];
  const errors: SagaOrchestratorErrorInfo[] = [];
  const observations: SagaObservation[] = [];
  const make = (owner: string, extra: Partial<SagaOrchestratorOptions> = {}) => {
    const timers = new DurableTimers({ store: timerStore, owner, clock });
    const orchestrator = new SagaOrchestrator({
      store,
      timers,
      actions: { commands, tasks },
      events: { publish: async (drafts) => void published.push(...drafts) },
      definitions,
      owner,
      leaseMs: 30_000,
      clock,
      random: () => 0.5,
      onError: (info) => errors.push(info),
      ...overrides,
      ...extra,
    });
    return { orchestrator, timers };
  };
  const { orchestrator, timers } = make("worker-1");
  orchestrator.observe((observation) => void observations.push(observation));
  return {
    orchestrator,
    store,
    timers,
    timerStore,
    clock,
    commands,
    tasks,
    published,
    errors,
    observations,
    transitions: (sagaId) =>
      observations.flatMap((observation) => (observation.kind === "saved" && (sagaId === undefined || observation.saga.id === sagaId) ? [observation.transition] : [])),
    another: (owner, extra) => make(owner, extra).orchestrator,
  };
}

/** A promise with its resolver outside, for actions a test holds up. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
