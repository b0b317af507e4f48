import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createKafkaDriver } from "@/server/adapters/kafka";
import { deleteKafkaObjects } from "@/server/adapters/kafka/test-cleanup";
import { migrate, openDatabase, type Database } from "@/server/adapters/postgres/database";
import { createTestDatabase, type TestDatabase } from "@/server/adapters/postgres/test-database";
import { createPostgresDriver } from "@/server/adapters/postgres/transport/postgres-driver";
import { createRabbitmqDriver, DEFAULT_RETRY_TIERS_MS } from "@/server/adapters/rabbitmq";
import { exchangeName, groupNames } from "@/server/adapters/rabbitmq/topology";
import { createRedisDriver } from "@/server/adapters/redis";
import { deleteRedisKeys } from "@/server/adapters/redis/test-cleanup";
import { buildEnvelope, type Priority } from "@/server/engine/core/envelope";
import { toWireMessage } from "@/server/engine/transport/codec";
import type { TransportDriver, WireMessage } from "@/server/engine/transport/driver";
import type { CrashWorkerReport, CrashWorkerSettings } from "./crash-worker";

/**
 * The issue's crash test, on every broker: 100,000 messages, a worker SIGKILLed in the middle of
 * the run, a new one started, and then: zero messages lost, zero duplicated effects.
 *
 * The effect of each message is a row in `crash_effects`, written by the worker with `withInbox`
 * (the inbox row and the effect commit together); the table has no unique constraint, so a
 * duplicated effect would be a second row. Worker A is killed (SIGKILL: no drain, no goodbye to
 * the broker) once 25-45% of the effects are in; worker B then has to get A's unsettled deliveries
 * back from the broker (reclaim after 2 s on Redis, lease expiry after 2 s on Postgres, the group's
 * session timeout on Kafka, at once on RabbitMQ) and finish. The inbox absorbs what A applied but
 * never acked.
 */

const MESSAGES = 100_000;
const PUBLISH_BATCH = 2_000;
const KEYS = 300;
const CONCURRENCY = 32;
const REDELIVERY_AFTER_MS = 2_000;
/** A's kill point, as a fraction of MESSAGES: drawn in this range, asserted within 20-60%. */
const KILL_BETWEEN = [0.25, 0.45] as const;
/** The bound on B's run to completion, per broker. */
const FINISH_WITHIN_MS = 5 * 60_000;
/** ...and it fails sooner if neither the effects nor the group's depth move for this long. */
const STALLED_AFTER_MS = 60_000;

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const AMQP_URL = process.env.TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number): string => (ms / 1000).toFixed(1);

/** One broker's part: a test-side driver (publish, figures), the workers' settings, and cleanup. */
interface BrokerSetup {
  driver: TransportDriver;
  transport: CrashWorkerSettings["transport"];
  cleanup(): Promise<void>;
}

type Kind = CrashWorkerSettings["transport"]["kind"];

const brokers: Record<Kind, (names: { id: string; topic: string; group: string }, effects: TestDatabase) => Promise<BrokerSetup>> = {
  // The transport's tables live in the effects database, as they would in the app's own database.
  async postgres(_names, effects) {
    const transport = { kind: "postgres" as const, databaseUrl: effects.url, redeliveryAfterMs: REDELIVERY_AFTER_MS };
    return { driver: createPostgresDriver({ databaseUrl: effects.url, poolSize: 4 }), transport, cleanup: async () => undefined };
  },
  async redis({ id }) {
    const keyPrefix = `elcrash-${id}`;
    return {
      driver: createRedisDriver({ url: REDIS_URL, keyPrefix, onError: () => undefined }),
      transport: { kind: "redis", url: REDIS_URL, keyPrefix, redeliveryAfterMs: REDELIVERY_AFTER_MS },
      cleanup: () => deleteRedisKeys(REDIS_URL, keyPrefix),
    };
  },
  async kafka({ id }) {
    const prefix = `elcrash${id}`;
    const transport = { kind: "kafka" as const, brokers: KAFKA_BROKERS, prefix, redeliveryAfterMs: REDELIVERY_AFTER_MS, partitions: 6, replicationFactor: 1 };
    return {
      driver: createKafkaDriver({ brokers: KAFKA_BROKERS, prefix, partitions: 6, replicationFactor: 1, log: () => undefined }),
      transport,
      cleanup: () => deleteKafkaObjects(KAFKA_BROKERS, `${prefix}.`),
    };
  },
  async rabbitmq({ id, topic, group }) {
    const prefix = `elcrash-${id}`;
    return {
      driver: createRabbitmqDriver({ url: AMQP_URL, prefix, onError: () => undefined }),
      transport: { kind: "rabbitmq", url: AMQP_URL, prefix },
      async cleanup() {
        const connection = await amqp.connect(AMQP_URL);
        try {
          const channel = await connection.createChannel();
          const names = groupNames(prefix, topic, group, DEFAULT_RETRY_TIERS_MS);
          for (const queue of [names.queue, ...names.delayQueues.values()]) await channel.deleteQueue(queue);
          await channel.deleteExchange(exchangeName(prefix, topic));
        } finally {
          await connection.close();
        }
      },
    };
  },
};

/** A crash worker process and what it reported. */
class Worker {
  readonly child: ChildProcessWithoutNullStreams;
  last: CrashWorkerReport | undefined;
  stopped: CrashWorkerReport | undefined;
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly ready: Promise<void>;

  constructor(readonly name: string, settings: CrashWorkerSettings) {
    // node itself with the tsx loader (not the tsx CLI, which would put the worker in a grandchild).
    this.child = spawn(process.execPath, ["--import", "tsx", "server/runtime/crash-worker.ts", JSON.stringify(settings)], {
      cwd: REPO_ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    let markReady!: () => void;
    let failReady!: (error: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    void this.exited.then(({ code, signal }) => failReady(new Error(`worker ${name} exited (code ${code}, signal ${signal}) before it was ready:\n${this.stderr.join("\n")}`)));
    let pending = "";
    this.child.stdout.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        const report = JSON.parse(line) as CrashWorkerReport;
        this.last = report;
        if (report.event === "ready") markReady();
        if (report.event === "stopped") this.stopped = report;
      }
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim() && this.stderr.length < 200) this.stderr.push(line);
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  async whenReady(timeoutMs = 60_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`worker ${this.name} not ready within ${timeoutMs} ms:\n${this.stderr.join("\n")}`)), timeoutMs);
    });
    try {
      await Promise.race([this.ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM (drain and leave) and wait for the exit, SIGKILL if it takes too long. */
  async stop(timeoutMs = 40_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

function messages(): WireMessage[] {
  const priorityOf = (n: number): Priority => (n % 10 === 0 ? "high" : n % 10 < 3 ? "low" : "normal");
  return Array.from({ length: MESSAGES }, (_, n) =>
    toWireMessage(buildEnvelope({ type: "crash.tested", partitionkey: `key-${n % KEYS}`, priority: priorityOf(n), data: { n } })),
  );
}

interface EffectCounts {
  rows: number;
  distinct: number;
}

async function effectCounts(database: Database): Promise<EffectCounts> {
  const [row] = await database.rows<{ rows: string; distinct: string }>(sql`select count(*) as rows, count(distinct event_id) as distinct from crash_effects`);
  return { rows: Number(row?.rows ?? 0), distinct: Number(row?.distinct ?? 0) };
}

async function rowsOf(database: Database): Promise<number> {
  const [row] = await database.rows<{ rows: string }>(sql`select count(*) as rows from crash_effects`);
  return Number(row?.rows ?? 0);
}

describe("crash recovery: a worker SIGKILLed in the middle of 100,000 messages, then a new one", () => {
  for (const kind of Object.keys(brokers) as Kind[]) {
    it(
      `${kind}: zero messages lost, zero duplicated effects`,
      async () => {
        const id = randomBytes(4).toString("hex");
        const topic = `crash-${id}`;
        const group = `crash-${id}-g`;
        const effectsDb = await createTestDatabase("eventloom_crash");
        const workers: Worker[] = [];
        let setup: BrokerSetup | undefined;
        let database: Database | undefined;
        try {
          database = await openDatabase({ databaseUrl: effectsDb.url, poolSize: 2 });
          await migrate(database);
          await database.rows(sql`create table crash_effects (event_id text not null, worker_pid integer not null, attempt integer not null, applied_at timestamptz not null default now())`);
          await database.rows(sql`create table crash_published (event_id text not null)`);
          setup = await brokers[kind]({ id, topic, group }, effectsDb);
          const { driver } = setup;
          await driver.connect();
          await driver.ensureGroup(topic, group);

          const started = Date.now();
          const sent = messages();
          for (let at = 0; at < sent.length; at += PUBLISH_BATCH) await driver.publish(topic, sent.slice(at, at + PUBLISH_BATCH));
          const publishedMs = Date.now() - started;
          const ids = sent.map((message) => message.id);
          for (let at = 0; at < ids.length; at += 20_000) {
            await database.rows(sql`insert into crash_published (event_id) select jsonb_array_elements_text(${JSON.stringify(ids.slice(at, at + 20_000))}::text::jsonb)`);
          }

          const settings: CrashWorkerSettings = {
            transport: setup.transport,
            topic,
            group,
            effectsDatabaseUrl: effectsDb.url,
            concurrency: CONCURRENCY,
            progressEveryMs: 100,
            maxLifetimeMs: FINISH_WITHIN_MS + 5 * 60_000,
          };

          // Worker A, killed mid-run.
          const a = new Worker("A", settings);
          workers.push(a);
          await a.whenReady();
          const aStarted = Date.now();
          const killAt = Math.floor(MESSAGES * (KILL_BETWEEN[0] + Math.random() * (KILL_BETWEEN[1] - KILL_BETWEEN[0])));
          for (;;) {
            // Past the kill point, and at a moment A holds deliveries (its last report, at most
            // 100 ms old, says so): something for the broker to give back.
            if ((await rowsOf(database)) >= killAt && (a.last?.inFlight ?? 0) > 0) break;
            if (a.child.exitCode !== null) throw new Error(`worker A exited early:\n${a.stderr.join("\n")}`);
            if (Date.now() - aStarted > FINISH_WITHIN_MS) throw new Error(`worker A applied fewer than ${killAt} effects in ${FINISH_WITHIN_MS} ms: ${JSON.stringify(a.last)}`);
            await sleep(50);
          }
          process.kill(a.pid, "SIGKILL");
          const killedAt = Date.now();
          expect((await a.exited).signal).toBe("SIGKILL");
          const [byA] = await database.rows<{ rows: string }>(sql`select count(*) as rows from crash_effects where worker_pid = ${a.pid}`);
          const appliedByA = Number(byA?.rows ?? 0);
          expect(appliedByA).toBeGreaterThanOrEqual(MESSAGES * 0.2);
          expect(appliedByA).toBeLessThanOrEqual(MESSAGES * 0.6);

          // Worker B, which must get A's unsettled deliveries back and finish.
          const b = new Worker("B", settings);
          workers.push(b);
          await b.whenReady();
          const bStarted = Date.now();
          let figures = await driver.figures(topic, group);
          let counts = await effectCounts(database);
          let lastChange = { at: Date.now(), rows: counts.rows, depth: figures.depth };
          while (!(counts.rows >= MESSAGES && figures.depth === 0)) {
            if (b.child.exitCode !== null) throw new Error(`worker B exited early:\n${b.stderr.join("\n")}`);
            const stalled = Date.now() - lastChange.at > STALLED_AFTER_MS;
            if (stalled || Date.now() - bStarted > FINISH_WITHIN_MS) {
              throw new Error(
                `${kind}: ${stalled ? `nothing moved for ${STALLED_AFTER_MS} ms` : `not done within ${FINISH_WITHIN_MS} ms`}: ` +
                  `${counts.rows} effects (${counts.distinct} distinct), figures ${JSON.stringify(figures)}, B ${JSON.stringify(b.last)}\n${b.stderr.join("\n")}`,
              );
            }
            await sleep(250);
            [counts, figures] = await Promise.all([effectCounts(database), driver.figures(topic, group)]);
            if (counts.rows !== lastChange.rows || figures.depth !== lastChange.depth) lastChange = { at: Date.now(), rows: counts.rows, depth: figures.depth };
          }
          const finishedMs = Date.now() - started;
          // Let anything late (a redelivery still on its way) show up before counting for good.
          await sleep(1_000);
          await b.stop();
          const reportOfB = b.stopped ?? b.last;

          const final = await effectCounts(database);
          const [missing] = await database.rows<{ rows: string }>(
            sql`select count(*) as rows from crash_published p where not exists (select 1 from crash_effects e where e.event_id = p.event_id)`,
          );
          const [inbox] = await database.rows<{ rows: string }>(sql`select count(*) as rows from eventloom_inbox where subscription = ${group}`);
          const [deadLetters] = await database.rows<{ rows: string }>(sql`select count(*) as rows from eventloom_dead_letters`);
          const [retriedByB] = await database.rows<{ rows: string }>(
            sql`select count(*) as rows from crash_effects where worker_pid = ${b.pid} and attempt > 1`,
          );

          console.log(
            `[crash ${kind}] published ${MESSAGES} in ${seconds(publishedMs)} s; A applied ${appliedByA} in ${seconds(killedAt - aStarted)} s, then SIGKILL; ` +
              `B applied ${reportOfB?.applied} (${retriedByB?.rows} of them on a redelivery), duplicates suppressed by the inbox ${reportOfB?.duplicates}, ` +
              `deliveries with attempt > 1 ${reportOfB?.redelivered} (max attempt ${reportOfB?.maxAttempt}); ` +
              `the first of A's deliveries reached B ${reportOfB?.firstRedeliveryAt ? seconds(reportOfB.firstRedeliveryAt - killedAt) : "-"} s after the kill ` +
              `(B ready ${seconds(bStarted - killedAt)} s after it); B ran ${seconds(Date.now() - bStarted)} s; ` +
              `effects ${final.rows} rows, ${final.distinct} distinct; ${seconds(finishedMs)} s from first publish to last effect`,
          );

          expect(final).toEqual({ rows: MESSAGES, distinct: MESSAGES });
          expect(Number(missing?.rows)).toBe(0);
          expect(Number(inbox?.rows)).toBe(MESSAGES);
          expect(Number(deadLetters?.rows)).toBe(0);
          expect(appliedByA + (reportOfB?.applied ?? 0)).toBe(MESSAGES);
          // B really got back what A had in flight: deliveries the inbox suppressed (A applied them,
          // never acked), or redelivered ones (attempt > 1) it applied itself.
          expect((reportOfB?.duplicates ?? 0) + (reportOfB?.redelivered ?? 0)).toBeGreaterThan(0);
          expect(await driver.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 });
        } finally {
          for (const worker of workers) await worker.stop().catch(() => undefined);
          await setup?.driver.close().catch(() => undefined);
          await setup?.cleanup().catch((error: unknown) => console.warn(`[crash ${kind}] cleanup failed`, error));
          await database?.close().catch(() => undefined);
          await effectsDb.drop();
        }
      },
      12 * 60_000,
    );
  }
});
