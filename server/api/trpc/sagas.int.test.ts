import { randomUUID } from "node:crypto";
import { getTRPCErrorShape, TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startTestApp, type TestApp } from "@/server/api/rest/test-harness";
import { NonRetryableError } from "@/server/engine/core/errors";
import { roleScopes, type Principal, type Role } from "@/server/engine/core/principal";
import { defineSaga } from "@/server/engine/sagas/saga-definition";
import type { TRPCContext } from "./init";
import { appRouter } from "./root";

/**
 * The dashboard's sagas router against a real container on PGlite: a saga type of this test's own
 * (local steps, so no task workers are needed) is started, advanced with `runDue`, listed, read,
 * retried and cancelled, with every error as the browser gets it.
 */

let app: TestApp;

function contextAs(role: Role | null): TRPCContext {
  if (role === null) return { container: app.container, principal: null };
  const principal: Principal = { kind: "user", id: `user-${role}`, name: `${role}@example.com`, scopes: roleScopes[role], role };
  return { container: app.container, principal };
}

const callerAs = (role: Role | null) => appRouter.createCaller(contextAs(role));

/** The error a call fails with, as the errorFormatter shapes it for the browser. */
async function shapeOfFailure(call: Promise<unknown>, path: string) {
  let failure: unknown;
  try {
    await call;
  } catch (error) {
    failure = error;
  }
  expect(failure).toBeInstanceOf(TRPCError);
  return getTRPCErrorShape({ config: appRouter._def._config, error: failure as TRPCError, type: "mutation", path, input: undefined, ctx: contextAs("admin") });
}

/** Advances every due saga until none is left (bounded: a saga that never settles fails the test). */
async function settle() {
  for (let pass = 0; pass < 20; pass++) {
    if ((await app.container.sagas.orchestrator.runDue()) === 0) return;
  }
  throw new Error("sagas still due after 20 passes");
}

const TYPE = "router_test_trio";
/** How often `undo_reserve` fails before it succeeds, per saga (a compensation an operator retries). */
const undoFailures = new Map<string, number>();

const trio = defineSaga({
  type: TYPE,
  description: "Reserve, charge, confirm: charge fails when asked to; reserve is undone.",
  input: z.object({ orderId: z.string().min(1), failCharge: z.boolean(), undoFailures: z.number().int().min(0).default(0) }),
  initialData: (input) => ({ orderId: input.orderId, failCharge: input.failCharge, undoFailures: input.undoFailures }),
  subject: (input) => input.orderId,
  steps: [
    {
      name: "reserve",
      action: { kind: "local", run: async (context) => ({ reserved: context.data.orderId }) },
      compensation: {
        kind: "local",
        run: async (context) => {
          const failed = undoFailures.get(context.sagaId) ?? 0;
          if (failed < context.data.undoFailures) {
            undoFailures.set(context.sagaId, failed + 1);
            throw new Error("the reservation service is down");
          }
          return { released: context.data.orderId };
        },
      },
      compensationRetry: { maxAttempts: 1 },
    },
    {
      name: "charge",
      action: {
        kind: "local",
        run: async (context) => {
          if (context.data.failCharge) throw new NonRetryableError("card declined");
          return { charged: true };
        },
      },
    },
    { name: "confirm", action: { kind: "local", run: async () => ({ confirmed: true }) } },
  ],
});

describe("sagas router", () => {
  beforeAll(async () => {
    app = await startTestApp();
    app.container.sagas.orchestrator.define(trio);
  });

  afterAll(async () => {
    await app?.close();
  });

  it("lists the saga types with their steps and input schema, to anyone signed in, and to nobody else", async () => {
    const types = await callerAs("analyst").sagas.types();
    const trioType = types.find((type) => type.type === TYPE);
    expect(trioType).toMatchObject({ kind: "orchestrated", steps: [{ name: "reserve" }, { name: "charge" }, { name: "confirm" }], schema: { type: "object" } });
    expect(types.map((type) => type.type)).toEqual([...types.map((type) => type.type)].sort());

    const anonymous = await shapeOfFailure(callerAs(null).sagas.list({}), "sagas.list");
    expect(anonymous.data.code).toBe("UNAUTHORIZED");
  });

  it("starts a saga as an operator (once per id), runs it to completion, and lists and reads it", async () => {
    const operator = callerAs("operator");
    const id = randomUUID();
    const orderId = `order-${randomUUID()}`;
    const started = await operator.sagas.start({ type: TYPE, input: { orderId, failCharge: false }, id, correlationid: `conv-${orderId}` });
    expect(started).toMatchObject({ created: true, saga: { id, type: TYPE, kind: "orchestrated", status: "running", subject: orderId, correlationid: `conv-${orderId}` } });
    expect(started.saga).not.toHaveProperty("leaseOwner");
    const again = await operator.sagas.start({ type: TYPE, input: { orderId, failCharge: false }, id });
    expect(again.created).toBe(false);

    await settle();
    const analyst = callerAs("analyst");
    const saga = await analyst.sagas.get({ id });
    expect(saga).toMatchObject({ status: "completed", position: null, compensations: [] });
    expect(saga.steps.map((step) => [step.name, step.status, step.attempts])).toEqual([
      ["reserve", "completed", 1],
      ["charge", "completed", 1],
      ["confirm", "completed", 1],
    ]);
    expect(saga.steps[0]!.history).toHaveLength(1);

    const page = await analyst.sagas.list({ correlationid: `conv-${orderId}` });
    expect(page.items).toEqual([expect.objectContaining({ id, status: "completed", stepsDone: 3, stepCount: 3, subject: orderId })]);
    expect(page.items[0]).not.toHaveProperty("steps");
    expect((await analyst.sagas.list({ type: TYPE, status: "running" })).items.map((item) => item.id)).not.toContain(id);
    expect((await analyst.sagas.counts()).byType[TYPE]?.completed).toBeGreaterThanOrEqual(1);
  });

  it("pages newest first with a cursor", async () => {
    const admin = callerAs("admin");
    const correlationid = `paging-${randomUUID()}`;
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) {
      const { saga } = await admin.sagas.start({ type: TYPE, input: { orderId: `page-${index}`, failCharge: false }, correlationid });
      ids.push(saga.id);
    }
    const first = await admin.sagas.list({ correlationid, limit: 2 });
    expect(first.items.map((item) => item.id)).toEqual([ids[2], ids[1]]);
    expect(first.nextCursor).not.toBeNull();
    const second = await admin.sagas.list({ correlationid, limit: 2, cursor: first.nextCursor! });
    expect(second).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
    await settle();
  });

  it("shows a step that failed for good, its compensation, and where the saga is", async () => {
    const id = randomUUID();
    await callerAs("admin").sagas.start({ type: TYPE, input: { orderId: "order-declined", failCharge: true }, id });
    await settle();
    const saga = await callerAs("analyst").sagas.get({ id });
    expect(saga).toMatchObject({ status: "compensated", error: { message: "card declined" } });
    expect(saga.steps.map((step) => step.status)).toEqual(["completed", "failed", "pending"]);
    expect(saga.steps[1]!.error?.message).toBe("card declined");
    expect(saga.compensations).toEqual([expect.objectContaining({ name: "reserve", status: "completed", result: { released: "order-declined" } })]);
  });

  it("retries a failed saga's compensation (operators only), and refuses a retry of one that did not fail", async () => {
    const id = randomUUID();
    const admin = callerAs("admin");
    await admin.sagas.start({ type: TYPE, input: { orderId: "order-stuck", failCharge: true, undoFailures: 1 }, id });
    await settle();
    const failed = await admin.sagas.get({ id });
    expect(failed).toMatchObject({ status: "failed", position: { step: "reserve", phase: "compensation" } });
    const row = (await admin.sagas.list({ type: TYPE, status: "failed" })).items.find((item) => item.id === id);
    expect(row?.position).toMatchObject({ step: "reserve", phase: "compensation" });

    const refused = await shapeOfFailure(callerAs("analyst").sagas.retry({ id }), "sagas.retry");
    expect(refused.data.code).toBe("FORBIDDEN");

    const retried = await callerAs("operator").sagas.retry({ id });
    expect(retried.status).toBe("compensating");
    await settle();
    expect((await admin.sagas.get({ id })).status).toBe("compensated");

    const again = await shapeOfFailure(admin.sagas.retry({ id }), "sagas.retry");
    expect(again.data).toMatchObject({ code: "CONFLICT", engineCode: "conflict" });
  });

  it("cancels a running saga with the operator's reason; a finished one cannot be cancelled", async () => {
    const id = randomUUID();
    const operator = callerAs("operator");
    // No workers run in this process: the saga waits at its first step until runDue.
    await operator.sagas.start({ type: TYPE, input: { orderId: "order-cancelled", failCharge: false }, id });
    const requested = await operator.sagas.cancel({ id, reason: "customer changed their mind" });
    expect(["running", "compensating", "cancelled"]).toContain(requested.status);
    await settle();
    const cancelled = await operator.sagas.get({ id });
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.error?.message).toContain("customer changed their mind");

    const refused = await shapeOfFailure(operator.sagas.cancel({ id }), "sagas.cancel");
    expect(refused.data.code).toBe("CONFLICT");
    const analyst = await shapeOfFailure(callerAs("analyst").sagas.cancel({ id }), "sagas.cancel");
    expect(analyst.data.code).toBe("FORBIDDEN");
  });

  it("maps unknown ids and types to NOT_FOUND, and names every invalid input field", async () => {
    const admin = callerAs("admin");
    const missing = await shapeOfFailure(admin.sagas.get({ id: randomUUID() }), "sagas.get");
    expect(missing.data.code).toBe("NOT_FOUND");
    const unknownType = await shapeOfFailure(admin.sagas.start({ type: "no_such_saga", input: {} }), "sagas.start");
    expect(unknownType.data.code).toBe("NOT_FOUND");
    const invalid = await shapeOfFailure(admin.sagas.start({ type: TYPE, input: { failCharge: "yes" } }), "sagas.start");
    expect(invalid.data.code).toBe("BAD_REQUEST");
    expect((invalid.data as { issues?: Array<{ path: string }> }).issues?.map((issue) => issue.path)).toEqual(expect.arrayContaining(["input.orderId", "input.failCharge"]));
    const badFilter = await shapeOfFailure(admin.sagas.list({ status: "exploded" as never }), "sagas.list");
    expect(badFilter.data).toMatchObject({ code: "BAD_REQUEST", issues: [{ path: "status" }] });
  });

  it("feeds the list and one saga live", async () => {
    const id = randomUUID();
    const admin = callerAs("admin");
    await admin.sagas.start({ type: TYPE, input: { orderId: "order-live", failCharge: false }, id });

    const list = (await admin.sagas.live({ type: TYPE, intervalMs: 1_000 }))[Symbol.asyncIterator]();
    const first = await list.next();
    expect(first.value).toMatchObject({ at: expect.any(Number), page: { items: expect.arrayContaining([expect.objectContaining({ id })]) }, counts: { byType: expect.any(Object) } });
    await list.return?.();

    const watch = (await admin.sagas.watch({ id, intervalMs: 1_000 }))[Symbol.asyncIterator]();
    const before = await watch.next();
    expect(before.value).toMatchObject({ id, status: "running" });
    await settle();
    // The next value comes only once the saga moved on.
    const after = await watch.next();
    expect(after.value).toMatchObject({ id, status: "completed" });
    await watch.return?.();
  });
});
