/**
 * A worker process for the crash-recovery test (crash-recovery.int.test.ts): it consumes one
 * topic as one subscription on one broker and applies every message's effect exactly once in
 * Postgres, so that a test can SIGKILL it mid-run, start another, and count.
 *
 *   node --import tsx server/runtime/crash-worker.ts '<settings as JSON>'
 *
 * (node itself, not the tsx CLI, which would run the worker in a grandchild that a SIGKILL of the
 * child's pid would miss.) Settings: see {@link settingsSchema}; the test picks unique topic,
 * group and prefix names.
 *
 * The effect: one row in `crash_effects(event_id, worker_pid, attempt, applied_at)`, written with
 * `withInbox` (the inbox row and the effect commit in one transaction). The table has NO unique
 * constraint on `event_id`: a duplicated effect would be a second row, so counting rows and
 * distinct ids tells lost from duplicated. The effects connections use `synchronous_commit = off`:
 * in this test the worker dies, not the database, and it makes 100,000 small transactions
 * affordable (a commit no longer waits for its WAL flush; it is still atomic and visible at once).
 *
 * stdout, one JSON object per line:
 *   {"event":"ready", ...}      subscribed, about to receive
 *   {"event":"progress", ...}   every `progressEveryMs`: applied, duplicates, redelivered...
 *   {"event":"stopped", ...}    after SIGTERM/SIGINT: drained, settled, closed (then exit 0)
 * `applied` counts effects this process committed, `duplicates` deliveries whose inbox row already
 * existed (the effect was suppressed), `redelivered` deliveries with attempt > 1;
 * `firstRedeliveryAt` says when the first delivery of either kind came.
 * stderr: errors the subscriber or driver reported (capped), as JSON lines.
 *
 * The worker exits by itself when its stdin closes (the test that started it is gone) or after
 * `maxLifetimeMs`, so a failed test leaves no consumer behind.
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { createKafkaDriver } from "@/server/adapters/kafka";
import { openDatabase, type Database } from "@/server/adapters/postgres/database";
import { PostgresDeadLetterStore } from "@/server/adapters/postgres/transport/postgres-dead-letter-store";
import { createPostgresDriver } from "@/server/adapters/postgres/transport/postgres-driver";
import { withInbox } from "@/server/adapters/postgres/transport/postgres-inbox";
import { createRabbitmqDriver } from "@/server/adapters/rabbitmq";
import { createRedisDriver } from "@/server/adapters/redis";
import type { TransportDriver } from "@/server/engine/transport/driver";
import { startSubscriber, type RunningSubscriber } from "@/server/engine/transport/subscriber";

const postgresUrl = z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL");
const redeliveryAfterMs = z.number().int().min(100).max(600_000).default(2_000);

const transportSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("postgres"), databaseUrl: postgresUrl, redeliveryAfterMs, poolSize: z.number().int().min(1).max(64).default(4) }),
  z.object({ kind: z.literal("redis"), url: z.string().regex(/^rediss?:\/\//), keyPrefix: z.string().min(1), redeliveryAfterMs }),
  z.object({
    kind: z.literal("kafka"),
    brokers: z.array(z.string()).min(1),
    prefix: z.string().min(1),
    redeliveryAfterMs,
    partitions: z.number().int().min(1).max(1_000).default(6),
    replicationFactor: z.number().int().min(-1).default(1),
  }),
  // RabbitMQ needs no redelivery delay: the broker requeues a dead connection's unacked messages
  // as soon as its socket closes (which a SIGKILL does).
  z.object({ kind: z.literal("rabbitmq"), url: z.string().regex(/^amqps?:\/\//), prefix: z.string().min(1) }),
]);

const settingsSchema = z.object({
  transport: transportSchema,
  topic: z.string().min(1),
  group: z.string().min(1),
  /** Where `crash_effects` and the inbox live (migrated, the table created by the test). */
  effectsDatabaseUrl: postgresUrl,
  effectsPoolSize: z.number().int().min(1).max(64).default(16),
  /** Handlers at once (the Subscriber's concurrency); prefetch is twice that. */
  concurrency: z.number().int().min(1).max(512).default(32),
  progressEveryMs: z.number().int().min(20).max(60_000).default(250),
  maxLifetimeMs: z.number().int().min(1_000).default(20 * 60_000),
});

export type CrashWorkerSettings = z.input<typeof settingsSchema>;
type Settings = z.output<typeof settingsSchema>;

/** A line of the worker's stdout. (Import types only from this file: importing it runs the worker.) */
export interface CrashWorkerReport {
  event: "ready" | "progress" | "stopped";
  pid: number;
  consumer: string;
  applied: number;
  duplicates: number;
  redelivered: number;
  maxAttempt: number;
  /** Epoch ms of the first delivery recognisably handed out before (attempt > 1, or the inbox had it); 0 = none yet. */
  firstRedeliveryAt: number;
  errors: number;
  inFlight: number;
  deadLettered: number;
}

const MAX_ERROR_LINES = 50;

function createDriver(transport: Settings["transport"]): TransportDriver {
  switch (transport.kind) {
    case "postgres":
      return createPostgresDriver({
        databaseUrl: transport.databaseUrl,
        poolSize: transport.poolSize,
        redeliveryAfterMs: transport.redeliveryAfterMs,
        onError: reportError("postgres"),
      });
    case "redis":
      return createRedisDriver({ url: transport.url, keyPrefix: transport.keyPrefix, redeliveryAfterMs: transport.redeliveryAfterMs, onError: reportError("redis") });
    case "kafka":
      return createKafkaDriver({
        brokers: transport.brokers,
        prefix: transport.prefix,
        partitions: transport.partitions,
        replicationFactor: transport.replicationFactor,
        redeliveryAfterMs: transport.redeliveryAfterMs,
        log: (level, message, fields) => reportError("kafka")(new Error(`${level}: ${message}${fields ? ` ${JSON.stringify(fields)}` : ""}`)),
      });
    case "rabbitmq":
      return createRabbitmqDriver({ url: transport.url, prefix: transport.prefix, onError: (error, context) => reportError(`rabbitmq ${context}`)(error) });
  }
}

let errorCount = 0;
function reportError(stage: string): (error: unknown) => void {
  return (error) => {
    errorCount += 1;
    if (errorCount > MAX_ERROR_LINES) return;
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    process.stderr.write(`${JSON.stringify({ event: "error", pid: process.pid, stage, message })}\n`);
  };
}

function withSynchronousCommitOff(url: string): string {
  const parsed = new URL(url);
  // postgres.js sends unknown URL parameters as session settings in the startup message.
  parsed.searchParams.set("synchronous_commit", "off");
  return parsed.toString();
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) throw new Error("usage: node --import tsx server/runtime/crash-worker.ts '<settings JSON>'");
  const settings = settingsSchema.parse(JSON.parse(raw));
  const effects: Database = await openDatabase({ databaseUrl: withSynchronousCommitOff(settings.effectsDatabaseUrl), poolSize: settings.effectsPoolSize });
  const driver = createDriver(settings.transport);
  await driver.connect();

  const counts = { applied: 0, duplicates: 0, redelivered: 0, maxAttempt: 0, firstRedeliveryAt: 0 };
  const sawRedelivery = (): void => {
    if (counts.firstRedeliveryAt === 0) counts.firstRedeliveryAt = Date.now();
  };
  const subscriber: RunningSubscriber = await startSubscriber(driver, {
    topic: settings.topic,
    subscription: settings.group,
    concurrency: settings.concurrency,
    deadLetters: new PostgresDeadLetterStore(effects),
    // No `inbox` option: withInbox below is the inbox, committed with the effect.
    handler: async (event, context) => {
      if (context.attempt > 1) {
        counts.redelivered += 1;
        sawRedelivery();
      }
      if (context.attempt > counts.maxAttempt) counts.maxAttempt = context.attempt;
      const outcome = await withInbox(effects, context.subscription, context.messageId, async (tx) => {
        await tx.execute(sql`insert into crash_effects (event_id, worker_pid, attempt) values (${event.id}, ${process.pid}, ${context.attempt})`);
      });
      if (outcome === "applied") counts.applied += 1;
      else {
        counts.duplicates += 1;
        sawRedelivery();
      }
    },
    onError: (info) => reportError(info.stage)(info.error),
  });

  const report = (event: CrashWorkerReport["event"]): void => {
    const stats = subscriber.stats();
    const line: CrashWorkerReport = {
      event,
      pid: process.pid,
      consumer: subscriber.consumer,
      ...counts,
      errors: errorCount,
      inFlight: stats.inFlight,
      deadLettered: stats.deadLettered,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  report("ready");
  const progress = setInterval(() => report("progress"), settings.progressEveryMs);

  let stopping: Promise<void> | undefined;
  const stop = (exitCode: number): Promise<void> =>
    (stopping ??= (async () => {
      clearInterval(progress);
      await subscriber.stop({ timeoutMs: 30_000 }).catch(reportError("stop"));
      await driver.close().catch(reportError("close"));
      await effects.close().catch(reportError("close effects"));
      report("stopped");
      process.exit(exitCode);
    })());
  process.on("SIGTERM", () => void stop(0));
  process.on("SIGINT", () => void stop(0));
  // The test that started this worker is gone: leave the group (gracefully) and exit.
  process.stdin.on("end", () => void stop(0));
  process.stdin.on("error", () => void stop(0));
  process.stdin.resume();
  setTimeout(() => void stop(3), settings.maxLifetimeMs).unref();
}

main().catch((error: unknown) => {
  process.stderr.write(`${JSON.stringify({ event: "fatal", pid: process.pid, message: error instanceof Error ? (error.stack ?? error.message) : String(error) })}\n`);
  process.exit(1);
});
