import postgres from "postgres";
import { migrate, openDatabase } from "@/server/adapters/postgres/database";
import { createPostgresDriver } from "@/server/adapters/postgres/index";
import { createTestDatabase } from "@/server/adapters/postgres/test-database";
import { toWireMessage } from "@/server/engine/transport/codec";
import type { BenchRow } from "./table";
import { compareTransports, subscriberSide, Tally, type Side } from "./transport-harness";

/**
 * The Postgres transport against a plain postgres.js work queue on the same server and the same
 * rows (key, priority, the `ce_*` headers as jsonb, body): multi-row INSERTs in batches, and a
 * consumer on its own connection looping on `DELETE ... WHERE id IN (SELECT ... ORDER BY id FOR
 * UPDATE SKIP LOCKED LIMIT 1,000) RETURNING` (polling every millisecond when empty). The baseline
 * has one consumer and no groups, priorities, key affinity, retries, crash recovery or wake-ups:
 * it is the floor of what a queue in Postgres costs. Ours runs through the engine's Subscriber
 * (decode, per-key lanes, ack) with a no-op handler, publish to ack. Each run opens its sides
 * afresh, on a table / topic of its own; what is measured and how: transport-harness.ts. Runs on
 * a fresh database, dropped afterwards (`TEST_DATABASE_URL`, default the local server, names the
 * admin connection).
 */

const THROUGHPUT_MESSAGES = 50_000;
const THROUGHPUT_ROUNDS = 3;
const PUBLISH_BATCH = 500;
const PREFETCH = 1_000;
const LATENCY_RATE = 5_000;
const LATENCY_SECONDS = 5;

const level = { high: 0, normal: 1, low: 2 } as const;

async function rawSide(url: string, run: string): Promise<Side> {
  const table = `bench_raw_${run.replace(/\W/g, "_")}`;
  const producer = postgres(url, { max: 1, onnotice: () => {} });
  const consumer = postgres(url, { max: 1, onnotice: () => {} });
  await producer.unsafe(`create table ${table} (id bigserial primary key, message_id text not null, key text not null,
                         priority smallint not null, headers jsonb not null, body text not null)`);
  const tally = new Tally();
  let running = true;
  const loop = (async () => {
    while (running) {
      const rows = await consumer.unsafe<Array<{ message_id: string }>>(
        `delete from ${table} where id in (select id from ${table} order by id for update skip locked limit ${PREFETCH})
         returning message_id, key, priority, headers, body`,
      );
      for (const row of rows) tally.handled(row.message_id);
      if (rows.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
  })();
  return {
    async publish(events) {
      const rows = events.map((event) => {
        const message = toWireMessage(event);
        return { message_id: message.id, key: message.key, priority: level[message.priority], headers: message.headers, body: message.body };
      });
      await producer`insert into ${producer(table)} ${producer(rows)}`;
    },
    tally,
    async close() {
      running = false;
      await loop;
      await producer.unsafe(`drop table ${table}`);
      await Promise.all([producer.end(), consumer.end()]);
    },
  };
}

async function oursSide(url: string, run: string): Promise<Side> {
  const driver = createPostgresDriver({ databaseUrl: url });
  await driver.connect();
  return subscriberSide(driver, { topic: `bench-${run}`, subscription: "bench", concurrency: 64, prefetch: PREFETCH });
}

export async function benchPostgresTransport(): Promise<BenchRow[]> {
  const testDb = await createTestDatabase("eventloom_bench_transport");
  try {
    const database = await openDatabase({ databaseUrl: testDb.url });
    try {
      await migrate(database);
    } finally {
      await database.close();
    }
    return await compareTransports({
      sample: { keys: 100, highPriorityEvery: 10 },
      sides: "per-run",
      raw: (run) => rawSide(testDb.url, run),
      ours: [
        {
          open: (run) => oursSide(testDb.url, run),
          throughputName: `publish -> ack, batches of ${PUBLISH_BATCH} (N=${THROUGHPUT_MESSAGES.toLocaleString("en-US")}, best of ${THROUGHPUT_ROUNDS})`,
        },
      ],
      messages: THROUGHPUT_MESSAGES,
      batch: PUBLISH_BATCH,
      rounds: THROUGHPUT_ROUNDS,
      rate: LATENCY_RATE,
      rateSeconds: LATENCY_SECONDS,
      baselineName: "INSERT + DELETE ... SKIP LOCKED RETURNING (postgres.js)",
      latencyName: (p) => `latency p${p} at ${LATENCY_RATE.toLocaleString("en-US")} msg/s for ${LATENCY_SECONDS} s (ratio: baseline/ours)`,
      latencyBaselineName: "the same, consumer polling every 1 ms",
    });
  } finally {
    await testDb.drop();
  }
}
