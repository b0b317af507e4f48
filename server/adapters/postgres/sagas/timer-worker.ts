/**
 * A worker process for the durable-timers test (timers-two-processes.int.test.ts): it runs
 * DurableTimers over PostgresTimerStore on a shared database, with one handler (kind
 * `test.timer`), so that a test can run two of them at once, SIGKILL one, and count.
 *
 *   node --import tsx server/adapters/postgres/sagas/timer-worker.ts '<settings as JSON>'
 *
 * (node itself, not the tsx CLI, which would run the worker in a grandchild that a SIGKILL of the
 * child's pid would miss.)
 *
 * Each handler run first adds a row to `timer_runs(timer_id, worker, attempt)`: a plain insert, so
 * the rows count the runs (a timer fired twice shows twice). Its effect is then a row in
 * `timer_effects(timer_id primary key, worker, attempt)`, inserted `on conflict do nothing`: the
 * idempotent effect a real handler has. In `hang` mode the handler applies the effect only when
 * the timer's payload says `effectBeforeHang`, then waits until aborted: it holds its claim until
 * the process is killed. The test creates both tables.
 *
 * stdout, one JSON object per line: {"event":"ready"} once the loop runs, {"event":"stopped"}
 * after SIGTERM/SIGINT (handlers drained, database closed). stderr: errors, as JSON lines. The
 * worker exits when its stdin closes (the test is gone) or after `maxLifetimeMs`.
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { DurableTimers } from "@/server/engine/sagas/timers";
import { openDatabase } from "../database";
import { PostgresTimerStore } from "./postgres-timer-store";

/** The kind this worker handles; the test schedules timers of it. */
const TEST_TIMER_KIND = "test.timer";

const settingsSchema = z.object({
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"),
  /** The claim owner's name; reported in the effect rows. */
  owner: z.string().min(1),
  mode: z.enum(["fire", "hang"]).default("fire"),
  leaseMs: z.number().int().min(100).default(2_000),
  pollIntervalMs: z.number().int().min(10).default(100),
  batchSize: z.number().int().min(1).max(1_000).default(100),
  maxLifetimeMs: z.number().int().min(1_000).default(120_000),
});

export type TimerWorkerSettings = z.input<typeof settingsSchema>;

const payloadSchema = z.object({ effectBeforeHang: z.boolean().default(false) });

function reportError(stage: string, error: unknown, timerId?: string): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`${JSON.stringify({ event: "error", pid: process.pid, stage, timerId, message })}\n`);
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) throw new Error("usage: node --import tsx server/adapters/postgres/sagas/timer-worker.ts '<settings JSON>'");
  const settings = settingsSchema.parse(JSON.parse(raw));
  const database = await openDatabase({ databaseUrl: settings.databaseUrl, poolSize: 4 });
  const timers = new DurableTimers({
    store: new PostgresTimerStore(database),
    owner: settings.owner,
    leaseMs: settings.leaseMs,
    pollIntervalMs: settings.pollIntervalMs,
    batchSize: settings.batchSize,
    onError: ({ timerId, error }) => reportError("timers", error, timerId),
  });
  const applyEffect = (timerId: string, attempt: number) =>
    database.rows(sql`insert into timer_effects (timer_id, worker, attempt) values (${timerId}, ${settings.owner}, ${attempt}) on conflict (timer_id) do nothing`);

  timers.on(TEST_TIMER_KIND, async (timer, { signal }) => {
    await database.rows(sql`insert into timer_runs (timer_id, worker, attempt) values (${timer.id}, ${settings.owner}, ${timer.attempts})`);
    if (settings.mode === "fire") {
      await applyEffect(timer.id, timer.attempts);
      return;
    }
    if (payloadSchema.parse(timer.payload).effectBeforeHang) await applyEffect(timer.id, timer.attempts);
    await new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true }));
  });
  timers.start();
  process.stdout.write(`${JSON.stringify({ event: "ready", pid: process.pid })}\n`);

  let stopping: Promise<void> | undefined;
  const stop = (exitCode: number): Promise<void> =>
    (stopping ??= (async () => {
      await timers.stop().catch((error: unknown) => reportError("stop", error));
      await database.close().catch((error: unknown) => reportError("close", error));
      process.stdout.write(`${JSON.stringify({ event: "stopped", pid: process.pid })}\n`);
      process.exit(exitCode);
    })());
  process.on("SIGTERM", () => void stop(0));
  process.on("SIGINT", () => void stop(0));
  process.stdin.on("end", () => void stop(0));
  process.stdin.on("error", () => void stop(0));
  process.stdin.resume();
  setTimeout(() => void stop(3), settings.maxLifetimeMs).unref();
}

main().catch((error: unknown) => {
  process.stderr.write(`${JSON.stringify({ event: "fatal", pid: process.pid, message: error instanceof Error ? (error.stack ?? error.message) : String(error) })}\n`);
  process.exit(1);
});
