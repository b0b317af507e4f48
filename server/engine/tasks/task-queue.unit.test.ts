import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { EventBus } from "../bus";
import { buildEnvelope, type StoredEvent } from "../core/envelope";
import { isEngineError, NonRetryableError, type EngineError } from "../core/errors";
import { EventTypeRegistry } from "../core/registry";
import { InMemoryEventStore } from "../store/memory-event-store";
import { toWireMessage } from "../transport/codec";
import { EventPublisher } from "../store/publisher";
import { InMemoryDeadLetterStore, MemoryBroker, type MemoryDriver } from "../transport/memory-driver";
import { redrive } from "../transport/subscriber";
import { eventually } from "../transport/transport.contract";
import { registerTaskEventTypes, TASK_EVENT_TYPES } from "./events";
import {
  DEFAULT_TASK_WORKERS,
  TASK_MESSAGE_TYPE,
  TASK_RETRY_POLICY,
  TASK_RETRY_SCHEDULE_MS,
  TASK_TOPIC,
  TaskQueue,
  TaskShutdownError,
  TaskTimeoutError,
  type TaskQueueErrorInfo,
  type TaskQueueOptions,
} from "./task-queue";
import { InMemoryTaskStore, type TaskCondition, type TaskPatch, type TaskRecord, type TaskStatus } from "./task-store";
import { DEFAULT_TASK_TIMEOUT_MS, defineTaskType, type TaskContext, type TaskTypeDefinition } from "./task-type";

/** Records every status a task is written with, in order. */
class RecordingStore extends InMemoryTaskStore {
  readonly statuses = new Map<string, TaskStatus[]>();

  override async create(task: TaskRecord) {
    const outcome = await super.create(task);
    if (outcome.created) this.statuses.set(task.id, [task.status]);
    return outcome;
  }

  override async update(id: string, patch: TaskPatch, condition?: TaskCondition) {
    const updated = await super.update(id, patch, condition);
    if (updated && patch.status) this.statuses.get(id)?.push(patch.status);
    return updated;
  }
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const sheetInput = z.object({ sheetId: z.string().min(1), pageCount: z.number().int().positive().max(100) });

type Handler = (input: z.output<typeof sheetInput>, context: TaskContext) => Promise<unknown>;

function sheetTask(type: string, handler: Handler, extra: Partial<TaskTypeDefinition<typeof sheetInput>> = {}) {
  return defineTaskType({ type, input: sheetInput, handler, ...extra });
}

const running: Array<{ queue: TaskQueue; broker: MemoryBroker }> = [];

function setup(options: Partial<TaskQueueOptions> = {}) {
  const broker = new MemoryBroker();
  const driver: MemoryDriver = broker.driver();
  const registry = new EventTypeRegistry();
  registerTaskEventTypes(registry);
  const eventStore = new InMemoryEventStore();
  const publisher = new EventPublisher(eventStore, registry, new EventBus(), () => undefined);
  const store = new RecordingStore();
  const deadLetters = new InMemoryDeadLetterStore();
  const errors: TaskQueueErrorInfo[] = [];
  const queue = new TaskQueue({
    driver,
    store,
    events: publisher,
    deadLetters,
    concurrency: 2,
    retry: { scheduleMs: [20, 40] },
    stopGraceMs: 1_000,
    onError: (info) => errors.push(info),
    ...options,
  });
  running.push({ queue, broker });
  const eventsOf = async (taskId: string): Promise<StoredEvent[]> => eventStore.readStream(taskId);
  const typesOf = async (taskId: string): Promise<string[]> => (await eventsOf(taskId)).map((event) => event.type);
  return { broker, driver, registry, eventStore, store, deadLetters, errors, queue, eventsOf, typesOf };
}

afterEach(async () => {
  for (const { queue, broker } of running.splice(0)) {
    await queue.stop({ graceMs: 10 });
    broker.dispose();
  }
});

async function expectEngineError(promise: Promise<unknown>, code: string): Promise<EngineError> {
  const error = await promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (caught: unknown) => caught,
  );
  expect(isEngineError(error)).toBe(true);
  expect((error as EngineError).code).toBe(code);
  return error as EngineError;
}

describe("TaskQueue defaults", () => {
  it("retries on the seed's schedule (1, 2, 5, 10, 30 s) exactly, then dead; 300 s timeout; 8 workers", () => {
    expect(TASK_RETRY_SCHEDULE_MS).toEqual([1_000, 2_000, 5_000, 10_000, 30_000]);
    expect(TASK_RETRY_POLICY).toMatchObject({ scheduleMs: [1_000, 2_000, 5_000, 10_000, 30_000], maxAttempts: 6, jitter: 0 });
    expect(DEFAULT_TASK_TIMEOUT_MS).toBe(300_000);
    expect(DEFAULT_TASK_WORKERS).toBe(8);
    const { queue } = setup({ retry: undefined, concurrency: undefined });
    expect(queue.policy).toMatchObject({ scheduleMs: [1_000, 2_000, 5_000, 10_000, 30_000], maxAttempts: 6, jitter: 0 });
    expect(queue.stats().workers).toBe(8);
    expect(queue.topic).toBe(TASK_TOPIC);
    queue.define(sheetTask("plain", async () => null));
    expect(queue.listTypes()).toEqual([
      {
        type: "plain",
        description: "",
        priority: "normal",
        timeoutMs: 300_000,
        schema: expect.objectContaining({ type: "object", required: ["sheetId", "pageCount"] }),
      },
    ]);
  });

  it("derives the attempts from a shorter schedule unless maxAttempts is given", () => {
    expect(setup({ retry: { scheduleMs: [5] } }).queue.policy.maxAttempts).toBe(2);
    expect(setup({ retry: { scheduleMs: [5], maxAttempts: 4 } }).queue.policy.maxAttempts).toBe(4);
  });

  it("refuses bad and duplicate type definitions", () => {
    const { queue } = setup();
    queue.define(sheetTask("ocr", async () => null));
    expect(() => queue.define(sheetTask("ocr", async () => null))).toThrow(/already defined/);
    expect(() => queue.define(sheetTask("Bad Name", async () => null))).toThrow(/must match/);
    expect(() => queue.define(sheetTask("slow", async () => null, { timeoutMs: 0 }))).toThrow(/timeoutMs/);
  });
});

describe("TaskQueue.submit", () => {
  it("validates the type, the input (naming each field), the priority and the key", async () => {
    const { queue, store } = setup();
    queue.define(sheetTask("ocr_processing", async () => null));

    const unknown = await expectEngineError(queue.submit({ type: "nope", input: {} }), "validation");
    expect(unknown.issues).toEqual([{ path: "type", message: expect.stringContaining('unknown task type "nope"; known: ocr_processing') }]);

    const bad = await expectEngineError(queue.submit({ type: "ocr_processing", input: { pageCount: 0 } }), "validation");
    expect(bad.issues.map((issue) => issue.path).sort()).toEqual(["input.pageCount", "input.sheetId"]);
    expect(bad.issues.find((issue) => issue.path === "input.sheetId")?.message).toBe("is required");

    const priority = await expectEngineError(
      queue.submit({ type: "ocr_processing", input: { sheetId: "s", pageCount: 1 }, priority: "urgent" as never, key: "" }),
      "validation",
    );
    expect(priority.issues.map((issue) => issue.path)).toEqual(["priority", "key"]);

    const missing = await expectEngineError(queue.submit({ type: "ocr_processing", input: undefined }), "validation");
    expect(missing.issues).toEqual([{ path: "input", message: "is required" }]);
    const notJson = await expectEngineError(queue.submit({ type: "ocr_processing", input: { sheetId: "s", pageCount: 1, n: BigInt(1) } }), "validation");
    expect(notJson.issues).toEqual([{ path: "input", message: expect.stringContaining("must be JSON") }]);
    const nul = await expectEngineError(queue.submit({ type: "ocr_processing", input: { sheetId: "a\u0000b", pageCount: 1 } }), "validation");
    expect(nul.issues).toEqual([{ path: "input", message: expect.stringContaining("U+0000") }]);
    expect((await store.list({ limit: 10 })).items).toEqual([]);
  });

  it("validates and stores the input as JSON carries it", async () => {
    const { queue } = setup();
    queue.define(defineTaskType({ type: "dated", input: z.object({ at: z.iso.datetime() }), handler: async (input) => input.at }));
    const { id } = await queue.submit({ type: "dated", input: { at: new Date("2026-05-01T10:00:00.000Z"), dropped: undefined } });
    expect((await queue.get(id))?.input).toEqual({ at: "2026-05-01T10:00:00.000Z" });
    await queue.start();
    await eventually(async () => expect((await queue.get(id))?.result).toBe("2026-05-01T10:00:00.000Z"));
  });

  it("records the task as queued, publishes its message with the priority and key, and a task.queued event", async () => {
    const { queue, driver, typesOf, eventsOf } = setup();
    queue.define(sheetTask("ocr_processing", async () => null, { priority: "high", timeoutMs: 1_234 }));
    const submitted = await queue.submit({ type: "ocr_processing", input: { sheetId: "s-1", pageCount: 3 }, key: "exam-9" });

    expect(submitted).toMatchObject({ status: "queued", replayed: false });
    const task = await queue.get(submitted.id);
    expect(task).toMatchObject({
      id: submitted.id,
      type: "ocr_processing",
      priority: "high",
      key: "exam-9",
      status: "queued",
      input: { sheetId: "s-1", pageCount: 3 },
      attempts: 0,
      maxAttempts: 3,
      timeoutMs: 1_234,
      correlationid: submitted.id,
    });
    expect(await driver.figures(TASK_TOPIC, "task-workers")).toMatchObject({ depth: 1, lag: 1 });
    expect(await typesOf(submitted.id)).toEqual(["task.queued"]);
    const [queued] = await eventsOf(submitted.id);
    expect(queued).toMatchObject({ subject: submitted.id, partitionkey: submitted.id, correlationid: submitted.id, causationid: submitted.id });
    expect(queued!.data).toEqual({ taskId: submitted.id, taskType: "ocr_processing", priority: "high", key: "exam-9", maxAttempts: 3, timeoutMs: 1_234 });
    expect(await queue.get("not-a-uuid")).toBeUndefined();
  });

  it("continues the caller's conversation and trace", async () => {
    const { queue, eventsOf } = setup();
    queue.define(sheetTask("ocr_processing", async () => null));
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const { id } = await queue.submit({ type: "ocr_processing", input: { sheetId: "s", pageCount: 1 }, correlationid: "upload-42", traceparent });
    await queue.start();
    await eventually(async () => expect((await queue.get(id))?.status).toBe("succeeded"));
    const events = await eventsOf(id);
    expect(events.map((event) => event.correlationid)).toEqual(events.map(() => "upload-42"));
    for (const event of events) expect(event.traceparent.split("-")[1]).toBe("0af7651916cd43dd8448eb211c80319c");
  });

  it("returns the first task for a repeated idempotency key, and refuses the key for another request", async () => {
    const { queue, driver } = setup();
    queue.define(sheetTask("ocr_processing", async () => null));
    const request = { type: "ocr_processing", input: { sheetId: "s", pageCount: 2 }, idempotencyKey: "upload-1" };
    const [first, second] = await Promise.all([queue.submit(request), queue.submit(request)]);
    const replay = await queue.submit(request);
    expect(new Set([first.id, second.id, replay.id]).size).toBe(1);
    expect([first.replayed, second.replayed].sort()).toEqual([false, true]);
    expect(replay.replayed).toBe(true);
    expect((await driver.figures(TASK_TOPIC, "task-workers")).depth).toBe(1);
    await expectEngineError(queue.submit({ ...request, input: { sheetId: "other", pageCount: 2 } }), "conflict");
  });

  it("removes the task and answers unavailable when the transport refuses the message", async () => {
    const { queue, driver, store, eventStore } = setup();
    queue.define(sheetTask("ocr_processing", async () => null));
    driver.publish = async () => {
      throw new Error("broker down");
    };
    const error = await expectEngineError(queue.submit({ type: "ocr_processing", input: { sheetId: "s", pageCount: 1 }, idempotencyKey: "k" }), "unavailable");
    expect(error.retryAfterSeconds).toBe(5);
    expect((await store.list({ limit: 10 })).items).toEqual([]);
    // The log says what became of the announced task.
    const { events } = await eventStore.readAll({ limit: 10 });
    expect(events.map((event) => event.type)).toEqual(["task.queued", "task.dead"]);
    expect(events[1]!.data).toMatchObject({ attempts: 0, reason: "not_queued", error: { type: "Error", message: "broker down" } });
  });
});

describe("TaskQueue workers", () => {
  it("runs a backlog by priority (high, normal, low), FIFO within a priority", async () => {
    const { queue } = setup({ concurrency: 1 });
    const order: string[] = [];
    for (const type of ["ocr", "batch", "report"]) {
      queue.define(sheetTask(type, async (input) => void order.push(input.sheetId), { priority: type === "ocr" ? "high" : type === "batch" ? "normal" : "low" }));
    }
    const plan: Array<[string, string]> = [
      ["report", "low-1"],
      ["batch", "normal-1"],
      ["ocr", "high-1"],
      ["report", "low-2"],
      ["ocr", "high-2"],
      ["batch", "normal-2"],
    ];
    for (const [type, sheetId] of plan) await queue.submit({ type, input: { sheetId, pageCount: 1 } });
    // An explicit priority beats the type's default.
    await queue.submit({ type: "report", input: { sheetId: "urgent-report", pageCount: 1 }, priority: "high" });
    await queue.start();
    await eventually(() => expect(order).toHaveLength(7));
    expect(order).toEqual(["high-1", "high-2", "urgent-report", "normal-1", "normal-2", "low-1", "low-2"]);
  });

  it("runs at most `concurrency` tasks at once (the pool size)", async () => {
    const { queue } = setup({ concurrency: 3 });
    let now = 0;
    let peak = 0;
    const release = gate();
    queue.define(
      sheetTask("work", async () => {
        now += 1;
        peak = Math.max(peak, now);
        await release.promise;
        now -= 1;
        return { ok: true };
      }),
    );
    const ids: string[] = [];
    for (let index = 0; index < 10; index += 1) ids.push((await queue.submit({ type: "work", input: { sheetId: `s${index}`, pageCount: 1 } })).id);
    await queue.start();
    await eventually(() => expect(now).toBe(3));
    expect(queue.stats()).toMatchObject({ workers: 3, active: 3 });
    expect((await queue.counts()).byStatus).toMatchObject({ running: 3, queued: 7 });
    release.open();
    await eventually(async () => expect((await queue.counts()).byStatus.succeeded).toBe(10));
    expect(peak).toBe(3);
    expect((await queue.get(ids[0]!))?.result).toEqual({ ok: true });
  });

  it("runs the tasks of one key one at a time, in submit order", async () => {
    const { queue } = setup({ concurrency: 4 });
    const log: string[] = [];
    queue.define(
      sheetTask("step", async (input) => {
        log.push(`start ${input.sheetId}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        log.push(`end ${input.sheetId}`);
      }),
    );
    for (const sheetId of ["a", "b", "c"]) await queue.submit({ type: "step", input: { sheetId, pageCount: 1 }, key: "exam-1" });
    await queue.start();
    await eventually(() => expect(log).toHaveLength(6));
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
  });

  it("retries a failing task on the schedule, recording each transition, until it succeeds", async () => {
    const { queue, store, typesOf, eventsOf } = setup({ retry: { scheduleMs: [40, 80, 1_000] } });
    const starts: number[] = [];
    queue.define(
      sheetTask("flaky", async (_input, context) => {
        starts.push(Date.now());
        if (context.attempt < 3) throw new Error(`scanner jammed (${context.attempt})`);
        return { pages: 2 };
      }),
    );
    const { id } = await queue.submit({ type: "flaky", input: { sheetId: "s", pageCount: 2 } });
    await queue.start();
    await eventually(async () => expect((await queue.get(id))?.status).toBe("succeeded"));

    expect(store.statuses.get(id)).toEqual(["queued", "running", "failed", "running", "failed", "running", "succeeded"]);
    expect(await typesOf(id)).toEqual(["task.queued", "task.started", "task.failed", "task.started", "task.failed", "task.started", "task.succeeded"]);
    const failed = (await eventsOf(id)).filter((event) => event.type === TASK_EVENT_TYPES.failed).map((event) => event.data);
    expect(failed).toEqual([
      expect.objectContaining({ attempt: 1, maxAttempts: 4, retryInMs: 40, error: { type: "Error", message: "scanner jammed (1)" } }),
      expect.objectContaining({ attempt: 2, retryInMs: 80, error: { type: "Error", message: "scanner jammed (2)" } }),
    ]);
    // Timers may fire a millisecond early; the gaps follow the schedule.
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(38);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(78);
    const task = await queue.get(id);
    expect(task).toMatchObject({ status: "succeeded", attempts: 3, result: { pages: 2 }, error: null, nextAttemptAt: null, progress: { percent: 100 } });
    expect(Date.parse(task!.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(task!.startedAt!));
  });

  it("shows a scheduled retry as failed with the error and when the next attempt is due", async () => {
    const { queue } = setup({ retry: { scheduleMs: [60_000] } });
    queue.define(
      sheetTask("flaky", async () => {
        throw new Error("OCR engine unavailable");
      }),
    );
    const { id } = await queue.submit({ type: "flaky", input: { sheetId: "s", pageCount: 1 } });
    await queue.start();
    const task = await eventually(async () => {
      const current = await queue.get(id);
      expect(current?.status).toBe("failed");
      return current!;
    });
    expect(task).toMatchObject({ attempts: 1, error: { type: "Error", message: "OCR engine unavailable" } });
    const dueIn = Date.parse(task.nextAttemptAt!) - Date.parse(task.updatedAt);
    expect(dueIn).toBeGreaterThanOrEqual(59_900);
    expect(dueIn).toBeLessThanOrEqual(60_000);
  });

  it("goes dead after the last attempt: dead-lettered with the last error", async () => {
    const { queue, store, deadLetters, typesOf, eventsOf } = setup({ retry: { scheduleMs: [10, 10] } });
    queue.define(
      sheetTask("broken", async (_input, context) => {
        throw new RangeError(`page ${context.attempt} unreadable`);
      }),
    );
    const { id } = await queue.submit({ type: "broken", input: { sheetId: "s", pageCount: 1 } });
    await queue.start();
    await eventually(async () => expect((await deadLetters.list({ limit: 10 })).items).toHaveLength(1));

    const task = await queue.get(id);
    expect(task).toMatchObject({ status: "dead", attempts: 3, error: { type: "RangeError", message: "page 3 unreadable" }, nextAttemptAt: null });
    expect(store.statuses.get(id)).toEqual(["queued", "running", "failed", "running", "failed", "running", "dead"]);
    expect(await typesOf(id)).toEqual(["task.queued", "task.started", "task.failed", "task.started", "task.failed", "task.started", "task.dead"]);
    expect((await eventsOf(id)).at(-1)!.data).toEqual({
      taskId: id,
      taskType: "broken",
      attempts: 3,
      error: { type: "RangeError", message: "page 3 unreadable" },
      reason: "attempts_exhausted",
    });
    const [letter] = (await deadLetters.list({ limit: 10 })).items;
    expect(letter).toMatchObject({ subscription: "task-workers", topic: TASK_TOPIC, attempts: 3, error: { type: "RangeError", message: "page 3 unreadable" } });
    expect(letter!.message.id).toBe(id);
    expect((await queue.counts()).byType.broken).toMatchObject({ dead: 1, queued: 0 });
  });

  it("goes dead at once on a NonRetryableError", async () => {
    const { queue, deadLetters, typesOf, eventsOf } = setup();
    let calls = 0;
    queue.define(
      sheetTask("strict", async () => {
        calls += 1;
        throw new NonRetryableError("exam is closed");
      }),
    );
    const { id } = await queue.submit({ type: "strict", input: { sheetId: "s", pageCount: 1 } });
    await queue.start();
    await eventually(async () => expect((await queue.get(id))?.status).toBe("dead"));
    await eventually(async () => expect((await deadLetters.list({ limit: 10 })).items).toHaveLength(1));
    expect(calls).toBe(1);
    expect(await queue.get(id)).toMatchObject({ attempts: 1, error: { type: "NonRetryableError", message: "exam is closed" } });
    expect(await typesOf(id)).toEqual(["task.queued", "task.started", "task.dead"]);
    expect((await eventsOf(id)).at(-1)!.data).toMatchObject({ reason: "non_retryable", attempts: 1 });
  });

  it("aborts the signal when an attempt times out and counts it as a failed attempt", async () => {
    const { queue, typesOf } = setup({ retry: { scheduleMs: [10] } });
    const reasons: unknown[] = [];
    queue.define(
      sheetTask(
        "slow",
        async (_input, context) => {
          if (context.attempt > 1) return "fast this time";
          await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
          reasons.push(context.signal.reason);
          return "too late";
        },
        { timeoutMs: 30 },
      ),
    );
    const { id } = await queue.submit({ type: "slow", input: { sheetId: "s", pageCount: 1 } });
    await queue.start();
    await eventually(async () => expect((await queue.get(id))?.status).toBe("succeeded"));
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(TaskTimeoutError);
    expect(await queue.get(id)).toMatchObject({ attempts: 2, result: "fast this time" });
    expect(await typesOf(id)).toEqual(["task.queued", "task.started", "task.failed", "task.started", "task.succeeded"]);
  });

  it("frees the worker of a handler that ignores its signal, and goes dead after timing out every attempt", async () => {
    const { queue } = setup({ retry: { scheduleMs: [5] }, concurrency: 1 });
    const never = gate();
    queue.define(sheetTask("stuck", async () => never.promise, { timeoutMs: 20 }));
    queue.define(sheetTask("quick", async () => "done"));
    const stuck = await queue.submit({ type: "stuck", input: { sheetId: "s", pageCount: 1 } });
    const quick = await queue.submit({ type: "quick", input: { sheetId: "q", pageCount: 1 } });
    await queue.start();
    await eventually(async () => expect((await queue.get(stuck.id))?.status).toBe("dead"));
    await eventually(async () => expect((await queue.get(quick.id))?.status).toBe("succeeded"));
    expect(await queue.get(stuck.id)).toMatchObject({ attempts: 2, error: { type: "TaskTimeoutError" } });
    never.open();
  });

  it("records progress and publishes task.progress events in order; progress after the end is ignored", async () => {
    const { queue, eventsOf } = setup();
    let late: TaskContext | undefined;
    queue.define(
      sheetTask("ocr", async (input, context) => {
        for (let page = 1; page <= input.pageCount; page += 1) {
          await context.progress((page / input.pageCount) * 100 - 10, `page ${page} of ${input.pageCount}`);
        }
        void context.progress(95, "saving");
        late = context;
        return { pages: input.pageCount };
      }),
    );
    const { id } = await queue.submit({ type: "ocr", input: { sheetId: "s", pageCount: 3 } });
    await queue.start();
    await eventually(async () => expect((await queue.get(id))?.status).toBe("succeeded"));
    await late!.progress(10, "too late");

    const events = await eventsOf(id);
    expect(events.map((event) => event.type)).toEqual([
      "task.queued",
      "task.started",
      "task.progress",
      "task.progress",
      "task.progress",
      "task.progress",
      "task.succeeded",
    ]);
    expect(events.filter((event) => event.type === "task.progress").map((event) => event.data)).toEqual([
      { taskId: id, taskType: "ocr", attempt: 1, percent: 23.33, message: "page 1 of 3" },
      { taskId: id, taskType: "ocr", attempt: 1, percent: 56.67, message: "page 2 of 3" },
      { taskId: id, taskType: "ocr", attempt: 1, percent: 90, message: "page 3 of 3" },
      { taskId: id, taskType: "ocr", attempt: 1, percent: 95, message: "saving" },
    ]);
    for (const event of events) expect(event).toMatchObject({ subject: id, partitionkey: id });
    expect((await queue.get(id))?.progress).toEqual({ percent: 100, message: "saving" });
    expect(events.at(-1)!.data).toMatchObject({ attempt: 1, result: { pages: 3 } });
  });

  it("clamps progress to 0..100", async () => {
    const { queue, eventsOf } = setup();
    queue.define(
      sheetTask("ocr", async (_input, context) => {
        await context.progress(-5);
        await context.progress(250, "x".repeat(600));
      }),
    );
    const { id } = await queue.submit({ type: "ocr", input: { sheetId: "s", pageCount: 1 } });
    await queue.start();
    await eventually(async () => expect((await queue.get(id))?.status).toBe("succeeded"));
    const progress = (await eventsOf(id)).filter((event) => event.type === "task.progress").map((event) => event.data as { percent: number; message?: string });
    expect(progress.map((entry) => entry.percent)).toEqual([0, 100]);
    expect(progress[1]!.message).toHaveLength(500);
  });

  it("does not run a succeeded task again when its message is delivered again", async () => {
    const { queue, driver } = setup();
    let calls = 0;
    queue.define(
      sheetTask("once", async () => {
        calls += 1;
      }),
    );
    const { id } = await queue.submit({ type: "once", input: { sheetId: "s", pageCount: 1 } });
    await queue.start();
    await eventually(async () => expect((await queue.get(id))?.status).toBe("succeeded"));
    // A duplicate of the task message (e.g. an ack lost on the way to the broker).
    const duplicate = buildEnvelope({ id, type: TASK_MESSAGE_TYPE, subject: id, data: { taskId: id, taskType: "once", input: { sheetId: "s", pageCount: 1 } } });
    await driver.redeliver(TASK_TOPIC, "task-workers", toWireMessage(duplicate));
    await eventually(async () => expect((await driver.figures(TASK_TOPIC, "task-workers")).depth).toBe(0));
    expect(calls).toBe(1);
  });

  it("runs a dead task again when its dead letter is redriven", async () => {
    const { queue, driver, deadLetters, store } = setup();
    let healthy = false;
    queue.define(
      sheetTask("grading", async () => {
        if (!healthy) throw new NonRetryableError("rubric missing");
        return { score: 9 };
      }),
    );
    const { id } = await queue.submit({ type: "grading", input: { sheetId: "s", pageCount: 1 } });
    await queue.start();
    const letter = await eventually(async () => {
      const [first] = (await deadLetters.list({ limit: 1 })).items;
      expect(first).toBeDefined();
      return first!;
    });
    healthy = true;
    await redrive(driver, deadLetters, letter.id);
    await eventually(async () => expect((await queue.get(id))?.status).toBe("succeeded"));
    expect(store.statuses.get(id)).toEqual(["queued", "running", "dead", "running", "succeeded"]);
    expect(await queue.get(id)).toMatchObject({ attempts: 1, result: { score: 9 }, error: null });
  });

  it("dead-letters an input that no longer matches the schema without calling the handler", async () => {
    const { queue } = setup();
    let calls = 0;
    queue.define(
      sheetTask("ocr", async () => {
        calls += 1;
      }),
    );
    const { id } = await queue.submit({ type: "ocr", input: { sheetId: "s", pageCount: 1 } });
    // A deployment changed the schema incompatibly while the task waited.
    (queue as unknown as { types: Map<string, { input: z.ZodType }> }).types.get("ocr")!.input = z.object({ sheetId: z.number() });
    await queue.start();
    await eventually(async () => expect((await queue.get(id))?.status).toBe("dead"));
    expect(calls).toBe(0);
    expect((await queue.get(id))?.error).toMatchObject({ type: "NonRetryableError", message: expect.stringContaining("input.sheetId") });
  });

  it("rebuilds a missing record from the message", async () => {
    const { queue, store } = setup();
    queue.define(sheetTask("ocr", async () => "ok", { priority: "low" }));
    const { id } = await queue.submit({ type: "ocr", input: { sheetId: "s", pageCount: 1 }, key: "exam-3" });
    await store.delete(id);
    await queue.start();
    await eventually(async () => expect((await queue.get(id))?.status).toBe("succeeded"));
    expect(await queue.get(id)).toMatchObject({ type: "ocr", priority: "low", key: "exam-3", input: { sheetId: "s", pageCount: 1 }, result: "ok" });
  });

  it("fails a result that is not JSON for good", async () => {
    const { queue } = setup();
    queue.define(sheetTask("weird", async () => ({ big: BigInt(1) })));
    const { id } = await queue.submit({ type: "weird", input: { sheetId: "s", pageCount: 1 } });
    await queue.start();
    await eventually(async () => expect((await queue.get(id))?.status).toBe("dead"));
    expect((await queue.get(id))?.error?.message).toMatch(/not JSON/);
  });

  it("fails a result holding U+0000 for good, and records error texts without it", async () => {
    const { queue } = setup({ retry: { scheduleMs: [5] } });
    queue.define(sheetTask("nul_result", async () => ({ text: "a\u0000b" })));
    queue.define(
      sheetTask("nul_error", async () => {
        throw new NonRetryableError("bad\u0000byte");
      }),
    );
    const result = await queue.submit({ type: "nul_result", input: { sheetId: "s", pageCount: 1 } });
    const error = await queue.submit({ type: "nul_error", input: { sheetId: "s", pageCount: 1 } });
    await queue.start();
    await eventually(async () => expect((await queue.get(result.id))?.status).toBe("dead"));
    await eventually(async () => expect((await queue.get(error.id))?.status).toBe("dead"));
    expect((await queue.get(result.id))?.error?.message).toMatch(/U\+0000/);
    expect((await queue.get(error.id))?.error).toEqual({ type: "NonRetryableError", message: "bad\uFFFDbyte" });
  });

  it("keeps working when task events cannot be published, reporting it", async () => {
    const { queue, errors } = setup({ events: { publish: async () => Promise.reject(new Error("event store down")) } });
    queue.define(sheetTask("ocr", async () => "ok"));
    const { id } = await queue.submit({ type: "ocr", input: { sheetId: "s", pageCount: 1 } });
    await queue.start();
    await eventually(async () => expect((await queue.get(id))?.status).toBe("succeeded"));
    expect(errors.filter((info) => info.stage === "event").length).toBeGreaterThanOrEqual(3);
  });

  it("on stop, waits for running attempts, then aborts those past the grace period (retried later)", async () => {
    const { queue } = setup({ retry: { scheduleMs: [60_000] } });
    const finishing = gate();
    queue.define(
      sheetTask("polite", async () => {
        await finishing.promise;
        return "finished";
      }),
    );
    queue.define(
      sheetTask("stubborn", async (_input, context) => {
        await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
        throw context.signal.reason;
      }),
    );
    const polite = await queue.submit({ type: "polite", input: { sheetId: "p", pageCount: 1 } });
    const stubborn = await queue.submit({ type: "stubborn", input: { sheetId: "s", pageCount: 1 } });
    await queue.start();
    await eventually(() => expect(queue.stats().active).toBe(2));
    const stopping = queue.stop({ graceMs: 50 });
    setTimeout(finishing.open, 10);
    await stopping;
    expect(queue.running).toBe(false);
    expect(await queue.get(polite.id)).toMatchObject({ status: "succeeded", result: "finished" });
    expect(await queue.get(stubborn.id)).toMatchObject({ status: "failed", error: { type: TaskShutdownError.name } });
  });

  it("lists tasks newest first with filters and counts them per status and type", async () => {
    const { queue } = setup();
    queue.define(sheetTask("ocr", async () => "ok"));
    queue.define(sheetTask("report", async () => "ok"));
    const ids: string[] = [];
    for (const type of ["ocr", "report", "ocr"]) ids.push((await queue.submit({ type, input: { sheetId: "s", pageCount: 1 } })).id);
    const page = await queue.list({ limit: 2 });
    expect(page.items.map((task) => task.id)).toEqual([ids[2], ids[1]]);
    expect((await queue.list({ limit: 2, cursor: page.next! })).items.map((task) => task.id)).toEqual([ids[0]]);
    expect((await queue.list({ type: "ocr", status: "queued" })).items).toHaveLength(2);
    await expectEngineError(queue.list({ limit: 0, status: "bogus" as never, cursor: "x" }), "validation");
    expect(await queue.counts()).toEqual({
      byStatus: { queued: 3, running: 0, succeeded: 0, failed: 0, dead: 0 },
      byType: {
        ocr: { queued: 2, running: 0, succeeded: 0, failed: 0, dead: 0 },
        report: { queued: 1, running: 0, succeeded: 0, failed: 0, dead: 0 },
      },
    });
  });
});
