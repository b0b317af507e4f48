import { randomUUID } from "node:crypto";
import { getTRPCErrorShape, TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roleScopes, type Principal, type Role } from "@/server/engine/core/principal";
import { startTestApp, type TestApp } from "@/server/api/rest/test-harness";
import type { TRPCContext } from "./init";
import { appRouter } from "./root";

/**
 * The dashboard's CQRS routers (commands, queries, read models) against a real container: the
 * domain's commands and queries, its projections running, and errors as the browser gets them.
 */

let app: TestApp;

function contextAs(role: Role): TRPCContext {
  const principal: Principal = { kind: "user", id: `user-${role}`, name: `${role}@example.com`, scopes: roleScopes[role], role };
  return { container: app.container, principal };
}

const callerAs = (role: Role) => appRouter.createCaller(contextAs(role));

/** The error a call fails with, as the errorFormatter shapes it for the browser. */
async function shapeOfFailure(call: Promise<unknown>, role: Role, path: string) {
  let failure: unknown;
  try {
    await call;
  } catch (error) {
    failure = error;
  }
  expect(failure).toBeInstanceOf(TRPCError);
  return getTRPCErrorShape({ config: appRouter._def._config, error: failure as TRPCError, type: "mutation", path, input: undefined, ctx: contextAs(role) });
}

const examInput = (examId: string) => ({ examId, title: "Optics midterm", subject: "Physics", totalScore: 100, questionCount: 10 });

describe("CQRS routers", () => {
  beforeAll(async () => {
    app = await startTestApp();
    // boot.ts starts them with the workers; the test app has none.
    app.container.cqrs.projections.start();
  });

  afterAll(async () => {
    await app?.close();
  });

  it("lists the commands with their scope and input schema, to anyone signed in", async () => {
    const commands = await callerAs("analyst").commands.list();
    const create = commands.find((command) => command.name === "exam.create");
    expect(create).toMatchObject({ scope: "commands:execute", schema: { type: "object", required: expect.arrayContaining(["title"]) } });
    expect(commands.map((command) => command.name)).toEqual([...commands.map((command) => command.name)].sort());
  });

  it("runs a command as the signed-in user; the same idempotency key answers with the first result", async () => {
    const operator = callerAs("operator");
    const examId = randomUUID();
    const idempotencyKey = randomUUID();
    const first = await operator.commands.execute({ name: "exam.create", input: examInput(examId), idempotencyKey });
    expect(first).toMatchObject({ command: "exam.create", version: 1, replayed: false, events: [{ type: "exam.created" }] });
    const again = await operator.commands.execute({ name: "exam.create", input: examInput(examId), idempotencyKey });
    expect(again).toMatchObject({ version: 1, replayed: true, events: first.events });
    const stored = await app.container.store.getById(first.events[0]!.id);
    expect(stored?.data).toMatchObject({ examId, createdBy: "user-operator" });
  });

  it("names the broken rule, and a stale expected version's stream and versions", async () => {
    const admin = callerAs("admin");
    const examId = randomUUID();
    const created = await admin.commands.execute({ name: "exam.create", input: examInput(examId), idempotencyKey: randomUUID() });

    const again = await shapeOfFailure(admin.commands.execute({ name: "exam.create", input: examInput(examId), idempotencyKey: randomUUID() }), "admin", "commands.execute");
    expect(again.data).toMatchObject({ code: "BAD_REQUEST", engineCode: "validation", rejection: { kind: "rule", rule: "exam_already_exists" } });

    const stale = await shapeOfFailure(
      admin.commands.execute({ name: "exam.update", input: { examId, title: "Optics final" }, expectedVersion: 0, idempotencyKey: randomUUID() }),
      "admin",
      "commands.execute",
    );
    expect(stale.data).toMatchObject({ code: "CONFLICT", rejection: { kind: "conflict", streamId: created.streamId, expected: 0, actual: 1 } });
    expect(await app.container.store.streamVersion(created.streamId)).toBe(1);
  });

  it("reports every invalid field, and refuses a role without commands:execute", async () => {
    const invalid = await shapeOfFailure(
      callerAs("admin").commands.execute({ name: "exam.create", input: { totalScore: -1 }, idempotencyKey: randomUUID() }),
      "admin",
      "commands.execute",
    );
    expect(invalid.data.code).toBe("BAD_REQUEST");
    expect((invalid.data as { issues?: Array<{ path: string }> }).issues?.map((issue) => issue.path)).toEqual(expect.arrayContaining(["title", "subject", "totalScore", "questionCount"]));

    const analyst = await shapeOfFailure(callerAs("analyst").commands.execute({ name: "exam.create", input: examInput(randomUUID()) }), "analyst", "commands.execute");
    expect(analyst.data.code).toBe("FORBIDDEN");

    const unknown = await shapeOfFailure(callerAs("admin").commands.execute({ name: "exam.teleport", input: {} }), "admin", "commands.execute");
    expect(unknown.data.code).toBe("NOT_FOUND");
  });

  it("answers a query once its read model has the command's events (minPosition), with that position", async () => {
    const examId = randomUUID();
    const created = await callerAs("operator").commands.execute({ name: "exam.create", input: { ...examInput(examId), title: "Acoustics quiz" }, idempotencyKey: randomUUID() });
    const minPosition = created.events[0]!.position;

    const analyst = callerAs("analyst");
    expect((await analyst.queries.list()).map((query) => query.name)).toEqual(expect.arrayContaining(["exams.get", "exams.list"]));
    const answer = await analyst.queries.run({ name: "exams.get", params: { examId }, minPosition });
    expect(answer.position).toBeGreaterThanOrEqual(minPosition);
    expect(answer.result).toMatchObject({ examId, title: "Acoustics quiz", status: "open" });

    const missing = await shapeOfFailure(analyst.queries.run({ name: "exams.get", params: { examId: "not-a-uuid" } }), "analyst", "queries.run");
    expect(missing.data).toMatchObject({ code: "BAD_REQUEST", issues: [{ path: "examId" }] });
  });

  it("lists the projections live, and lets operators (not analysts) rebuild one blue/green", async () => {
    const analyst = callerAs("analyst");
    const statuses = await analyst.readModels.list();
    expect(statuses.map((status) => status.name)).toEqual(expect.arrayContaining(["exams", "exam_sheets", "grading_stats"]));

    const live = (await analyst.readModels.live({ intervalMs: 1_000 }))[Symbol.asyncIterator]();
    const first = await live.next();
    expect(first.value).toMatchObject({ at: expect.any(Number), items: expect.arrayContaining([expect.objectContaining({ name: "exams" })]) });
    await live.return?.();

    const refused = await shapeOfFailure(analyst.readModels.rebuild({ name: "exams" }), "analyst", "readModels.rebuild");
    expect(refused.data.code).toBe("FORBIDDEN");

    const before = statuses.find((status) => status.name === "exams")!;
    const { generation } = await callerAs("operator").readModels.rebuild({ name: "exams" });
    expect(generation).toBeGreaterThan(before.generation ?? 0);
    const deadline = Date.now() + 20_000;
    let exams = before;
    while (Date.now() < deadline) {
      exams = (await analyst.readModels.list()).find((status) => status.name === "exams")!;
      if (exams.generation === generation && exams.rebuild === null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(exams).toMatchObject({ generation, rebuild: null });
  });
});
