import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { createRedisDriver } from "@/server/adapters/redis";
import { deleteRedisKeys } from "@/server/adapters/redis/test-cleanup";
import { toWireMessage } from "@/server/engine/transport/codec";
import type { WireMessage } from "@/server/engine/transport/driver";
import type { BenchRow } from "./table";
import { compareTransports, subscriberSide, Tally, type Side } from "./transport-harness";

/**
 * The Redis Streams transport against plain ioredis on the same server and the same entries
 * (the `ce_*` fields, id, key, body): pipelined XADD in batches, and a consumer looping on
 * XREADGROUP BLOCK (COUNT 1,000) on its own connection, acking each batch with one XACK it does
 * not wait for. The baseline has one stream, no priorities, retries, reclaiming or renewals: it is
 * the floor of what a consumer group costs. Ours runs through the engine's Subscriber (decode,
 * per-key lanes, ack) with a no-op handler, publish to ack. Each run opens its sides afresh, on a
 * stream / topic of its own; what is measured and how: transport-harness.ts. Keys live under a
 * random prefix, deleted after each throughput round and at the end (`TEST_REDIS_URL`, default the
 * local server).
 */

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const THROUGHPUT_MESSAGES = 50_000;
const THROUGHPUT_ROUNDS = 3;
const PUBLISH_BATCH = 500;
const RAW_READ_COUNT = 1_000;
const LATENCY_RATE = 10_000;
const LATENCY_SECONDS = 5;

/** The fields our driver writes, without going through it. */
function entryFields(message: WireMessage): string[] {
  return [...Object.entries(message.headers).flat(), "id", message.id, "key", message.key, "body", message.body];
}

async function rawSide(prefix: string, name: string): Promise<Side> {
  const stream = `${prefix}:raw:${name}`;
  const commands = new Redis(REDIS_URL);
  const blocking = new Redis(REDIS_URL);
  const tally = new Tally();
  let running = true;
  await commands.xgroup("CREATE", stream, "bench", "$", "MKSTREAM");
  const loop = (async () => {
    while (running) {
      const reply = (await blocking.xreadgroup("GROUP", "bench", "raw", "COUNT", RAW_READ_COUNT, "BLOCK", 100, "STREAMS", stream, ">")) as
        | Array<[string, Array<[string, string[]]>]>
        | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) continue;
      void commands.xack(stream, "bench", ...entries.map(([entryId]) => entryId));
      for (const [, fields] of entries) tally.handled(fields[fields.indexOf("id") + 1] as string);
    }
  })();
  return {
    async publish(events) {
      const pipeline = commands.pipeline();
      for (const event of events) pipeline.xadd(stream, "*", ...entryFields(toWireMessage(event)));
      await pipeline.exec();
    },
    tally,
    async close() {
      running = false;
      await loop;
      await Promise.all([commands.quit(), blocking.quit()]);
    },
  };
}

async function oursSide(prefix: string, topic: string): Promise<Side> {
  const driver = createRedisDriver({ url: REDIS_URL, keyPrefix: prefix });
  await driver.connect();
  return subscriberSide(driver, { topic, subscription: "bench", concurrency: 64, prefetch: 1_000 });
}

export async function benchRedisTransport(): Promise<BenchRow[]> {
  const prefix = `elbench-${randomBytes(4).toString("hex")}`;
  try {
    return await compareTransports({
      sample: { keys: 100, highPriorityEvery: 10 },
      sides: "per-run",
      raw: (run) => rawSide(prefix, run),
      ours: [
        {
          open: (run) => oursSide(prefix, run),
          throughputName: `publish -> ack, batches of ${PUBLISH_BATCH} (N=${THROUGHPUT_MESSAGES.toLocaleString("en-US")}, best of ${THROUGHPUT_ROUNDS})`,
        },
      ],
      messages: THROUGHPUT_MESSAGES,
      batch: PUBLISH_BATCH,
      rounds: THROUGHPUT_ROUNDS,
      // A round leaves its 100,000 entries behind; keep Redis' memory as it was for the next.
      afterRound: () => deleteRedisKeys(REDIS_URL, prefix),
      rate: LATENCY_RATE,
      rateSeconds: LATENCY_SECONDS,
      baselineName: "pipelined XADD + XREADGROUP/XACK (ioredis)",
      latencyName: (p) => `latency p${p} at ${LATENCY_RATE.toLocaleString("en-US")} msg/s for ${LATENCY_SECONDS} s (ratio: baseline/ours)`,
      latencyBaselineName: "the same, XREADGROUP BLOCK",
    });
  } finally {
    await deleteRedisKeys(REDIS_URL, prefix);
  }
}
