import { EventBus } from "@/server/engine/bus";
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
import { InMemoryEventStore } from "@/server/engine/store/memory-event-store";
import { EventPublisher } from "@/server/engine/store/publisher";
import { registerTaskEventTypes, TASK_EVENT_TYPES, type TaskDeadData, type TaskSucceededData } from "@/server/engine/tasks/events";
import type { SubmitTaskRequest } from "@/server/engine/tasks/task-queue";
import type { TaskRecord } from "@/server/engine/tasks/task-store";
import { InMemoryLease } from "@/server/engine/transport/lease";
import { domainCommands } from "./commands";
import { registerDomainEventTypes } from "./events";
import { domainProjections } from "./projections";
import { domainQueries } from "./queries";
import { domainReactions, type DomainReactionDeps } from "./reactions";
import { gradingExecutionInput, ocrProcessingInput } from "./tasks";

/**
 * The whole domain in process memory for unit tests: the real CommandBus, QueryBus and
 * ProjectionRunner over in-memory stores, the domain's reactions fed from the log, and a task queue
 * that records what is submitted and finishes tasks when the test lets it.
 */

export const teacher = (id: string): Principal => ({ kind: "api_key", id, name: `${id} (teacher key)`, scopes: ["commands:execute", "queries:read"] });
export const adminKey: Principal = { kind: "api_key", id: "key-admin", name: "admin key", scopes: ["admin"] };
export const operator: Principal = { kind: "user", id: "user-olu", name: "olu@example.com", scopes: ["commands:execute", "queries:read", "events:read"], role: "operator" };
export const analyst: Principal = { kind: "user", id: "user-ana", name: "ana@example.com", scopes: ["events:read", "queries:read"], role: "analyst" };
export const reader: Principal = { kind: "api_key", id: "key-reader", name: "reader key", scopes: ["queries:read"] };

export interface FakeTask {
  id: string;
  request: SubmitTaskRequest;
  status: "queued" | "succeeded" | "dead";
  createdAt: string;
  finishedAt: string | null;
}

/** How a task ends: its result, or dead with an error (`reason` as in `task.dead`). */
export type FakeTaskOutcome = { result: unknown; durationMs?: number } | { dead: { message: string; reason: TaskDeadData["reason"] } };

/** The results the demo task types would give, without their waiting. */
export function typicalOutcome(task: FakeTask): FakeTaskOutcome {
  const { request } = task;
  if (request.type === "ocr_processing") {
    const input = ocrProcessingInput.parse(request.input);
    return { result: { sheetId: input.sheetId, pageCount: input.pageCount, engine: input.engine, confidence: 0.91, answersDetected: input.pageCount * 5, durationMs: 1200 }, durationMs: 1300 };
  }
  if (request.type === "grading_execution") {
    const input = gradingExecutionInput.parse(request.input);
    const score = Math.round(input.maxScore * 0.75 * 2) / 2;
    return { result: { sheetId: input.sheetId, score, maxScore: input.maxScore, questionsGraded: input.questionCount, method: input.method }, durationMs: 800 };
  }
  return { result: { done: true } };
}

/** A task queue that keeps one task per idempotency key, as TaskQueue does, and runs nothing on its own. */
export class FakeTaskQueue implements Pick<DomainReactionDeps["tasks"], "submit" | "get"> {
  readonly submits: SubmitTaskRequest[] = [];
  readonly tasks: FakeTask[] = [];

  constructor(private readonly now: () => string) {}

  async submit(request: SubmitTaskRequest): Promise<{ id: string; replayed: boolean }> {
    this.submits.push(request);
    const earlier = request.idempotencyKey === undefined ? undefined : this.tasks.find((task) => task.request.idempotencyKey === request.idempotencyKey);
    if (earlier) return { id: earlier.id, replayed: true };
    const task: FakeTask = { id: newId(), request, status: "queued", createdAt: this.now(), finishedAt: null };
    this.tasks.push(task);
    return { id: task.id, replayed: false };
  }

  async get(taskId: string): Promise<Pick<TaskRecord, "input" | "createdAt" | "finishedAt"> | undefined> {
    const task = this.tasks.find((candidate) => candidate.id === taskId);
    return task && { input: task.request.input, createdAt: task.createdAt, finishedAt: task.finishedAt };
  }

  queued(): FakeTask[] {
    return this.tasks.filter((task) => task.status === "queued");
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
  outcome?: (task: FakeTask) => FakeTaskOutcome | undefined;
}

export function domainHarness(options: DomainHarnessOptions = {}) {
  const registry = new EventTypeRegistry();
  registerDomainEventTypes(registry);
  registerTaskEventTypes(registry);
  const store = new InMemoryEventStore();
  const bus = new EventBus();
  const commands = new CommandBus({ store, validator: registry, sink: bus, snapshots: new InMemorySnapshotStore() });
  for (const command of domainCommands) commands.register(command);
  const publisher = new EventPublisher(store, registry, bus, ({ error }) => {
    throw error;
  });
  const nowIso = () => new Date().toISOString();
  const tasks = new FakeTaskQueue(nowIso);
  const reactions = domainReactions({ commands, tasks, publish: (drafts) => publisher.publish(drafts) });
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

  async function finish(task: FakeTask, ending: FakeTaskOutcome): Promise<void> {
    task.finishedAt = nowIso();
    const taskType = task.request.type;
    const [type, data] =
      "dead" in ending
        ? ([TASK_EVENT_TYPES.dead, { taskId: task.id, taskType, attempts: 1, error: { type: "Error", message: ending.dead.message }, reason: ending.dead.reason } satisfies TaskDeadData] as const)
        : ([TASK_EVENT_TYPES.succeeded, { taskId: task.id, taskType, attempt: 1, durationMs: ending.durationMs ?? 100, result: ending.result } satisfies TaskSucceededData] as const);
    task.status = "dead" in ending ? "dead" : "succeeded";
    await publisher.publish([{ type, data, subject: task.id, partitionkey: task.id, ...(task.request.correlationid ? { correlationid: task.request.correlationid } : {}) }]);
  }

  return {
    registry,
    store,
    commands,
    publisher,
    tasks,
    reactions,
    failures,
    queries,
    runner,
    projectionErrors,

    execute(name: string, input: unknown, context: Partial<CommandExecutionContext> & { principal: Principal }) {
      return commands.execute(name, input, context);
    },

    /**
     * Delivers every new event to the reactions (once each, in log order) and finishes the queued
     * tasks, until nothing new happens: the pipeline runs as far as the outcomes let it.
     */
    async settle(): Promise<void> {
      for (let round = 0; round < 1_000; round += 1) {
        const page = await store.readAll({ after: delivered, limit: 1_000 });
        if (page.events.length === 0) {
          const ready = tasks.queued().flatMap((task) => {
            const ending = outcome(task);
            return ending ? [{ task, ending }] : [];
          });
          if (ready.length === 0) return;
          for (const { task, ending } of ready) await finish(task, ending);
          continue;
        }
        for (const event of page.events) {
          for (const reaction of reactions) {
            if (!matchesAnyType(reaction.types, event.type)) continue;
            await reaction.handle(event, { attempt: 1 }).catch((error: unknown) => failures.push({ reaction: reaction.name, event, error }));
          }
        }
        delivered = page.lastPosition;
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

    close: () => runner.stop(),
  };
}

export type DomainHarness = ReturnType<typeof domainHarness>;
