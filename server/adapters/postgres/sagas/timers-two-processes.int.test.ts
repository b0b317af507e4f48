import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ScheduleTimer } from "@/server/engine/sagas/timer-store";
import { migrate, openDatabase, type Database } from "../database";
import { createTestDatabase, type TestDatabase } from "../test-database";
import { PostgresTimerStore } from "./postgres-timer-store";
import type { TimerWorkerSettings } from "./timer-worker";

/**
 * The issue's "a timeout fires exactly once across two worker processes": two worker processes
 * (timer-worker.ts) run DurableTimers on one Postgres database. Every handler run adds a row to
 * `timer_runs` (a plain insert: it counts runs), and its effect is a row in `timer_effects` keyed
 * by the timer id (inserted `on conflict do nothing`, as a real handler makes its effect
 * idempotent). Without crashes each timer runs once; with a worker SIGKILLed while it holds
 * claims, the other fires those timers once their lease is over, and each still has one effect.
 */

const REPO_ROOT = fileURLToPath(new URL("../../../..", import.meta.url));
const KIND = "test.timer";
const WAIT_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 50 ms until it holds; fails with `describe()` after `timeoutMs`. */
async function waitFor(condition: () => Promise<boolean>, describe: () => Promise<string>, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${await describe()}`);
    await sleep(50);
  }
}

class Worker {
  readonly child: ChildProcessWithoutNullStreams;
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly ready: Promise<void>;

  constructor(readonly settings: TimerWorkerSettings) {
    // node itself with the tsx loader, so that the pid is the worker's own (a SIGKILL reaches it).
    this.child = spawn(process.execPath, ["--import", "tsx", "server/adapters/postgres/sagas/timer-worker.ts", JSON.stringify(settings)], {
      cwd: REPO_ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    this.ready = new Promise<void>((resolve, reject) => {
      void this.exited.then(({ code, signal }) => reject(new Error(`worker ${settings.owner} exited (code ${code}, signal ${signal}):\n${this.stderr.join("\n")}`)));
      let pending = "";
      this.child.stdout.on("data", (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        if (lines.some((line) => line.startsWith("{") && (JSON.parse(line) as { event: string }).event === "ready")) resolve();
      });
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim() && this.stderr.length < 100) this.stderr.push(line);
    });
  }

  async whenReady(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`worker ${this.settings.owner} not ready within ${WAIT_MS} ms:\n${this.stderr.join("\n")}`)), WAIT_MS);
    });
    try {
      await Promise.race([this.ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM (drain and leave), SIGKILL if that takes too long. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

describe("durable timers across two worker processes on one Postgres database", () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let store: PostgresTimerStore;
  const workers: Worker[] = [];

  beforeEach(async () => {
    testDatabase = await createTestDatabase("eventloom_timers_procs");
    database = await openDatabase({ databaseUrl: testDatabase.url, poolSize: 4 });
    await migrate(database);
    await database.rows(sql`create table timer_runs (timer_id text not null, worker text not null, attempt integer not null)`);
    await database.rows(sql`create table timer_effects (timer_id text primary key, worker text not null, attempt integer not null)`);
    store = new PostgresTimerStore(database);
  }, 60_000);

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
    await database?.close();
    await testDatabase?.drop();
  }, 60_000);

  const start = (settings: Omit<TimerWorkerSettings, "databaseUrl">): Worker => {
    const worker = new Worker({ databaseUrl: testDatabase.url, ...settings });
    workers.push(worker);
    return worker;
  };

  const schedule = async (drafts: ScheduleTimer[]): Promise<void> => {
    const now = new Date().toISOString();
    for (let index = 0; index < drafts.length; index += 20) await Promise.all(drafts.slice(index, index + 20).map((draft) => store.schedule(draft, now)));
  };

  const count = async (query: ReturnType<typeof sql>): Promise<number> => {
    const [row] = await database.rows<{ count: string }>(query);
    return Number(row?.count ?? 0);
  };

  const summary = async (): Promise<string> =>
    JSON.stringify(await database.rows(sql`select status, count(*) as timers, sum(attempts) as attempts from eventloom_timers group by status`)) +
    ` effects ${await count(sql`select count(*) as count from timer_effects`)}, runs ${await count(sql`select count(*) as count from timer_runs`)}\n` +
    workers.map((worker) => `${worker.settings.owner}: ${worker.stderr.join("\n")}`).join("\n");

  it("fires each of 200 timers once, shared between both processes", async () => {
    const total = 200;
    const one = start({ owner: "worker-one", leaseMs: 5_000, pollIntervalMs: 100 });
    const two = start({ owner: "worker-two", leaseMs: 5_000, pollIntervalMs: 100 });
    await Promise.all([one.whenReady(), two.whenReady()]);

    // Due over about a second, from half a second on: both processes are polling by then.
    const firstDue = Date.now() + 500;
    await schedule(
      Array.from({ length: total }, (_, index) => ({ id: `timer-${index}`, kind: KIND, key: `key-${index % 10}`, dueAt: new Date(firstDue + index * 5).toISOString(), payload: { index } })),
    );
    await waitFor(async () => (await count(sql`select count(*) as count from eventloom_timers where status = 'fired'`)) === total, summary);

    const byWorker = await database.rows<{ worker: string; count: string }>(sql`select worker, count(*) as count from timer_effects group by worker order by worker`);
    const runsPerTimer = await database.rows<{ runs: string; timers: string }>(
      sql`select runs, count(*) as timers from (select timer_id, count(*) as runs from timer_runs group by timer_id) per_timer group by runs`,
    );
    console.log(`[timers] ${total} timers fired: ${byWorker.map((row) => `${row.worker} ${row.count}`).join(", ")}; runs per timer ${JSON.stringify(runsPerTimer)}`);

    expect(await count(sql`select count(*) as count from timer_effects`)).toBe(total);
    expect(await count(sql`select count(*) as count from eventloom_timers t where not exists (select 1 from timer_effects e where e.timer_id = t.id)`)).toBe(0);
    // Each ran once: no timer was fired by both, or twice by one.
    expect(runsPerTimer.map((row) => ({ runs: Number(row.runs), timers: Number(row.timers) }))).toEqual([{ runs: 1, timers: total }]);
    expect(await count(sql`select count(*) as count from eventloom_timers where attempts <> 1 or last_error is not null or claimed_by is not null`)).toBe(0);
    expect(byWorker.map((row) => row.worker)).toEqual(["worker-one", "worker-two"]);
    expect(byWorker.every((row) => Number(row.count) > 0)).toBe(true);
    expect([...one.stderr, ...two.stderr]).toEqual([]);
  });

  it("fires the timers a SIGKILLed process held once their lease is over, each with one effect", async () => {
    const total = 40;
    const leaseMs = 3_000;
    // The victim claims every timer (one batch) and hangs in each handler, having applied the
    // effect for half of them: its death leaves applied-but-not-completed and not-applied claims.
    const victim = start({ owner: "victim", mode: "hang", leaseMs, pollIntervalMs: 50, batchSize: total });
    await victim.whenReady();
    await schedule(
      Array.from({ length: total }, (_, index) => ({ id: `held-${index}`, kind: KIND, key: "held", dueAt: new Date().toISOString(), payload: { effectBeforeHang: index % 2 === 0 } })),
    );
    const victimRuns = sql`select count(*) as count from timer_runs where worker = 'victim'`;
    const victimEffects = sql`select count(*) as count from timer_effects where worker = 'victim'`;
    await waitFor(async () => (await count(victimRuns)) === total && (await count(victimEffects)) === total / 2, summary);
    process.kill(victim.child.pid as number, "SIGKILL");
    expect((await victim.exited).signal).toBe("SIGKILL");
    // Killed while holding every claim: none was given back (that would have set last_error).
    const held = await store.list({ key: "held", limit: total });
    expect(held.filter((timer) => timer.status === "scheduled" && timer.claimedBy === "victim" && timer.attempts === 1 && timer.lastError === null)).toHaveLength(total);
    const leaseEndOf = new Map(held.map((timer) => [timer.id, Date.parse(timer.claimedUntil ?? "")]));
    const leaseEnds = Math.max(...leaseEndOf.values());

    const survivor = start({ owner: "survivor", leaseMs, pollIntervalMs: 100 });
    await survivor.whenReady();
    await waitFor(async () => (await count(sql`select count(*) as count from eventloom_timers where status = 'fired'`)) === total, summary);

    const fired = await store.list({ key: "held", limit: total });
    const survivorRuns = await database.rows<{ attempt: number }>(sql`select attempt from timer_runs where worker = 'survivor'`);
    console.log(
      `[timers] victim ran ${total} handlers, applied ${total / 2} effects, SIGKILLed holding ${total} claims (lease ${leaseMs} ms); ` +
        `survivor ran ${survivorRuns.length}, fired the last at ${Math.max(...fired.map((timer) => Date.parse(timer.firedAt ?? ""))) - leaseEnds} ms after the leases ended`,
    );
    // Every timer: fired once more, by the survivor, on its second attempt (after the victim's claim expired).
    expect(fired.filter((timer) => !(timer.status === "fired" && timer.attempts === 2 && Date.parse(timer.firedAt ?? "") >= (leaseEndOf.get(timer.id) ?? Infinity)))).toEqual([]);
    expect(survivorRuns).toHaveLength(total);
    expect(survivorRuns.every((run) => run.attempt === 2)).toBe(true);
    // One effect per timer: the victim's half kept, the survivor applied the rest.
    expect(await count(sql`select count(*) as count from timer_effects`)).toBe(total);
    const effectsBy = await database.rows<{ worker: string; count: string }>(sql`select worker, count(*) as count from timer_effects group by worker order by worker`);
    expect(effectsBy.map((row) => [row.worker, Number(row.count)])).toEqual([
      ["survivor", total / 2],
      ["victim", total / 2],
    ]);
    expect(survivor.stderr).toEqual([]);
  });
});
