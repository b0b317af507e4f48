/**
 * The process projection-crash.int.test.ts kills: it runs a ProjectionRunner over the key-totals
 * test projection on a Postgres server until it is killed.
 *
 *   node --import tsx server/adapters/postgres/read-models/projection-crash-worker.ts '<settings JSON>'
 *
 * (node itself with the tsx loader, not the tsx CLI, which would run this in a grandchild that a
 * SIGKILL of the child's pid would miss.) stderr: the runner's errors, as JSON lines. It exits by itself when its stdin closes (the test
 * that started it is gone) or after `maxLifetimeMs`, so a failed test leaves no runner behind.
 */
import { z } from "zod";
import { ProjectionRunner } from "@/server/engine/cqrs/projection-runner";
import { PostgresAdvisoryLease } from "../advisory-lease";
import { openDatabase } from "../database";
import { PostgresEventStore } from "../postgres-event-store";
import { keyTotalsProjection, keyTotalsTables } from "./key-totals-test-projection";
import { PostgresReadModelStore } from "./postgres-read-model-store";

const settingsSchema = z.object({
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"),
  batchSize: z.number().int().min(1).max(10_000),
  maxLifetimeMs: z.number().int().min(1_000).default(5 * 60_000),
});

export type ProjectionCrashWorkerSettings = z.input<typeof settingsSchema>;

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) throw new Error("usage: node --import tsx server/adapters/postgres/read-models/projection-crash-worker.ts '<settings JSON>'");
  const settings = settingsSchema.parse(JSON.parse(raw));
  const database = await openDatabase({ databaseUrl: settings.databaseUrl, poolSize: 4 });
  const lease = new PostgresAdvisoryLease(settings.databaseUrl);
  const runner = new ProjectionRunner({
    store: new PostgresEventStore(database),
    readModels: new PostgresReadModelStore(database, keyTotalsTables),
    lease,
    owner: `crash-worker-${process.pid}`,
    projections: [keyTotalsProjection],
    upcast: (event) => event,
    batchSize: settings.batchSize,
    onError: (error, info) => {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      process.stderr.write(`${JSON.stringify({ event: "error", ...info, message })}\n`);
    },
  });
  runner.start();

  const stop = async (exitCode: number): Promise<void> => {
    await runner.stop();
    await lease.close();
    await database.close();
    process.exit(exitCode);
  };
  process.stdin.on("end", () => void stop(0));
  process.stdin.on("error", () => void stop(0));
  process.stdin.resume();
  setTimeout(() => void stop(3), settings.maxLifetimeMs).unref();
}

main().catch((error: unknown) => {
  process.stderr.write(`${JSON.stringify({ event: "fatal", message: error instanceof Error ? (error.stack ?? error.message) : String(error) })}\n`);
  process.exit(1);
});
