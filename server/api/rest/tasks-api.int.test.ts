import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { GET as listEvents } from "@/app/api/v1/events/route";
import { GET as getOpenApi } from "@/app/api/v1/openapi.json/route";
import { GET as listTaskTypes } from "@/app/api/v1/task-types/route";
import { GET as getTask } from "@/app/api/v1/tasks/[id]/route";
import { GET as listTasks, POST as postTask } from "@/app/api/v1/tasks/route";
import { NonRetryableError } from "@/server/engine/core/errors";
import { defineTaskType } from "@/server/engine/tasks/task-type";
import { eventually } from "@/server/engine/transport/transport.contract";
import { startTransportWorkers, type TransportWorkers } from "@/server/runtime/transport-workers";
import type { TaskResource } from "./task-schemas";
import { bodyOf, startTestApp, type TestApp } from "./test-harness";

let app: TestApp;
let workers: TransportWorkers;
let readerKey: string;
let submitterKey: string;
let eventsOnlyKey: string;

type Problem = { type: string; status: number; detail: string; errors?: Array<{ path: string; message: string }> };
/** What GET /api/v1/tasks/{id} answers (the OpenAPI document's Task). */
type Task = TaskResource;

async function expectProblem(response: Response, status: number): Promise<Problem> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  return bodyOf<Problem>(response);
}

function submit(body: unknown, init: { key?: string | null; headers?: HeadersInit } = {}) {
  return postTask(app.request("/api/v1/tasks", { method: "POST", body, ...init }));
}

function fetchTask(id: string, key?: string) {
  return getTask(app.request(`/api/v1/tasks/${id}`, key === undefined ? {} : { key }), { params: Promise.resolve({ id }) });
}

async function taskOf(id: string): Promise<Task> {
  const response = await fetchTask(id);
  expect(response.status).toBe(200);
  return bodyOf<Task>(response);
}

async function settled(id: string, status: string): Promise<Task> {
  return eventually(async () => {
    const task = await taskOf(id);
    expect(task.status).toBe(status);
    return task;
  }, 20_000);
}

const ocrInput = () => ({ sheetId: randomUUID(), examId: randomUUID(), studentId: "student-3", pageCount: 2 });

beforeAll(async () => {
  app = await startTestApp();
  const { apiKeys } = app.container.authServices;
  readerKey = (await apiKeys.create({ name: "task reader", scopes: ["queries:read"] })).key;
  submitterKey = (await apiKeys.create({ name: "task submitter", scopes: ["commands:execute"] })).key;
  eventsOnlyKey = (await apiKeys.create({ name: "events only", scopes: ["events:read", "events:publish"] })).key;
  // Quick, deterministic types beside the demo ones (defined before the workers start).
  app.container.tasks.define(
    defineTaskType({
      type: "rest_echo",
      description: "Echoes its input after reporting progress twice.",
      priority: "low",
      timeoutMs: 5_000,
      input: z.object({ message: z.string().min(1), fail: z.boolean().default(false) }),
      async handler(input, context) {
        await context.progress(50, "half way");
        if (input.fail) throw new NonRetryableError(`refused: ${input.message}`);
        await context.progress(90, "almost");
        return { echoed: input.message };
      },
    }),
  );
  workers = startTransportWorkers(app.container);
  await workers.ready;
  expect(app.container.tasks.running).toBe(true);
  // TASK_WORKERS defaults to 8.
  expect(app.container.tasks.stats().workers).toBe(8);
});

afterAll(async () => {
  await workers?.stop();
  await app?.close();
});

describe("POST /api/v1/tasks", () => {
  it("queues a task (202 with its id and status) that a worker then runs to success", async () => {
    const response = await submit({ type: "rest_echo", input: { message: "hello" } });
    expect(response.status).toBe(202);
    const accepted = await bodyOf<{ id: string; status: string }>(response);
    expect(accepted).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: "queued" });
    expect(response.headers.get("location")).toBe(`/api/v1/tasks/${accepted.id}`);

    const task = await settled(accepted.id, "succeeded");
    expect(task).toMatchObject({
      id: accepted.id,
      type: "rest_echo",
      priority: "low",
      key: null,
      input: { message: "hello" },
      result: { echoed: "hello" },
      error: null,
      attempts: 1,
      maxAttempts: 6,
      timeoutMs: 5_000,
      progress: { percent: 100, message: "almost" },
      correlationid: accepted.id,
      nextAttemptAt: null,
    });
    expect(Date.parse(task.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(task.startedAt!));
    expect(task).not.toHaveProperty("idempotencyKey");
  });

  it("runs a demo task type with progress per page", async () => {
    const response = await submit({ type: "ocr_processing", input: ocrInput(), key: "exam-1", priority: "normal" }, { key: submitterKey });
    expect(response.status).toBe(202);
    const { id } = await bodyOf<{ id: string }>(response);
    const task = await eventually(async () => {
      const current = await taskOf(id);
      // The demo fails now and then on purpose; a retry follows 1 s later.
      expect(["succeeded", "dead"]).toContain(current.status);
      return current;
    }, 30_000);
    expect(task).toMatchObject({ type: "ocr_processing", priority: "normal", key: "exam-1" });
    if (task.status === "succeeded") expect(task.result).toMatchObject({ pageCount: 2, engine: "handwriting-v3" });
  });

  it("publishes task.* events with the task id as subject, readable from the event log", async () => {
    const { id } = await bodyOf<{ id: string }>(await submit({ type: "rest_echo", input: { message: "traced" } }));
    await settled(id, "succeeded");
    const types = await eventually(async () => {
      const page = await bodyOf<{ items: Array<{ type: string; subject: string; partitionkey: string; data: { taskId: string } }> }>(
        await listEvents(app.request(`/api/v1/events?subject=${id}`)),
      );
      expect(page.items.map((event) => event.type)).toContain("task.succeeded");
      for (const event of page.items) expect(event).toMatchObject({ subject: id, partitionkey: id, data: { taskId: id } });
      return page.items.map((event) => event.type);
    });
    expect(types).toEqual(["task.queued", "task.started", "task.progress", "task.progress", "task.succeeded"]);
  });

  it("marks a task that fails for good as dead, with its error, and dead-letters it", async () => {
    const { id } = await bodyOf<{ id: string }>(await submit({ type: "rest_echo", input: { message: "no", fail: true } }));
    const task = await settled(id, "dead");
    expect(task).toMatchObject({ attempts: 1, error: { type: "NonRetryableError", message: "refused: no" }, result: null, progress: { percent: 50 } });
    const letters = await app.container.transport.deadLetters.list({ subscription: "task-workers", limit: 100 });
    expect(letters.items.map((letter) => letter.message.id)).toContain(id);
  });

  it("refuses an unknown type and invalid input with 422 naming each field", async () => {
    const unknown = await expectProblem(await submit({ type: "teleport", input: {} }), 422);
    expect(unknown.errors).toEqual([{ path: "type", message: expect.stringContaining("unknown task type") }]);

    const invalid = await expectProblem(await submit({ type: "ocr_processing", input: { sheetId: "nope", pageCount: 0 } }), 422);
    expect(invalid.errors?.map((issue) => issue.path).sort()).toEqual(["input.examId", "input.pageCount", "input.sheetId", "input.studentId"]);

    const shape = await expectProblem(await submit({ type: "ocr_processing", priority: "urgent", extra: 1 }), 422);
    expect(shape.errors?.map((issue) => issue.path).sort()).toEqual(["extra", "input", "priority"]);

    await expectProblem(await submit("{not json"), 400);
    expect((await bodyOf<{ items: unknown[] }>(await listTasks(app.request("/api/v1/tasks?type=teleport")))).items).toEqual([]);
  });

  it("honours Idempotency-Key: the same request gets the first task, a different one 409", async () => {
    const body = { type: "rest_echo", input: { message: "once" } };
    const key = `upload-${randomUUID()}`;
    const first = await submit(body, { headers: { "idempotency-key": key } });
    expect(first.status).toBe(202);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const { id } = await bodyOf<{ id: string }>(first);

    const again = await submit(body, { headers: { "idempotency-key": key } });
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await bodyOf<{ id: string }>(again)).id).toBe(id);

    await expectProblem(await submit({ ...body, input: { message: "twice" } }, { headers: { "idempotency-key": key } }), 409);
    // Keys are per caller: another key holder's identical key is another task.
    const other = await submit(body, { key: submitterKey, headers: { "idempotency-key": key } });
    expect((await bodyOf<{ id: string }>(other)).id).not.toBe(id);
    await expectProblem(await submit(body, { headers: { "idempotency-key": "bad key with spaces" } }), 400);
  });

  it("needs commands:execute", async () => {
    await expectProblem(await submit({ type: "rest_echo", input: { message: "x" } }, { key: readerKey }), 403);
    await expectProblem(await submit({ type: "rest_echo", input: { message: "x" } }, { key: eventsOnlyKey }), 403);
    await expectProblem(await submit({ type: "rest_echo", input: { message: "x" } }, { key: null }), 401);
  });
});

describe("GET /api/v1/tasks and /api/v1/tasks/{id}", () => {
  it("lists tasks newest first with status and type filters and a next cursor", async () => {
    const ids: string[] = [];
    for (let index = 0; index < 3; index += 1) {
      ids.push((await bodyOf<{ id: string }>(await submit({ type: "rest_echo", input: { message: `list-${index}` } }))).id);
    }
    for (const id of ids) await settled(id, "succeeded");

    const first = await listTasks(app.request("/api/v1/tasks?type=rest_echo&status=succeeded&limit=2", { key: readerKey }));
    expect(first.status).toBe(200);
    const page = await bodyOf<{ items: Task[]; next: string | null }>(first);
    expect(page.items.map((task) => task.id)).toEqual([ids[2], ids[1]]);
    expect(page.next).toBe(ids[1]);
    const second = await bodyOf<{ items: Task[]; next: string | null }>(
      await listTasks(app.request(`/api/v1/tasks?type=rest_echo&status=succeeded&limit=2&next=${page.next}`, { key: readerKey })),
    );
    expect(second.items[0]!.id).toBe(ids[0]);
    for (const task of [...page.items, ...second.items]) expect(task).toMatchObject({ type: "rest_echo", status: "succeeded" });

    const dead = await bodyOf<{ items: Task[] }>(await listTasks(app.request("/api/v1/tasks?status=dead")));
    expect(dead.items.every((task) => task.status === "dead")).toBe(true);
  });

  it("refuses bad list parameters with 400 naming them", async () => {
    const problem = await expectProblem(await listTasks(app.request("/api/v1/tasks?status=paused&limit=0&next=x&colour=red")), 400);
    expect(problem.errors?.map((issue) => issue.path).sort()).toEqual(["colour", "limit", "next", "status"]);
  });

  it("answers 404 for an unknown task and needs queries:read", async () => {
    await expectProblem(await fetchTask(randomUUID()), 404);
    await expectProblem(await fetchTask("not-a-task"), 404);
    await expectProblem(await fetchTask(randomUUID(), submitterKey), 403);
    await expectProblem(await listTasks(app.request("/api/v1/tasks", { key: eventsOnlyKey })), 403);
  });
});

describe("GET /api/v1/task-types", () => {
  it("lists each type with its priority, timeout, input schema and task counts", async () => {
    const response = await listTaskTypes(app.request("/api/v1/task-types", { key: eventsOnlyKey }));
    expect(response.status).toBe(200);
    const { items } = await bodyOf<{
      items: Array<{ type: string; priority: string; timeoutMs: number; schema: { properties?: Record<string, unknown>; required?: string[] }; counts: Record<string, number> }>;
    }>(response);
    expect(items.map((item) => [item.type, item.priority])).toEqual([
      ["batch_processing", "normal"],
      ["grading_execution", "high"],
      ["ocr_processing", "high"],
      ["report_generation", "low"],
      ["rest_echo", "low"],
    ]);
    const ocr = items.find((item) => item.type === "ocr_processing")!;
    expect(ocr.timeoutMs).toBe(120_000);
    expect(ocr.schema.required).toEqual(expect.arrayContaining(["sheetId", "examId", "studentId", "pageCount"]));
    expect(items.find((item) => item.type === "report_generation")!.timeoutMs).toBe(300_000);
    expect(items.find((item) => item.type === "rest_echo")!.counts).toMatchObject({ succeeded: expect.any(Number), dead: expect.any(Number), queued: expect.any(Number) });
    expect(items.find((item) => item.type === "rest_echo")!.counts.succeeded).toBeGreaterThan(0);
    await expectProblem(await listTaskTypes(app.request("/api/v1/task-types", { key: null })), 401);
  });

  it("is described in the OpenAPI document", async () => {
    const document = await bodyOf<{ paths: Record<string, Record<string, { operationId: string }>> }>(await getOpenApi(app.request("/api/v1/openapi.json")));
    expect(document.paths["/api/v1/tasks"]?.post?.operationId).toBe("submitTask");
    expect(document.paths["/api/v1/tasks"]?.get?.operationId).toBe("listTasks");
    expect(document.paths["/api/v1/tasks/{id}"]?.get?.operationId).toBe("getTask");
    expect(document.paths["/api/v1/task-types"]?.get?.operationId).toBe("listTaskTypes");
  });
});
