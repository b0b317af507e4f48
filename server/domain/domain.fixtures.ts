import { EventBus } from "@/server/engine/bus";
import { FakeClock } from "@/server/engine/core/clock";
import { matchesAnyType, type StoredEvent } from "@/server/engine/core/envelope";
import { newId } from "@/server/engine/core/ids";
import type { Principal } from "@/server/engine/core/principal";
import { EventTypeRegistry } from "@/server/engine/core/registry";
import type { CommandExecutionContext } from "@/server/engine/cqrs/command";
import { CommandBus } from "@/server/engine/cqrs/command-bus";
import { InMemoryReadModelStore } from "@/server/engine/cqrs/memory-read-model-store";
import { InMemorySnapshotStore } from "@/server/engine/cqrs/memory-snapshot-store";
import { ProjectionRunner } from "@/server/engine/cqrs/projection-runner";
import type { QueryAnswer } from "@/server/engine/cqrs/query";
import { QueryBus } from "@/server/engine/cqrs/query-bus";
import { registerSagaEventTypes } from "@/server/engine/sagas/events";
import { InMemorySagaStore } from "@/server/engine/sagas/memory-saga-store";
import { InMemoryTimerStore } from "@/server/engine/sagas/memory-timer-store";
import { SagaOrchestrator, type SagaOrchestratorErrorInfo } from "@/server/engine/sagas/orchestrator";
import type { SagaActionPorts } from "@/server/engine/sagas/ports";
import { DurableTimers } from "@/server/engine/sagas/timers";
import { InMemoryEventStore } from "@/server/engine/store/memory-event-store";
import { EventPublisher } from "@/server/engine/store/publisher";
import { registerTaskEventTypes, TASK_EVENT_TYPES, type TaskDeadData, type TaskSucceededData } from "@/server/engine/tasks/events";
import type { SubmitTaskRequest, SubmittedTask } from "@/server/engine/tasks/task-queue";
import type { TaskRecord } from "@/server/engine/tasks/task-store";
import { InMemoryLease } from "@/server/engine/transport/lease";
import { domainCommands } from "./commands";
import { registerDomainEventTypes } from "./events";
import { domainProjections } from "./projections";
import { domainQueries } from "./queries";
import { domainReactions } from "./reactions";
import { domainSagas } from "./sagas";
import { gradingExecutionInput, ocrProcessingInput } from "./tasks";

/**
 * The whole domain in process memory for unit tests: the real CommandBus, QueryBus,
 * ProjectionRunner and SagaOrchestrator over in-memory stores, the domain's reactions and the
 * orchestrator's signals fed from the log, and a task queue that records what is submitted and
 * finishes tasks when the test lets it. Saga time is a fake clock that moves only when a test (or
 * a retry's wait in `settle`) moves it.
 */

export const teacher = (id: string): Principal => ({ kind: "api_key", id, name: `${id} (teacher key)`, scopes: ["commands:execute", "queries:read"] });
export const adminKey: Principal = { kind: "api_key", id: "key-admin", name: "admin key", scopes: ["admin"] };
export const operator: Principal = { kind: "user", id: "user-olu", name: "olu@example.com", scopes: ["commands:execute", "queries:read", "events:read"], role: "operator" };
export const analyst: Principal = { kind: "user", id: "user-ana", name: "ana@example.com", scopes: ["events:read", "queries:read"], role: "analyst" };
export const reader: Principal = { kind: "api_key", id: "key-reader", name: "reader key", scopes: ["queries:read"] };

/** How a task ends: its result, or dead with an error (`reason` as in `task.dead`). */
export type FakeTaskOutcome = { result: unknown; durationMs?: number } | { dead: { message: string; reason: TaskDeadData["reason"] } };

const TASK_MAX_ATTEMPTS = 6;

/** The results the demo task types would give, without their waiting (an OCR of a coarse scan dies, as the real one does). */
export function typicalOutcome(task: TaskRecord): FakeTaskOutcome {
  if (task.type === "ocr_processing") {
    const input = ocrProcessingInput.parse(task.input);
    if (input.dpi < 150) return { dead: { message: `scan at ${input.dpi} dpi is below the 150 dpi OCR can read`, reason: "non_retryable" } };
    return { result: { sheetId: input.sheetId, pageCount: input.pageCount, engine: input.engine, confidence: 0.91, answersDetected: input.pageCount * 5, durationMs: 1200 }, durationMs: 1300 };
  }
  if (task.type === "grading_execution") {
    const input = gradingExecutionInput.parse(task.input);
    const score = Math.round(input.maxScore * 0.75 * 2) / 2;
    return { result: { sheetId: input.sheetId, score, maxScore: input.maxScore, questionsGraded: input.questionCount, method: input.method, durationMs: 750 }, durationMs: 800 };
  }
  return { result: { done: true } };
}

type TaskPort = SagaActionPorts["tasks"];

/** A task queue that keeps one task per idempotency key, as TaskQueue does, and runs nothing on its own. */
export class FakeTaskQueue implements TaskPort {
  readonly submits: SubmitTaskRequest[] = [];
  readonly tasks: TaskRecord[] = [];

  constructor(private readonly now: () => string) {}

  async submit(request: SubmitTaskRequest): Promise<SubmittedTask> {
    this.submits.push(request);
    const earlier = request.idempotencyKey === undefined ? undefined : this.tasks.find((task) => task.idempotencyKey === request.idempotencyKey);
    if (earlier) return { id: earlier.id, status: earlier.status, replayed: true, task: structuredClone(earlier) };
    const id = newId();
    const now = this.now();
    const task: TaskRecord = {
      id, type: request.type, priority: request.priority ?? "normal", key: request.key ?? null, status: "queued", input: request.input, result: null, error: null,
      attempts: 0, maxAttempts: TASK_MAX_ATTEMPTS, timeoutMs: 60_000, progress: null, idempotencyKey: request.idempotencyKey ?? null, fingerprint: null,
      correlationid: request.correlationid ?? id, createdAt: now, updatedAt: now, startedAt: null, finishedAt: null, nextAttemptAt: null,
    };
    this.tasks.push(task);
    return { id, status: task.status, replayed: false, task: structuredClone(task) };
  }

  async get(taskId: string): Promise<TaskRecord | undefined> {
    const task = this.tasks.find((candidate) => candidate.id === taskId);
    return task && structuredClone(task);
  }

  queued(): TaskRecord[] {
    return this.tasks.filter((task) => task.status === "queued");
  }

  /** Tasks submitted under an idempotency key: one per key, however often a step ran. */
  byKey(): Map<string, TaskRecord[]> {
    const keyed = new Map<string, TaskRecord[]>();
    for (const task of this.tasks) if (task.idempotencyKey !== null) keyed.set(task.idempotencyKey, [...(keyed.get(task.idempotencyKey) ?? []), task]);
    return keyed;
  }
}

/** Starts the runner and waits (bounded) until each projection has a generation queries can read. */
export async function startProjections(runner: ProjectionRunner, timeoutMs = 5_000): Promise<void> {
  runner.start();
  const deadline = Date.now() + timeoutMs;
  while ((await runner.status()).some((status) => status.generation === null)) {
    if (Date.now() > deadline) throw new Error(`the projections did not start in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export interface DomainHarnessOptions {
  /** How each task ends; undefined leaves it queued. Default {@link typicalOutcome}. */
  outcome?: (task: TaskRecord) => FakeTaskOutcome | undefined;
}

export function domainHarness(options: DomainHarnessOptions = {}) {
  const registry = new EventTypeRegistry();
  registerDomainEventTypes(registry);
  registerTaskEventTypes(registry);
  registerSagaEventTypes(registry);
  const store = new InMemoryEventStore();
  const bus = new EventBus();
  const commands = new CommandBus({ store, validator: registry, sink: bus, snapshots: new InMemorySnapshotStore() });
  for (const command of domainCommands) commands.register(command);
  const publisher = new EventPublisher(store, registry, bus, ({ error }) => {
    throw error;
  });
  const publish = (drafts: Parameters<EventPublisher["publish"]>[0]) => publisher.publish(drafts);
  const clock = new FakeClock(Date.now());
  const nowIso = () => new Date(clock.now()).toISOString();
  const tasks = new FakeTaskQueue(nowIso);

  const sagaStore = new InMemorySagaStore();
  const timers = new DurableTimers({ store: new InMemoryTimerStore(), owner: "domain-harness", clock });
  /** Problems the orchestrator reported (a saga's run that broke, an observer that threw). */
  const sagaErrors: SagaOrchestratorErrorInfo[] = [];
  const sagas = new SagaOrchestrator({
    store: sagaStore,
    timers,
    actions: { commands, tasks },
    events: { publish },
    definitions: domainSagas({ publish, commands }),
    owner: "domain-harness",
    clock,
    random: () => 0.5,
    onError: (info) => sagaErrors.push(info),
  });
  const reactions = domainReactions({ sagas, publish });
  /** Deliveries whose handler threw: what the transport would retry or dead-letter. */
  const failures: Array<{ reaction: string; event: StoredEvent; error: unknown }> = [];

  const readModels = new InMemoryReadModelStore();
  const queries = new QueryBus({ source: readModels, pollMs: 2 });
  for (const query of domainQueries) queries.register(query);
  const projectionErrors: unknown[] = [];
  const runner = new ProjectionRunner({
    store,
    readModels,
    lease: new InMemoryLease(),
    owner: "domain-harness",
    projections: domainProjections,
    upcast: (event) => registry.upcast(event),
    pollIntervalMs: 2,
    onError: (error) => projectionErrors.push(error),
  });

  let delivered = 0;
  const outcome = options.outcome ?? typicalOutcome;

  async function finish(record: TaskRecord, ending: FakeTaskOutcome): Promise<void> {
    const task = tasks.tasks.find((candidate) => candidate.id === record.id);
    if (!task) throw new Error(`no task ${record.id}`);
    task.finishedAt = nowIso();
    const taskType = task.type;
    const exhausted = "dead" in ending && ending.dead.reason === "attempts_exhausted";
    task.attempts = exhausted ? task.maxAttempts : 1;
    const [type, data] =
      "dead" in ending
        ? ([TASK_EVENT_TYPES.dead, { taskId: task.id, taskType, attempts: task.attempts, error: { type: "Error", message: ending.dead.message }, reason: ending.dead.reason } satisfies TaskDeadData] as const)
        : ([TASK_EVENT_TYPES.succeeded, { taskId: task.id, taskType, attempt: 1, durationMs: ending.durationMs ?? 100, result: ending.result } satisfies TaskSucceededData] as const);
    if ("dead" in ending) {
      task.status = "dead";
      task.error = { type: "Error", message: ending.dead.message };
    } else {
      task.status = "succeeded";
      task.result = ending.result;
    }
    await publisher.publish([{ type, data, subject: task.id, partitionkey: task.id, correlationid: task.correlationid }]);
  }

  /** Delivers new events to the reactions and the orchestrator's signals; true when there were any. */
  async function deliverNew(): Promise<boolean> {
    const page = await store.readAll({ after: delivered, limit: 1_000 });
    for (const event of page.events) {
      for (const reaction of reactions) {
        if (!matchesAnyType(reaction.types, event.type)) continue;
        await reaction.handle(event, { attempt: 1 }).catch((error: unknown) => failures.push({ reaction: reaction.name, event, error }));
      }
      if (sagas.signalTypes.includes(event.type)) await sagas.handleEvent(event);
    }
    delivered = page.lastPosition;
    return page.events.length > 0;
  }

  /** Moves the clock to the soonest retry a saga waits out (not a wait for an outcome); false when there is none. */
  async function waitOutRetries(): Promise<boolean> {
    const active = [...(await sagaStore.list({ status: "running", limit: 1_000 })).items, ...(await sagaStore.list({ status: "compensating", limit: 1_000 })).items];
    const due = active.filter((saga) => saga.awaiting.length === 0 && saga.wakeAt !== null && Date.parse(saga.wakeAt) > clock.now()).map((saga) => Date.parse(saga.wakeAt as string));
    if (due.length === 0) return false;
    clock.set(Math.min(...due));
    return true;
  }

  return {
    registry,
    store,
    commands,
    publisher,
    tasks,
    reactions,
    failures,
    sagas,
    sagaStore,
    sagaErrors,
    timers,
    clock,
    queries,
    runner,
    projectionErrors,

    execute(name: string, input: unknown, context: Partial<CommandExecutionContext> & { principal: Principal }) {
      return commands.execute(name, input, context);
    },

    /**
     * Delivers every new event to the reactions and the orchestrator (once each, in log order),
     * advances due sagas, finishes the queued tasks and waits out saga retries, until nothing new
     * happens: the pipeline runs as far as the outcomes let it.
     */
    async settle(): Promise<void> {
      for (let round = 0; round < 1_000; round += 1) {
        if (await deliverNew()) continue;
        if ((await sagas.runDue()) > 0) continue;
        const ready = tasks.queued().flatMap((task) => {
          const ending = outcome(task);
          return ending ? [{ task, ending }] : [];
        });
        if (ready.length > 0) {
          for (const { task, ending } of ready) await finish(task, ending);
          continue;
        }
        if (!(await waitOutRetries())) return;
      }
      throw new Error("the pipeline did not settle in 1000 rounds");
    },

    /** Finishes one queued task now, with this outcome. */
    finish,

    startProjections: () => startProjections(runner),

    /** A query that sees every event appended so far (read-your-writes through minPosition). */
    async query<TResult>(name: string, params: Record<string, unknown>, principal: Principal = reader): Promise<QueryAnswer<TResult>> {
      return (await queries.execute(name, params, { principal, minPosition: await store.headPosition(), waitMs: 2_000 })) as QueryAnswer<TResult>;
    },

    /** The events appended so far, in log order. */
    async log(): Promise<StoredEvent[]> {
      return (await store.readAll({ limit: 100_000 })).events;
    },

    close: async () => {
      await sagas.stop();
      await runner.stop();
    },
  };
}

export type DomainHarness = ReturnType<typeof domainHarness>;
