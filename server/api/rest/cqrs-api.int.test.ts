import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as listCommands } from "@/app/api/v1/commands/route";
import { POST as postCommand } from "@/app/api/v1/commands/[name]/route";
import { GET as getOpenApi } from "@/app/api/v1/openapi.json/route";
import { GET as listQueries } from "@/app/api/v1/queries/route";
import { GET as getQuery } from "@/app/api/v1/queries/[name]/route";
import { GET as getStatus } from "@/app/api/v1/status/route";
import { createTestDatabase, type TestDatabase } from "@/server/adapters/postgres/test-database";
import { eventually } from "@/server/engine/transport/transport.contract";
import type { CommandResultResource } from "./cqrs-schemas";
import { bodyOf, startTestApp, type TestApp } from "./test-harness";

/**
 * REST v1 commands and queries through the route handlers, on a real container with the domain's
 * commands, queries and projections and a running projection runner: on PGlite (the embedded
 * default, in-process lease) and on a fresh PostgreSQL database (connection pool, advisory lease). No transport workers: the domain's reactions stay still, so every step of
 * an answer sheet's life is a command this suite sends.
 */

let app: TestApp;
let testDatabase: TestDatabase | undefined;
/** A teacher: runs commands and reads. */
let teacherKey: string;
let otherTeacherKey: string;
let readerKey: string;
let teacherId: string;

type Problem = {
  type: string;
  status: number;
  detail: string;
  errors?: Array<{ path: string; message: string }>;
  rule?: string;
  expected?: number;
  actual?: number;
};
type Page<T> = { items: T[]; next: string | null };
type ExamRow = { examId: string; title: string; status: string; createdBy: string; sheetCount: number; sheetCounts: Record<string, number> };

/** Long enough for a loaded machine's projections to catch up with one command, short enough for the 503 test. */
const QUERY_WAIT_MS = 2_000;

async function expectProblem(response: Response, status: number): Promise<Problem> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  return bodyOf<Problem>(response);
}

const params = (name: string) => ({ params: Promise.resolve({ name }) });

function command(name: string, body: unknown, init: { key?: string | null; headers?: HeadersInit } = {}) {
  return postCommand(app.request(`/api/v1/commands/${name}`, { method: "POST", body, ...init }), params(name));
}

function query(name: string, search = "", key?: string) {
  return getQuery(app.request(`/api/v1/queries/${name}${search}`, key === undefined ? {} : { key }), params(name));
}

async function succeeded(response: Response): Promise<CommandResultResource> {
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}: ${await response.text()}`);
  return bodyOf<CommandResultResource>(response);
}

const examInput = (overrides: Record<string, unknown> = {}) => ({
  title: "Algebra II: Midterm",
  subject: "Mathematics",
  totalScore: 100,
  questionCount: 20,
  ...overrides,
});

async function createExam(key = teacherKey, overrides: Record<string, unknown> = {}) {
  const examId = randomUUID();
  const result = await succeeded(await command("exam.create", examInput({ examId, ...overrides }), { key }));
  return { examId, result };
}

/** The position of the log's last event, to show a rejected command appended nothing. */
const head = () => app.container.store.headPosition();

/** Asserts `attempt` is refused with `status` and leaves the log as it was. */
async function rejectedWithoutAppend(attempt: () => Promise<Response>, status: number): Promise<Problem> {
  const before = await head();
  const problem = await expectProblem(await attempt(), status);
  expect(await head()).toBe(before);
  return problem;
}

/** Undefined: PGlite in the harness's temp directory. */
const databases: Array<[string, () => Promise<TestDatabase | undefined>]> = [
  ["PGlite", async () => undefined],
  ["PostgreSQL", () => createTestDatabase("eventloom_rest_cqrs")],
];

describe.each(databases)("REST v1 commands and queries on %s", (_name, openTestDatabase) => {
  beforeAll(async () => {
    testDatabase = await openTestDatabase();
    app = await startTestApp({ QUERY_WAIT_MS, ...(testDatabase ? { DATABASE_URL: testDatabase.url } : {}) });
    const { apiKeys } = app.container.authServices;
    const teacher = await apiKeys.create({ name: "teacher okafor", scopes: ["commands:execute", "queries:read"] });
    teacherKey = teacher.key;
    teacherId = (await app.container.authServices.authenticate(app.request("/", { key: teacherKey })))!.id;
    otherTeacherKey = (await apiKeys.create({ name: "teacher haddad", scopes: ["commands:execute", "queries:read"] })).key;
    readerKey = (await apiKeys.create({ name: "reader", scopes: ["queries:read"] })).key;
    app.container.cqrs.projections.start();
    // Until the runner's first pass made each projection's first generation, queries answer 503
    // ("not built yet"); that start-up window is not what these tests are about.
    await eventually(async () => {
      for (const projection of await app.container.cqrs.projections.status()) expect(projection.generation).not.toBeNull();
    }, 20_000);
  });

  afterAll(async () => {
    await app?.close();
    await testDatabase?.drop();
  });

  describe("GET /api/v1/commands and /api/v1/queries", () => {
    it("lists every command with its description, scope and input JSON Schema", async () => {
      const response = await listCommands(app.request("/api/v1/commands", { key: teacherKey }));
      expect(response.status).toBe(200);
      const { items } = await bodyOf<{ items: Array<{ name: string; description: string; scope: string; schema: { type?: string; properties?: object } }> }>(response);
      expect(items.map((item) => item.name)).toEqual(app.container.cqrs.commands.list().map((descriptor) => descriptor.name));
      const create = items.find((item) => item.name === "exam.create")!;
      expect(create).toMatchObject({ scope: "commands:execute", description: expect.stringMatching(/\w/), schema: { type: "object" } });
      expect(Object.keys(create.schema.properties!)).toEqual(expect.arrayContaining(["title", "subject", "totalScore", "questionCount", "examId"]));
    });

    it("lists every query with its projection and parameters' JSON Schema", async () => {
      const response = await listQueries(app.request("/api/v1/queries", { key: readerKey }));
      expect(response.status).toBe(200);
      const { items } = await bodyOf<{ items: Array<{ name: string; scope: string; projection: string; schema: object }> }>(response);
      expect(items.find((item) => item.name === "exams.list")).toMatchObject({ scope: "queries:read", projection: "exams", schema: { type: "object" } });
      expect(items.map((item) => item.projection).every((name) => app.container.cqrs.projections.projections.some((projection) => projection.name === name))).toBe(true);
    });

    it("needs commands:execute for the command catalog and queries:read for the query catalog", async () => {
      await expectProblem(await listCommands(app.request("/api/v1/commands", { key: readerKey })), 403);
      await expectProblem(await listCommands(app.request("/api/v1/commands", { key: null })), 401);
      const writerOnly = (await app.container.authServices.apiKeys.create({ name: "writer", scopes: ["commands:execute"] })).key;
      await expectProblem(await listQueries(app.request("/api/v1/queries", { key: writerOnly })), 403);
    });
  });

  describe("POST /api/v1/commands/{name}", () => {
    it("runs a command: 200 with the stream, its version (also the ETag) and the events with their positions", async () => {
      const examId = randomUUID();
      const response = await command("exam.create", examInput({ examId }), { key: teacherKey });
      expect(response.status).toBe(200);
      expect(response.headers.get("etag")).toBe('"1"');
      const result = await bodyOf<CommandResultResource>(response);
      expect(result).toEqual({ streamId: `exam-${examId}`, version: 1, events: [{ id: expect.any(String), type: "exam.created", position: expect.any(Number) }] });
      expect(result.events[0]!.position).toBe(await head());

      const stored = await app.container.store.getById(result.events[0]!.id);
      expect(stored).toMatchObject({ type: "exam.created", subject: `exam-${examId}`, data: { examId, createdBy: teacherId } });
    });

    it("carries the caller's correlation, causation and trace into the events", async () => {
      const correlationid = `conversation-${randomUUID()}`;
      const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
      const result = await succeeded(
        await command("exam.create", examInput(), { key: teacherKey, headers: { "ce-correlationid": correlationid, "ce-causationid": "request-7", traceparent } }),
      );
      const stored = await app.container.store.getById(result.events[0]!.id);
      expect(stored).toMatchObject({ correlationid, causationid: "request-7" });
      // The same trace, one span further.
      expect(stored!.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    });

    it("is read back by a query with minPosition: read-your-writes, X-Read-Model-Position at least there", async () => {
      const { examId, result } = await createExam(teacherKey, { title: "Cell Biology: Unit Test 3" });
      const position = result.events.at(-1)!.position;

      const response = await query("exams.get", `?examId=${examId}&minPosition=${position}`, teacherKey);
      expect(response.status).toBe(200);
      expect(Number(response.headers.get("x-read-model-position"))).toBeGreaterThanOrEqual(position);
      expect(await bodyOf<ExamRow>(response)).toMatchObject({ examId, title: "Cell Biology: Unit Test 3", status: "open", createdBy: teacherId, sheetCount: 0 });

      const list = await query("exams.list", `?createdBy=${encodeURIComponent(teacherId)}&limit=100&minPosition=${position}`, readerKey);
      expect(list.status).toBe(200);
      expect((await bodyOf<Page<ExamRow>>(list)).items.map((exam) => exam.examId)).toContain(examId);
    });

    it("follows an answer sheet through commands into the exam's counts", async () => {
      const { examId } = await createExam();
      const sheetId = randomUUID();
      await succeeded(await command("sheet.submit", { sheetId, examId, studentId: "student-3", pageCount: 2 }, { key: teacherKey }));
      await succeeded(await command("sheet.start_ocr", { sheetId, engine: "handwriting-v3" }, { key: teacherKey }));
      const recorded = await succeeded(
        await command("sheet.record_ocr", { sheetId, outcome: "completed", confidence: 0.93, answersDetected: 20, durationMs: 1200 }, { key: teacherKey }),
      );
      expect(recorded).toMatchObject({ streamId: `sheet-${sheetId}`, version: 3, events: [{ type: "ocr.completed" }] });

      const minPosition = recorded.events[0]!.position;
      const exam = await bodyOf<ExamRow>(await query("exams.get", `?examId=${examId}&minPosition=${minPosition}`));
      expect(exam.sheetCount).toBe(1);
      expect(exam.sheetCounts).toMatchObject({ ocr_completed: 1 });
      const sheets = await bodyOf<Page<{ sheetId: string; status: string; ocrConfidence: number }>>(await query("exams.sheets", `?examId=${examId}&minPosition=${minPosition}`));
      expect(sheets.items).toEqual([expect.objectContaining({ sheetId, status: "ocr_completed", ocrConfidence: 0.93 })]);
    });

    it("404 for an unknown command, before reading the body", async () => {
      const problem = await rejectedWithoutAppend(() => command("exam.teleport", "{not json", { key: teacherKey }), 404);
      expect(problem.type).toBe("https://eventloom.dev/problems/not-found");
      expect(problem.detail).toContain("exam.teleport");
    });

    it("422 for invalid input, naming every failing field", async () => {
      const problem = await rejectedWithoutAppend(
        () => command("exam.create", { title: "", totalScore: -5, questionCount: 2.5, examId: "not-a-uuid" }, { key: teacherKey }),
        422,
      );
      expect(problem.errors?.map((issue) => issue.path).sort()).toEqual(["examId", "questionCount", "subject", "title", "totalScore"]);
      expect(problem.errors?.find((issue) => issue.path === "subject")?.message).toBe("is required");
      expect(problem).not.toHaveProperty("rule");
    });

    it("422 naming the business rule: grading a sheet whose OCR failed", async () => {
      const { examId } = await createExam();
      const sheetId = randomUUID();
      await succeeded(await command("sheet.submit", { sheetId, examId, studentId: "student-9", pageCount: 1 }, { key: teacherKey }));
      await succeeded(await command("sheet.start_ocr", { sheetId, engine: "handwriting-v3" }, { key: teacherKey }));
      await succeeded(
        await command("sheet.record_ocr", { sheetId, outcome: "failed", reason: "page 1 is blank", retryable: false, durationMs: 800 }, { key: teacherKey }),
      );

      const problem = await rejectedWithoutAppend(() => command("sheet.start_grading", { sheetId }, { key: teacherKey }), 422);
      expect(problem).toMatchObject({ type: "https://eventloom.dev/problems/validation", rule: "ocr_failed" });
      expect(problem.detail).toContain("ocr_failed");
      expect(problem.detail).toContain("no answers to grade");

      const missing = await rejectedWithoutAppend(() => command("exam.publish_results", { examId: randomUUID() }, { key: teacherKey }), 422);
      expect(missing.rule).toBe("exam_not_found");
    });

    it("403 when the command's policy refuses the caller (detail = the reason), or the key lacks commands:execute", async () => {
      const { examId } = await createExam(teacherKey);
      const problem = await rejectedWithoutAppend(() => command("exam.update", { examId, title: "Mine now" }, { key: otherTeacherKey }), 403);
      expect(problem.detail).toBe("This API key may only act on exams it created");

      const scope = await rejectedWithoutAppend(() => command("exam.create", examInput(), { key: readerKey }), 403);
      expect(scope.detail).toContain("commands:execute");
      await rejectedWithoutAppend(() => command("exam.create", examInput(), { key: null }), 401);
    });

    it("If-Match: the matching version appends (plain or as the ETag); a stale one is a 409 with expected and actual", async () => {
      const { examId } = await createExam();
      const updated = await command("exam.update", { examId, title: "Algebra II: Final" }, { key: teacherKey, headers: { "if-match": "1" } });
      expect(updated.status).toBe(200);
      const etag = updated.headers.get("etag")!;
      expect(etag).toBe('"2"');
      expect((await succeeded(await command("exam.update", { examId, questionCount: 25 }, { key: teacherKey, headers: { "if-match": etag } }))).version).toBe(3);

      const stale = await rejectedWithoutAppend(() => command("exam.update", { examId, title: "Too late" }, { key: teacherKey, headers: { "if-match": "2" } }), 409);
      expect(stale).toMatchObject({ type: "https://eventloom.dev/problems/conflict", expected: 2, actual: 3 });
      expect(stale.detail).toMatch(/version 3.*expected 2/);

      // 0 = the stream must not exist yet.
      const exists = await rejectedWithoutAppend(() => command("exam.create", examInput({ examId }), { key: teacherKey, headers: { "if-match": "0" } }), 409);
      expect(exists).toMatchObject({ expected: 0, actual: 3 });
      await succeeded(await command("exam.create", examInput(), { key: teacherKey, headers: { "if-match": "0" } }));
    });

    it("400 for an If-Match that is not a version", async () => {
      const { examId } = await createExam();
      for (const value of ["*", 'W/"1"', "one"]) {
        const problem = await rejectedWithoutAppend(() => command("exam.update", { examId, title: "x" }, { key: teacherKey, headers: { "if-match": value } }), 400);
        expect(problem.detail).toContain("If-Match");
      }
    });

    it("Idempotency-Key: the same key and input answer the first result (Idempotent-Replayed), another input 409", async () => {
      const key = `create-${randomUUID()}`;
      const body = examInput({ title: "Organic Chemistry: Quiz 5" });
      const first = await command("exam.create", body, { key: teacherKey, headers: { "idempotency-key": key } });
      expect(first.status).toBe(200);
      expect(first.headers.get("idempotent-replayed")).toBeNull();
      const original = await bodyOf<CommandResultResource>(first);

      const before = await head();
      const again = await command("exam.create", body, { key: teacherKey, headers: { "idempotency-key": key } });
      expect(again.status).toBe(200);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.headers.get("etag")).toBe('"1"');
      expect(await bodyOf<CommandResultResource>(again)).toEqual(original);
      expect(await head()).toBe(before);

      await rejectedWithoutAppend(() => command("exam.create", { ...body, title: "Another exam" }, { key: teacherKey, headers: { "idempotency-key": key } }), 409);
      await rejectedWithoutAppend(() => command("exam.create", body, { key: teacherKey, headers: { "idempotency-key": "two words" } }), 400);
      // Keys are per caller: another teacher's same key is another exam.
      const other = await succeeded(await command("exam.create", body, { key: otherTeacherKey, headers: { "idempotency-key": key } }));
      expect(other.streamId).not.toBe(original.streamId);
    });

    it("413 over the body limit, 415 for another content type, 400 for unparseable JSON", async () => {
      await rejectedWithoutAppend(() => command("exam.create", JSON.stringify(examInput({ title: "x".repeat(2 * 1024 * 1024) })), { key: teacherKey }), 413);
      await rejectedWithoutAppend(() => command("exam.create", "title=x", { key: teacherKey, headers: { "content-type": "application/x-www-form-urlencoded" } }), 415);
      await rejectedWithoutAppend(() => command("exam.create", "{not json", { key: teacherKey }), 400);
    });
  });

  describe("GET /api/v1/queries/{name}", () => {
    it("404 for an unknown query, and for what a query does not find", async () => {
      expect((await expectProblem(await query("exams.teleport"), 404)).detail).toContain("exams.teleport");
      await expectProblem(await query("exams.get", `?examId=${randomUUID()}`), 404);
    });

    it("400 naming each parameter the query refuses, like every REST v1 query string", async () => {
      const problem = await expectProblem(await query("exams.list", "?limit=1001&status=lost&colour=red"), 400);
      expect(problem.errors?.map((issue) => issue.path).sort()).toEqual(["limit", "status"]);
      expect((await expectProblem(await query("exams.get"), 400)).errors).toEqual([{ path: "examId", message: "is required" }]);
      expect((await expectProblem(await query("exams.list", "?minPosition=soon"), 400)).errors?.map((issue) => issue.path)).toEqual(["minPosition"]);
      expect((await expectProblem(await query("exams.list", "?limit=1&limit=2"), 400)).errors).toEqual([{ path: "limit", message: "must be given once" }]);
      expect((await expectProblem(await query("exams.list", "?after=not-a-cursor"), 400)).errors?.map((issue) => issue.path)).toEqual(["after"]);
    });

    it("pages with next passed back as after", async () => {
      // The other teacher's exams: two made here (earlier tests may have made more).
      const first = await createExam(otherTeacherKey);
      const { examId, result } = await createExam(otherTeacherKey);
      const owner = (await app.container.authServices.authenticate(app.request("/", { key: otherTeacherKey })))!.id;
      const seen: string[] = [];
      let after = "";
      for (let page = 0; page < 10; page += 1) {
        const response = await query("exams.list", `?createdBy=${encodeURIComponent(owner)}&limit=1&minPosition=${result.events[0]!.position}${after}`);
        const body = await bodyOf<Page<ExamRow>>(response);
        expect(body.items.length).toBeLessThanOrEqual(1);
        seen.push(...body.items.map((exam) => exam.examId));
        if (body.next === null) break;
        after = `&after=${body.next}`;
      }
      expect(seen).toEqual(expect.arrayContaining([first.examId, examId]));
      expect(new Set(seen).size).toBe(seen.length);
    });

    it("503 with Retry-After when the read model does not reach minPosition in time", async () => {
      const beyond = (await head()) + 1_000;
      const started = Date.now();
      const problem = await expectProblem(await query("exams.list", `?minPosition=${beyond}`), 503);
      expect(Date.now() - started).toBeGreaterThanOrEqual(QUERY_WAIT_MS - 20);
      expect(problem.detail).toContain(String(beyond));
      const response = await query("exams.list", `?minPosition=${beyond}`);
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    });

    it("needs queries:read", async () => {
      const writerOnly = (await app.container.authServices.apiKeys.create({ name: "writer only", scopes: ["commands:execute"] })).key;
      await expectProblem(await query("exams.list", "", writerOnly), 403);
      await expectProblem(await getQuery(app.request("/api/v1/queries/exams.list", { key: null }), params("exams.list")), 401);
    });
  });

  describe("GET /api/v1/status: projections", () => {
    it("lists every projection with its generation, position, head and lag", async () => {
      const { result } = await createExam();
      const position = result.events[0]!.position;
      const projections = await eventually(async () => {
        const body = await bodyOf<{ projections: Array<{ name: string; state: string; generation: number | null; position: number; headPosition: number; lag: number; rebuild: unknown }> }>(
          await getStatus(app.request("/api/v1/status")),
        );
        for (const projection of body.projections) expect(projection.position).toBeGreaterThanOrEqual(position);
        return body.projections;
      });
      expect(projections.map((projection) => projection.name).sort()).toEqual(app.container.cqrs.projections.projections.map((projection) => projection.name).sort());
      for (const projection of projections) {
        expect(projection).toEqual({
          name: projection.name,
          state: expect.stringMatching(/^(live|catching_up)$/),
          generation: 1,
          position: expect.any(Number),
          headPosition: expect.any(Number),
          lag: projection.headPosition - projection.position,
          rebuild: null,
        });
      }
    });
  });

  describe("GET /api/v1/openapi.json", () => {
    it("describes the four routes and the problem members of a rejected command", async () => {
      const document = await bodyOf<{ paths: Record<string, Record<string, { responses: Record<string, unknown> }>>; components: { schemas: Record<string, { properties?: object }> } }>(
        await getOpenApi(app.request("/api/v1/openapi.json")),
      );
      expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(["/api/v1/commands", "/api/v1/commands/{name}", "/api/v1/queries", "/api/v1/queries/{name}"]));
      expect(Object.keys(document.paths["/api/v1/commands/{name}"]!.post!.responses)).toEqual(expect.arrayContaining(["200", "400", "403", "404", "409", "413", "415", "422"]));
      expect(Object.keys(document.paths["/api/v1/queries/{name}"]!.get!.responses)).toEqual(expect.arrayContaining(["200", "400", "403", "404", "503"]));
      expect(Object.keys(document.components.schemas.Problem!.properties!)).toEqual(expect.arrayContaining(["rule", "expected", "actual"]));
      expect(Object.keys(document.components.schemas)).toEqual(expect.arrayContaining(["CommandCatalog", "QueryCatalog", "CommandResult", "ProjectionStatus"]));
    });
  });
});
