import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ProjectionRunner } from "@/server/engine/cqrs/projection-runner";
import { PostgresAdvisoryLease } from "../advisory-lease";
import { migrate, openDatabase, type Database } from "../database";
import { PostgresEventStore } from "../postgres-event-store";
import { createTestDatabase, type TestDatabase } from "../test-database";
import { createKeyTotalsTemplate, expectedTotals, keyTotals, keyTotalsProjection, keyTotalsTables, seedEvents, type KeyTotalsRow } from "./key-totals-test-projection";
import { generationTableName, PostgresReadModelStore } from "./postgres-read-model-store";
import type { ProjectionCrashWorkerSettings } from "./projection-crash-worker";

/**
 * The "a projection killed mid-batch resumes with no missed or doubled rows": a child
 * process runs the projection over 50,000 events and is SIGKILLed part-way through the log, while
 * one of its batches has written rows and not yet committed them with the new position; a runner in this process then takes over and
 * catches up, and every row must equal the fold of all events computed here.
 */

const REPO_ROOT = fileURLToPath(new URL("../../../..", import.meta.url));
const WORKER = "server/adapters/postgres/read-models/projection-crash-worker.ts";
const EVENTS = 50_000;
const KEYS = 700;
const BATCH_SIZE = 500;
/** The child's sessions carry this name, so pg_stat_activity shows which are its. */
const WORKER_APPLICATION = "eventloom_projection_crash_worker";
/** The kill point, as a fraction of the log: drawn in this range. */
const KILL_BETWEEN = [0.2, 0.6] as const;
const CATCH_UP_WITHIN_MS = 90_000;

describe("projection killed mid-batch (PostgreSQL)", () => {
  let testDb: TestDatabase;
  let database: Database;
  let events: PostgresEventStore;
  let expected: Map<string, KeyTotalsRow>;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    database = await openDatabase({ databaseUrl: testDb.url });
    await migrate(database);
    await createKeyTotalsTemplate(database);
    events = new PostgresEventStore(database);
    expected = expectedTotals(await seedEvents(events, { total: EVENTS, keys: KEYS, perAppend: 1_000 }));
  });

  afterAll(async () => {
    await events?.close();
    await database?.close();
    await testDb?.drop();
  });

  async function activePosition(): Promise<number> {
    const [row] = await database.rows<{ position: string | number }>(
      sql`select position from eventloom_projection_generations where projection = ${keyTotalsProjection.name} and status = 'active'`,
    );
    return Number(row?.position ?? 0);
  }

  /**
   * Sessions of the child inside a batch that has written rows and not committed: the table lock
   * its INSERT ... ON CONFLICT took is held until the transaction ends. Killing there leaves the
   * most to undo: rows written, position not moved.
   */
  async function workerBatchesWritten(): Promise<number> {
    const [row] = await database.rows<{ open: number }>(
      sql`select count(*)::int as "open" from pg_locks l join pg_stat_activity a on a.pid = l.pid
          where a.application_name = ${WORKER_APPLICATION} and l.granted and l.mode = 'RowExclusiveLock'
            and l.relation = to_regclass(${generationTableName(keyTotals.name, 1)})`,
    );
    return row?.open ?? 0;
  }

  async function workerSessions(): Promise<number> {
    const [row] = await database.rows<{ sessions: number }>(sql`select count(*)::int as "sessions" from pg_stat_activity where application_name = ${WORKER_APPLICATION}`);
    return row?.sessions ?? 0;
  }

  it(
    "resumes with no missed or doubled rows",
    async () => {
      const head = await events.headPosition();
      expect(head).toBe(EVENTS);

      const workerUrl = new URL(testDb.url);
      // postgres.js sends unknown URL parameters as session settings in the startup message.
      workerUrl.searchParams.set("application_name", WORKER_APPLICATION);
      const settings: ProjectionCrashWorkerSettings = { databaseUrl: workerUrl.toString(), batchSize: BATCH_SIZE };
      const child = spawn(process.execPath, ["--import", "tsx", WORKER, JSON.stringify(settings)], { cwd: REPO_ROOT, stdio: ["pipe", "ignore", "pipe"] });
      const stderr: string[] = [];
      child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));

      const killAfter = Math.floor(head * (KILL_BETWEEN[0] + Math.random() * (KILL_BETWEEN[1] - KILL_BETWEEN[0])));
      try {
        await vi.waitFor(
          async () => {
            if (child.exitCode !== null) throw new Error(`the worker exited (code ${child.exitCode}) before the kill:\n${stderr.join("")}`);
            expect(await activePosition()).toBeGreaterThanOrEqual(killAfter);
            expect(await workerBatchesWritten()).toBeGreaterThan(0);
          },
          { timeout: CATCH_UP_WITHIN_MS, interval: 2 },
        );
      } finally {
        child.kill("SIGKILL");
      }
      expect(await exited).toBe("SIGKILL");
      const killedAt = await activePosition();
      expect(killedAt).toBeGreaterThan(0);
      expect(killedAt).toBeLessThan(head);
      expect(stderr.join("")).toBe("");
      // The server ends the child's sessions (rolling back the open batch) once it sees the sockets close.
      await vi.waitFor(async () => expect(await workerSessions()).toBe(0), { timeout: 10_000, interval: 20 });

      const errors: unknown[] = [];
      const lease = new PostgresAdvisoryLease(testDb.url);
      const readModels = new PostgresReadModelStore(database, keyTotalsTables);
      const runner = new ProjectionRunner({
        store: events,
        readModels,
        lease,
        owner: "resumer",
        projections: [keyTotalsProjection],
        upcast: (event) => event,
        batchSize: BATCH_SIZE,
        onError: (error) => errors.push(error),
      });
      runner.start();
      try {
        await vi.waitFor(async () => expect(await activePosition()).toBe(head), { timeout: CATCH_UP_WITHIN_MS, interval: 50 });
      } finally {
        await runner.stop();
        await lease.close();
      }
      expect(errors).toEqual([]);

      const opened = await readModels.open(keyTotalsProjection.name);
      // Still the generation the child created: the resumer continued it, not rebuilt it.
      expect(opened).toMatchObject({ generation: 1, position: head });
      const reader = opened?.reader;
      if (!reader) throw new Error("no active generation");
      const page = await reader.find(keyTotals, { orderBy: { column: "key", direction: "asc" }, limit: KEYS + 1 });
      expect(page.next).toBeNull();
      expect(page.items).toHaveLength(expected.size);
      expect(new Map(page.items.map((row) => [row.key, row]))).toEqual(expected);
    },
    CATCH_UP_WITHIN_MS * 2 + 30_000,
  );
});
