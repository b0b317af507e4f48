import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, openDatabase, type Database } from "@/server/adapters/postgres/database";
import { PostgresEventStore } from "@/server/adapters/postgres/postgres-event-store";
import { PostgresSagaStore } from "@/server/adapters/postgres/sagas";
import { PostgresTaskStore } from "@/server/adapters/postgres/task-store";
import { createTestDatabase, type TestDatabase } from "@/server/adapters/postgres/test-database";
import { deleteRedisKeys } from "@/server/adapters/redis/test-cleanup";
import { gradingSagaId } from "@/server/domain/sagas";
import type { StoredEvent } from "@/server/engine/core/envelope";
import type { SagaRecord } from "@/server/engine/sagas/saga-store";
import type { KillPoint, SagaCrashWorkerReport, SagaCrashWorkerSettings } from "./saga-crash-worker";

/**
 * The saga crash test, on real Postgres and a real broker (Redis): for every step boundary
 * of the `sheet_grading` saga (each step's action done but not yet saved, and each step's
 * completion saved), a worker grading a sheet is SIGKILLed right there; a new worker (which is not
 * killed) picks the saga up once its lease expired and finishes it. Then each sheet has every
 * effect once: one event per step in its stream, one notification, one task per task step that
 * succeeded once, and a saga record that completed with the crashed step tried twice at most.
 *
 * The runs are chained to keep the test short: the worker that resumes sheet k's saga (waiting
 * until it ended) then submits sheet k + 1 and is killed at that sheet's boundary; a last worker
 * resumes the last sheet. A second test runs a sheet whose grading always fails and checks the
 * compensations ran in reverse order.
 */

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** A Redis database of its own (the container's keys use the default prefix), emptied before and after. */
const REDIS_URL = process.env.TEST_SAGA_REDIS_URL ?? "redis://127.0.0.1:6379/13";
const REDIS_PREFIX = "eventloom";
const LEASE_MS = 1_500;
/** A worker's whole life: start, maybe wait for the sheet before, grade (a Redis redelivery takes 30 s). */
const WORKER_BOUND_MS = 120_000;
const STEPS = ["start_ocr", "ocr", "record_ocr", "reserve_grader", "grade", "publish_result", "notify"] as const;
const BOUNDARIES: KillPoint[] = STEPS.flatMap((step) => [
  { kind: "action_done", step },
  { kind: "saved", transition: `step_completed:${step}` },
]);

/** A saga crash worker process and what it reported. */
class Worker {
  readonly child: ChildProcessWithoutNullStreams;
  readonly reports: SagaCrashWorkerReport[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly name: string, settings: SagaCrashWorkerSettings) {
    // node itself with the tsx loader (not the tsx CLI, which would put the worker in a grandchild).
    this.child = spawn(process.execPath, ["--import", "tsx", "server/runtime/saga-crash-worker.ts", JSON.stringify(settings)], { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    let pending = "";
    this.child.stdout.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        const parsed = JSON.parse(line) as Partial<SagaCrashWorkerReport>;
        if (parsed.worker === true) this.reports.push(parsed as SagaCrashWorkerReport);
      }
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim() && this.stderr.length < 200) this.stderr.push(line);
    });
  }

  /** How it ended, within the bound (else it is SIGKILLed and the test fails). */
  async ended(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill("SIGKILL");
        reject(new Error(`worker ${this.name} still running after ${WORKER_BOUND_MS} ms; reports ${JSON.stringify(this.reports)}\n${this.stderr.join("\n")}`));
      }, WORKER_BOUND_MS);
    });
    try {
      return await Promise.race([this.exited, bound]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM (stop and leave) and wait for the exit, SIGKILL if it takes too long. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 30_000);
    await this.exited;
    clearTimeout(timer);
  }
}

describe("sagas on Postgres and Redis: workers SIGKILLed at every step boundary of sheet_grading", () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let sagas: PostgresSagaStore;
  let events: PostgresEventStore;
  let tasks: PostgresTaskStore;
  const examId = uuidv7();
  const topic = `sagacrash-${randomBytes(4).toString("hex")}`;
  const workers: Worker[] = [];

  const settings = (extra: Partial<SagaCrashWorkerSettings>): SagaCrashWorkerSettings => ({
    databaseUrl: testDatabase.url,
    redisUrl: REDIS_URL,
    topic,
    leaseMs: LEASE_MS,
    examId,
    maxLifetimeMs: WORKER_BOUND_MS,
    ...extra,
  });
  const start = (name: string, extra: Partial<SagaCrashWorkerSettings>): Worker => {
    const worker = new Worker(name, settings(extra));
    workers.push(worker);
    return worker;
  };

  /** Everything the sheet's grading caused: its conversation is the sheet's id. */
  const conversationOf = async (sheetId: string): Promise<StoredEvent[]> => (await events.readAll({ correlationid: sheetId, limit: 1_000 })).events;
  const countByType = (log: StoredEvent[], types: readonly string[]) => Object.fromEntries(types.map((type) => [type, log.filter((event) => event.type === type).length]));

  /** Waits (bounded) until the saga ended, and returns it. */
  async function ended(sheetId: string, worker: Worker): Promise<SagaRecord> {
    const deadline = Date.now() + WORKER_BOUND_MS;
    for (;;) {
      const saga = await sagas.get(gradingSagaId(sheetId));
      if (saga && ["completed", "compensated", "cancelled", "failed"].includes(saga.status)) return saga;
      if (worker.child.exitCode !== null) throw new Error(`worker ${worker.name} exited while ${sheetId} was ${saga?.status}:\n${worker.stderr.join("\n")}`);
      if (Date.now() > deadline) throw new Error(`saga of ${sheetId} still ${saga?.status} after ${WORKER_BOUND_MS} ms: ${JSON.stringify(saga?.steps)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  beforeAll(async () => {
    testDatabase = await createTestDatabase("eventloom_sagacrash");
    database = await openDatabase({ databaseUrl: testDatabase.url, poolSize: 2 });
    await migrate(database);
    sagas = new PostgresSagaStore(database);
    events = new PostgresEventStore(database);
    tasks = new PostgresTaskStore(database);
    await deleteRedisKeys(REDIS_URL, REDIS_PREFIX);
  }, 60_000);

  afterAll(async () => {
    for (const worker of workers) await worker.stop().catch(() => undefined);
    await deleteRedisKeys(REDIS_URL, REDIS_PREFIX).catch(() => undefined);
    await database?.close();
    await testDatabase?.drop();
  }, 60_000);

  it(
    "resumes each crashed saga to completion with every step's effect exactly once",
    async () => {
      const sheetIds = BOUNDARIES.map(() => uuidv7());
      for (const [index, killAt] of BOUNDARIES.entries()) {
        const worker = start(`kill-${index}`, {
          ...(index > 0 ? { resume: sheetIds[index - 1] } : {}),
          sheet: { sheetId: sheetIds[index]!, studentId: `stu-${index + 1}` },
          killAt,
        });
        const exit = await worker.ended();
        expect(exit.signal, `worker ${worker.name} at ${JSON.stringify(killAt)}:\n${worker.stderr.join("\n")}`).toBe("SIGKILL");
        expect(worker.reports.map((report) => report.event)).toEqual([...(index > 0 ? ["ready", "resumed"] : ["ready"]), "submitted", "killing"]);
      }
      const last = start("resume-last", { resume: sheetIds.at(-1) });
      await ended(sheetIds.at(-1)!, last);
      await last.stop();

      for (const [index, killAt] of BOUNDARIES.entries()) {
        const sheetId = sheetIds[index]!;
        const where = `sheet ${index} (killed at ${JSON.stringify(killAt)})`;
        const saga = (await sagas.get(gradingSagaId(sheetId))) as SagaRecord;
        expect(saga.status, where).toBe("completed");
        for (const step of saga.steps) {
          expect(step.status, `${where}: ${step.name}`).toBe("completed");
          // A crash is not the step's failure: the interrupted attempt is run again, not a new one.
          expect([step.attempts, step.history.length], `${where}: attempts of ${step.name}`).toEqual([1, 1]);
        }

        const log = await conversationOf(sheetId);
        const stream = log.filter((event) => event.streamid === `sheet-${sheetId}`);
        expect(stream.map((event) => event.type), where).toEqual(["sheet.submitted", "ocr.started", "ocr.completed", "grading.started", "grading.completed"]);
        expect(countByType(log, ["saga.started", "saga.completed", "notification.sent", "task.succeeded", "task.dead", "saga.compensating"]), where).toEqual({
          "saga.started": 1, "saga.completed": 1, "notification.sent": 1, "task.succeeded": 2, "task.dead": 0, "saga.compensating": 0,
        });
        const sheetTasks = (await tasks.list({ limit: 1_000 })).items.filter((task) => task.correlationid === sheetId);
        expect(sheetTasks.map((task) => [task.type, task.status, task.idempotencyKey]).sort(), where).toEqual([
          ["grading_execution", "succeeded", `saga:${saga.id}:grade`],
          ["ocr_processing", "succeeded", `saga:${saga.id}:ocr`],
        ]);
        const succeededTaskIds = log.filter((event) => event.type === "task.succeeded").map((event) => (event.data as { taskId: string }).taskId).sort();
        expect(succeededTaskIds, where).toEqual(sheetTasks.map((task) => task.id).sort());
      }
    },
    10 * 60_000,
  );

  it(
    "compensates a sheet whose grading always fails in reverse order: the grader released, then the sheet flagged for review",
    async () => {
      const sheetId = uuidv7();
      const worker = start("always-fails", { sheet: { sheetId, studentId: "stu-unmarkable" } });
      const saga = await ended(sheetId, worker);
      // The student is told by the notification reaction, once the flag reached it over Redis.
      for (let waited = 0; !(await conversationOf(sheetId)).some((event) => event.type === "notification.sent"); waited += 200) {
        if (waited > WORKER_BOUND_MS) throw new Error(`no notification for ${sheetId}:\n${worker.stderr.join("\n")}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await worker.stop();

      expect(saga).toMatchObject({ status: "compensated", error: { message: "the answer key of this exam is missing" } });
      expect(saga.steps.map((step) => [step.name, step.status])).toEqual([
        ["start_ocr", "completed"], ["ocr", "completed"], ["record_ocr", "completed"], ["reserve_grader", "completed"],
        ["grade", "failed"], ["publish_result", "pending"], ["notify", "pending"],
      ]);
      expect(saga.compensations.map((step) => [step.name, step.status, step.attempts])).toEqual([["reserve_grader", "completed", 1], ["start_ocr", "completed", 1]]);
      const log = await conversationOf(sheetId);
      const stream = log.filter((event) => event.streamid === `sheet-${sheetId}`);
      expect(stream.map((event) => event.type)).toEqual(["sheet.submitted", "ocr.started", "ocr.completed", "grading.started", "grading.released", "sheet.flagged_for_review"]);
      expect(countByType(log, ["saga.compensating", "saga.compensated", "saga.completed", "task.dead", "notification.sent"])).toEqual({
        "saga.compensating": 1, "saga.compensated": 1, "saga.completed": 0, "task.dead": 1, "notification.sent": 1,
      });
      expect(log.find((event) => event.type === "notification.sent")?.data).toMatchObject({ recipient: "stu-unmarkable", template: "sheet_manual_review" });
      // The compensations' events are what the saga's compensation lane links to.
      const [release, flag] = saga.compensations.map((step) => step.events.map((event) => event.type));
      expect([release, flag]).toEqual([["grading.released"], ["sheet.flagged_for_review"]]);
    },
    4 * 60_000,
  );
});
