import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { GET as getOpenApi } from "@/app/api/v1/openapi.json/route";
import { GET as listSagaTypes } from "@/app/api/v1/saga-types/route";
import { GET as getSaga } from "@/app/api/v1/sagas/[id]/route";
import { POST as postCancel } from "@/app/api/v1/sagas/[id]/cancel/route";
import { POST as postRetry } from "@/app/api/v1/sagas/[id]/retry/route";
import { GET as getTimers } from "@/app/api/v1/sagas/[id]/timers/route";
import { GET as listSagas, POST as postSaga } from "@/app/api/v1/sagas/route";
import { GET as getStatus } from "@/app/api/v1/status/route";
import { createTestDatabase, type TestDatabase } from "@/server/adapters/postgres/test-database";
import { NonRetryableError } from "@/server/engine/core/errors";
import { defineSaga } from "@/server/engine/sagas/saga-definition";
import { defineTaskType } from "@/server/engine/tasks/task-type";
import type { SagaDetailResource, SagaSummaryResource, SagaTypeResource } from "./sagas-schemas";
import { bodyOf, startTestApp, type TestApp } from "./test-harness";

/**
 * REST v1 sagas through the route handlers, on a real container (PGlite, then a fresh PostgreSQL
 * database) with three small test sagas defined on its orchestrator beside the domain's. No
 * workers run: each test advances the sagas itself with `runDue()` (one pass until nothing is
 * due), so every state it asserts is one the saga reached, not one it happened to be in. Nothing
 * consumes the task queue, so a saga waiting for a task stays waiting until it is cancelled.
 */

let app: TestApp;
let testDatabase: TestDatabase | undefined;
/** events:read and commands:execute: what an operator's key holds. */
let operatorKey: string;
/** events:read only: may look, not act. */
let readerKey: string;
/** queries:read only: may not even look. */
let queriesOnlyKey: string;

type Problem = { type: string; status: number; detail: string; errors?: Array<{ path: string; message: string }> };
type Page = { items: SagaSummaryResource[]; next: string | null };

/** What the test sagas' local actions did, in order, per saga id. */
const effects = new Map<string, string[]>();
const record = (sagaId: string, effect: string) => effects.set(sagaId, [...(effects.get(sagaId) ?? []), effect]);
/** The flaky saga's compensation fails until this is flipped (an operator fixed the ledger). */
let ledgerAvailable = false;

const TRANSFER = "rest_test_transfer";
const STUCK = "rest_test_stuck";
const FLAKY = "rest_test_flaky";
const WAIT_TASK = "rest_saga_wait";
const DEADLINE_MS = 3_600_000;

const transferInput = z.object({ account: z.string().min(1), amount: z.int().positive() });
type TransferInput = z.infer<typeof transferInput>;

const reserve = {
  name: "reserve",
  description: "Reserves the amount on the account.",
  action: {
    kind: "local" as const,
    run: async (context: { sagaId: string; data: { amount: number } }) => {
      record(context.sagaId, "reserve");
      return { reserved: context.data.amount };
    },
  },
  compensation: {
    kind: "local" as const,
    run: async (context: { sagaId: string }) => {
      record(context.sagaId, "release");
      return null;
    },
  },
  apply: (data: { amount: number }, result: unknown) => ({ ...data, ...(result as object) }),
};

const testSagas = [
  defineSaga<TransferInput, { amount: number }>({
    type: TRANSFER,
    description: "Reserves and charges an amount: two local steps that succeed.",
    input: transferInput,
    initialData: (input) => ({ amount: input.amount }),
    subject: (input) => input.account,
    steps: [
      reserve,
      {
        name: "charge",
        action: {
          kind: "local",
          run: async (context) => {
            record(context.sagaId, "charge");
            return { charged: context.data.amount };
          },
        },
      },
    ],
  }),
  defineSaga<TransferInput, { amount: number }>({
    type: STUCK,
    description: "Reserves, then waits for a task nothing runs: it stays running until cancelled.",
    input: transferInput,
    initialData: (input) => ({ amount: input.amount }),
    subject: (input) => input.account,
    deadline: { afterMs: DEADLINE_MS, onExpiry: "compensate" },
    steps: [
      reserve,
      { name: "await_approval", timeoutMs: 600_000, action: { kind: "task", taskType: WAIT_TASK, input: (context) => ({ sagaId: context.sagaId }) } },
      {
        name: "charge",
        action: {
          kind: "local",
          run: async (context) => {
            record(context.sagaId, "charge");
            return null;
          },
        },
      },
    ],
  }),
  defineSaga<TransferInput, { amount: number }>({
    type: FLAKY,
    description: "Reserves, then the charge is declined; the release fails while the ledger is down.",
    input: transferInput,
    initialData: (input) => ({ amount: input.amount }),
    steps: [
      {
        ...reserve,
        compensationRetry: { maxAttempts: 1 },
        compensation: {
          kind: "local",
          run: async (context) => {
            if (!ledgerAvailable) throw new Error("ledger unavailable");
            record(context.sagaId, "release");
            return null;
          },
        },
      },
      {
        name: "charge",
        action: {
          kind: "local",
          run: async () => {
            throw new NonRetryableError("card declined");
          },
        },
      },
    ],
  }),
];

async function expectProblem(response: Response, status: number): Promise<Problem> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = await bodyOf<Problem>(response);
  expect(problem).toMatchObject({ status, type: expect.stringMatching(/^https:\/\/eventloom\.dev\/problems\//), detail: expect.stringMatching(/\w/) });
  return problem;
}

const idParams = (id: string) => ({ params: Promise.resolve({ id }) });
type Init = { key?: string | null; headers?: HeadersInit; body?: unknown };

const start = (body: unknown, init: Init = {}) => postSaga(app.request("/api/v1/sagas", { method: "POST", body, key: operatorKey, ...init }));
const detail = (id: string, init: Init = {}) => getSaga(app.request(`/api/v1/sagas/${id}`, { key: readerKey, ...init }), idParams(id));
const retry = (id: string, init: Init = {}) => postRetry(app.request(`/api/v1/sagas/${id}/retry`, { method: "POST", key: operatorKey, ...init }), idParams(id));
const cancel = (id: string, init: Init = {}) => postCancel(app.request(`/api/v1/sagas/${id}/cancel`, { method: "POST", key: operatorKey, ...init }), idParams(id));
const list = (search: string, key: string | null = readerKey) => listSagas(app.request(`/api/v1/sagas${search}`, { key }));

async function ok<T>(response: Response, status = 200): Promise<T> {
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${await response.text()}`);
  return bodyOf<T>(response);
}

async function started(type: string, input: unknown = { account: `acct-${randomUUID()}`, amount: 40 }, extra: Record<string, unknown> = {}): Promise<SagaDetailResource> {
  return ok<SagaDetailResource>(await start({ type, input, ...extra }), 201);
}

const sagaOf = async (id: string) => ok<SagaDetailResource>(await detail(id));
/** Advances every due saga until none is due (no workers run in this suite). */
const advance = () => app.container.sagas.orchestrator.runDue();

const databases: Array<[string, () => Promise<TestDatabase | undefined>]> = [
  ["PGlite", async () => undefined],
  ["PostgreSQL", () => createTestDatabase("eventloom_rest_sagas")],
];

describe.each(databases)("REST v1 sagas on %s", (_name, openTestDatabase) => {
  beforeAll(async () => {
    testDatabase = await openTestDatabase();
    app = await startTestApp(testDatabase ? { DATABASE_URL: testDatabase.url } : {});
    const { apiKeys } = app.container.authServices;
    operatorKey = (await apiKeys.create({ name: "saga operator", scopes: ["events:read", "commands:execute"] })).key;
    readerKey = (await apiKeys.create({ name: "saga reader", scopes: ["events:read"] })).key;
    queriesOnlyKey = (await apiKeys.create({ name: "queries only", scopes: ["queries:read"] })).key;
    app.container.tasks.define(
      defineTaskType({
        type: WAIT_TASK,
        description: "Never run here: no task worker runs in this suite.",
        priority: "normal",
        timeoutMs: 600_000,
        input: z.object({ sagaId: z.string() }),
        handler: async () => ({}),
      }),
    );
    for (const saga of testSagas) app.container.sagas.orchestrator.define(saga);
  });

  afterAll(async () => {
    await app?.close();
    await testDatabase?.drop();
  });

  describe("POST /api/v1/sagas and GET /api/v1/sagas/{id}", () => {
    it("starts a saga (201, Location) with every step pending, and its detail shows the steps it ran", async () => {
      const account = `acct-${randomUUID()}`;
      const response = await start({ type: TRANSFER, input: { account, amount: 25 }, correlationid: `order-${account}` });
      const created = await ok<SagaDetailResource>(response, 201);
      expect(response.headers.get("location")).toBe(`/api/v1/sagas/${created.id}`);
      expect(created).toMatchObject({
        type: TRANSFER,
        kind: "orchestrated",
        status: "running",
        subject: account,
        correlationid: `order-${account}`,
        parentId: null,
        endedAt: null,
        input: { account, amount: 25 },
        compensations: [],
        error: null,
      });
      expect(created.steps.map((step) => [step.name, step.status, step.attempts, step.durationMs])).toEqual([
        ["reserve", "pending", 0, null],
        ["charge", "pending", 0, null],
      ]);

      await advance();
      const saga = await sagaOf(created.id);
      expect(saga).toMatchObject({ status: "completed", data: { amount: 25, reserved: 25 }, compensations: [], awaiting: [], cancelRequested: false });
      expect(saga.endedAt).not.toBeNull();
      expect(saga.revision).toBeGreaterThan(created.revision);
      for (const step of saga.steps) {
        expect(step).toMatchObject({ status: "completed", attempts: 1, events: [], history: [{ attempt: 1 }] });
        expect(step.durationMs).toBeGreaterThanOrEqual(0);
        expect(step.endedAt).not.toBeNull();
        expect(step.error).toBeUndefined();
      }
      expect(saga.steps.map((step) => step.name)).toEqual(["reserve", "charge"]);
      expect(effects.get(created.id)).toEqual(["reserve", "charge"]);
    });

    it("answers 200 with the saga that exists for a repeated id or Idempotency-Key, and starts nothing twice", async () => {
      const id = randomUUID();
      const input = { account: `acct-${id}`, amount: 5 };
      const first = await ok<SagaDetailResource>(await start({ type: TRANSFER, input, id }), 201);
      expect(first.id).toBe(id);
      const again = await start({ type: TRANSFER, input, id });
      expect((await ok<SagaDetailResource>(again, 200)).id).toBe(id);
      expect(again.headers.get("location")).toBe(`/api/v1/sagas/${id}`);
      await expectProblem(await start({ type: STUCK, input, id }), 409);

      const key = `start-${randomUUID()}`;
      const keyed = await ok<SagaDetailResource>(await start({ type: TRANSFER, input }, { headers: { "idempotency-key": key } }), 201);
      const replay = await start({ type: TRANSFER, input }, { headers: { "idempotency-key": key } });
      expect((await ok<SagaDetailResource>(replay, 200)).id).toBe(keyed.id);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      // Another caller's same key is another saga.
      const other = await ok<SagaDetailResource>(
        await start({ type: TRANSFER, input }, { key: app.container.env.ADMIN_API_KEY!, headers: { "idempotency-key": key } }),
        201,
      );
      expect(other.id).not.toBe(keyed.id);

      await advance();
      expect(effects.get(id)).toEqual(["reserve", "charge"]);
      expect(effects.get(keyed.id)).toEqual(["reserve", "charge"]);
    });

    it("refuses what is invalid with 422 naming every field, under `input` for the saga's own", async () => {
      const invalidInput = await expectProblem(await start({ type: TRANSFER, input: { account: "", amount: -3 } }), 422);
      expect(invalidInput.errors?.map((issue) => issue.path).sort()).toEqual(["input.account", "input.amount"]);

      const missing = await expectProblem(await start({ type: TRANSFER }), 422);
      expect(missing.errors).toEqual([{ path: "input", message: "is required" }]);

      const body = await expectProblem(await start({ type: "Not A Type", input: {}, id: "nope", colour: "red" }), 422);
      expect(body.errors?.map((issue) => issue.path).sort()).toEqual(["colour", "id", "type"]);

      const unknown = await expectProblem(await start({ type: "no_such_saga", input: {} }), 422);
      expect(unknown.errors).toEqual([{ path: "type", message: expect.stringContaining(TRANSFER) }]);

      const choreographed = app.container.sagas.orchestrator.listTypes().find((type) => type.kind === "choreographed");
      if (choreographed) {
        const refused = await expectProblem(await start({ type: choreographed.type, input: {} }), 422);
        expect(refused.errors).toEqual([{ path: "type", message: expect.stringContaining("choreographed") }]);
      }

      await expectProblem(await start("{not json"), 400);
      await expectProblem(await start({ type: TRANSFER, input: {} }, { headers: { "content-type": "text/plain" } }), 415);
    });

    it("answers 404 for a saga that does not exist, whatever the id looks like", async () => {
      for (const id of [randomUUID(), "not-a-uuid"]) {
        const problem = await expectProblem(await detail(id), 404);
        expect(problem.detail).toContain(id);
        await expectProblem(await retry(id), 404);
        await expectProblem(await cancel(id), 404);
        await expectProblem(await getTimers(app.request(`/api/v1/sagas/${id}/timers`, { key: readerKey }), idParams(id)), 404);
      }
    });
  });

  describe("GET /api/v1/sagas", () => {
    it("filters by type, status, correlation id and kind", async () => {
      const correlationid = `filter-${randomUUID()}`;
      const transfer = await started(TRANSFER, { account: "acct-filter", amount: 1 }, { correlationid });
      const stuck = await started(STUCK, { account: "acct-filter", amount: 1 }, { correlationid });
      await advance();

      const byCorrelation = await ok<Page>(await list(`?correlationid=${correlationid}`));
      expect(byCorrelation.items.map((item) => item.id).sort()).toEqual([transfer.id, stuck.id].sort());
      expect(byCorrelation.next).toBeNull();
      expect(byCorrelation.items.find((item) => item.id === stuck.id)).toEqual({
        id: stuck.id,
        type: STUCK,
        kind: "orchestrated",
        status: "running",
        subject: "acct-filter",
        correlationid,
        parentId: null,
        startedAt: stuck.startedAt,
        updatedAt: expect.any(String),
        endedAt: null,
      });

      const completed = await ok<Page>(await list(`?correlationid=${correlationid}&status=completed`));
      expect(completed.items.map((item) => item.id)).toEqual([transfer.id]);
      const ofType = await ok<Page>(await list(`?type=${STUCK}&limit=1000`));
      expect(ofType.items.length).toBeGreaterThan(0);
      expect(ofType.items.every((item) => item.type === STUCK)).toBe(true);
      expect(ofType.items.map((item) => item.id)).toContain(stuck.id);
      const running = await ok<Page>(await list(`?status=running&limit=1000`));
      expect(running.items.every((item) => item.status === "running")).toBe(true);
      expect(running.items.map((item) => item.id)).toContain(stuck.id);
      const choreographed = await ok<Page>(await list(`?kind=choreographed&correlationid=${correlationid}`));
      expect(choreographed.items).toEqual([]);
      const orchestrated = await ok<Page>(await list(`?kind=orchestrated&correlationid=${correlationid}`));
      expect(orchestrated.items).toHaveLength(2);
    });

    it("pages newest first with `next` passed back as `cursor`", async () => {
      const correlationid = `page-${randomUUID()}`;
      const ids: string[] = [];
      for (let index = 0; index < 5; index += 1) ids.push((await started(TRANSFER, { account: `acct-${index}`, amount: 1 }, { correlationid })).id);

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const search: string = `?correlationid=${correlationid}&limit=2${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
        const page: Page = await ok<Page>(await list(search));
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((item) => item.id));
        cursor = page.next;
        pages += 1;
      } while (cursor !== null && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual([...ids].reverse());
    });

    it("refuses bad query parameters with 400 naming each", async () => {
      const problem = await expectProblem(await list("?status=stuck&limit=0&colour=red&kind=both"), 400);
      expect(problem.errors?.map((issue) => issue.path).sort()).toEqual(["colour", "kind", "limit", "status"]);
      const twice = await expectProblem(await list("?type=a&type=b"), 400);
      expect(twice.errors).toEqual([{ path: "type", message: "must be given once" }]);
      const cursor = await expectProblem(await list("?cursor=not-a-cursor-we-made"), 400);
      expect(cursor.errors).toEqual([{ path: "cursor", message: expect.stringContaining("next") }]);
    });
  });

  describe("POST /api/v1/sagas/{id}/retry", () => {
    it("resumes a failed saga: the compensation that kept failing runs again and the saga ends compensated", async () => {
      ledgerAvailable = false;
      const { id } = await started(FLAKY);
      await advance();
      const failed = await sagaOf(id);
      expect(failed).toMatchObject({ status: "failed", error: { message: expect.stringContaining("card declined") } });
      expect(failed.steps.map((step) => [step.name, step.status])).toEqual([
        ["reserve", "completed"],
        ["charge", "failed"],
      ]);
      expect(failed.steps[1]?.error?.message).toContain("card declined");
      expect(failed.compensations).toHaveLength(1);
      expect(failed.compensations[0]).toMatchObject({ name: "reserve", status: "failed", attempts: 1, error: { message: expect.stringContaining("ledger unavailable") } });
      expect(effects.get(id)).toEqual(["reserve"]);

      // The status overview and the saga types count it.
      const status = await ok<{ sagas: Record<string, Record<string, number>> }>(await getStatus(app.request("/api/v1/status", { key: readerKey })));
      expect(status.sagas[FLAKY]?.failed).toBeGreaterThanOrEqual(1);

      ledgerAvailable = true;
      const resumed = await ok<SagaDetailResource>(await retry(id));
      expect(resumed.id).toBe(id);
      expect(resumed.status).toBe("compensating");
      await advance();
      const compensated = await sagaOf(id);
      expect(compensated.status).toBe("compensated");
      // The compensation that failed stays recorded as it ran; the retry ran it again as a new one.
      expect(compensated.compensations.map((step) => [step.name, step.status, step.attempts])).toEqual([
        ["reserve", "failed", 1],
        ["reserve", "completed", 1],
      ]);
      expect(effects.get(id)).toEqual(["reserve", "release"]);

      await expectProblem(await retry(id), 409);
    });
  });

  describe("POST /api/v1/sagas/{id}/cancel", () => {
    it("cancels a saga waiting for a task: 202, then compensated and cancelled, its deadline timer cancelled", async () => {
      const { id } = await started(STUCK);
      await advance();
      const waiting = await sagaOf(id);
      expect(waiting.status).toBe("running");
      expect(waiting.steps.map((step) => [step.name, step.status])).toEqual([
        ["reserve", "completed"],
        ["await_approval", "waiting"],
        ["charge", "pending"],
      ]);
      expect(waiting.awaiting).toEqual([expect.stringMatching(/^task:/)]);
      const timers = await ok<{ items: Array<{ id: string; kind: string; key: string; status: string; dueAt: string }> }>(
        await getTimers(app.request(`/api/v1/sagas/${id}/timers`, { key: readerKey }), idParams(id)),
      );
      expect(timers.items).toEqual([expect.objectContaining({ kind: "saga.deadline", key: id, status: "scheduled" })]);

      const response = await cancel(id, { body: { reason: "customer changed their mind" } });
      const accepted = await ok<SagaDetailResource>(response, 202);
      expect(response.headers.get("location")).toBe(`/api/v1/sagas/${id}`);
      expect(accepted.id).toBe(id);
      expect(accepted.cancelRequested || accepted.status !== "running").toBe(true);

      await advance();
      const cancelled = await sagaOf(id);
      expect(cancelled.status).toBe("cancelled");
      expect(cancelled.error?.message).toContain("customer changed their mind");
      expect(cancelled.error?.message).toContain("saga operator");
      expect(cancelled.compensations.map((step) => [step.name, step.status])).toEqual([["reserve", "completed"]]);
      expect(cancelled.steps.find((step) => step.name === "charge")?.status).toBe("pending");
      expect(effects.get(id)).toEqual(["reserve", "release"]);
      const after = await ok<{ items: Array<{ status: string }> }>(await getTimers(app.request(`/api/v1/sagas/${id}/timers`, { key: readerKey }), idParams(id)));
      expect(after.items.map((timer) => timer.status)).toEqual(["cancelled"]);

      await expectProblem(await cancel(id), 409);
      await expectProblem(await retry(id), 409);
    });

    it("takes no body, and refuses a body that is invalid", async () => {
      const { id } = await started(STUCK);
      const invalid = await expectProblem(await cancel(id, { body: { reason: "", why: "x" } }), 422);
      expect(invalid.errors?.map((issue) => issue.path).sort()).toEqual(["reason", "why"]);
      await expectProblem(await cancel(id, { body: "reason", headers: { "content-type": "text/plain" } }), 415);
      expect((await ok<SagaDetailResource>(await cancel(id), 202)).id).toBe(id);
      await advance();
      const cancelled = await sagaOf(id);
      expect(cancelled.status).toBe("cancelled");
      expect(cancelled.error?.message).toContain("cancelled by saga operator");
    });
  });

  describe("GET /api/v1/saga-types", () => {
    it("lists every saga type with its steps, input schema and counts per status, to any authenticated caller", async () => {
      const { items } = await ok<{ items: SagaTypeResource[] }>(await listSagaTypes(app.request("/api/v1/saga-types", { key: queriesOnlyKey })));
      expect(items.map((item) => item.type)).toEqual(app.container.sagas.orchestrator.listTypes().map((type) => type.type));
      const stuck = items.find((item) => item.type === STUCK)!;
      expect(stuck).toMatchObject({ kind: "orchestrated", schema: { type: "object" }, deadline: { afterMs: DEADLINE_MS, onExpiry: "compensate" } });
      expect(stuck.steps.map((step) => [step.name, step.action])).toEqual([
        ["reserve", "local"],
        ["await_approval", `task ${WAIT_TASK}`],
        ["charge", "local"],
      ]);
      expect(stuck.counts.cancelled).toBeGreaterThanOrEqual(1);
      expect(Object.keys(stuck.counts).sort()).toEqual(["cancelled", "compensated", "compensating", "completed", "failed", "running"]);
      await expectProblem(await listSagaTypes(app.request("/api/v1/saga-types", { key: null })), 401);
    });
  });

  describe("authorization", () => {
    it("needs a key (401), events:read to look and commands:execute to act (403)", async () => {
      const { id } = await started(TRANSFER);
      for (const response of [await list("", null), await detail(id, { key: null }), await start({ type: TRANSFER, input: {} }, { key: null }), await retry(id, { key: null }), await cancel(id, { key: null })]) {
        await expectProblem(response, 401);
      }
      await expectProblem(await detail(id, { key: "el_not_a_key_at_all" }), 401);

      await expectProblem(await list("", queriesOnlyKey), 403);
      await expectProblem(await detail(id, { key: queriesOnlyKey }), 403);
      for (const response of [await start({ type: TRANSFER, input: {} }, { key: readerKey }), await retry(id, { key: readerKey }), await cancel(id, { key: readerKey })]) {
        const problem = await expectProblem(response, 403);
        expect(problem.detail).toContain("commands:execute");
      }
      expect((await sagaOf(id)).cancelRequested).toBe(false);
    });
  });

  it("describes every saga route in the OpenAPI document", async () => {
    const document = await ok<{ paths: Record<string, Record<string, { operationId: string }>> }>(await getOpenApi(app.request("/api/v1/openapi.json")));
    const operations = Object.fromEntries(
      ["/api/v1/sagas", "/api/v1/sagas/{id}", "/api/v1/sagas/{id}/retry", "/api/v1/sagas/{id}/cancel", "/api/v1/sagas/{id}/timers", "/api/v1/saga-types"].map((path) => [
        path,
        Object.values(document.paths[path] ?? {}).map((operation) => operation.operationId),
      ]),
    );
    expect(operations).toEqual({
      "/api/v1/sagas": ["listSagas", "startSaga"],
      "/api/v1/sagas/{id}": ["getSaga"],
      "/api/v1/sagas/{id}/retry": ["retrySaga"],
      "/api/v1/sagas/{id}/cancel": ["cancelSaga"],
      "/api/v1/sagas/{id}/timers": ["listSagaTimers"],
      "/api/v1/saga-types": ["listSagaTypes"],
    });
  });
});
