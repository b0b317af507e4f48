import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { createRedisDriver } from "@/server/adapters/redis";
import { buildEnvelope } from "@/server/engine/core/envelope";
import { toWireMessage } from "@/server/engine/transport/codec";
import type { WireMessage } from "@/server/engine/transport/driver";
import { InMemoryDeadLetterStore } from "@/server/engine/transport/memory-driver";
import { startSubscriber } from "@/server/engine/transport/subscriber";
import { formatRate, formatRatio, type BenchRow } from "./table";

/**
 * The Redis Streams transport against plain ioredis on the same server and the same entries
 * (the `ce_*` fields, id, key, body): pipelined XADD in batches, and a consumer looping on
 * XREADGROUP BLOCK (COUNT 1,000) on its own connection, acking each batch with one XACK it does
 * not wait for. The baseline has one stream, no priorities, retries, reclaiming or renewals: it is
 * the floor of what a consumer group costs. Ours runs through the engine's Subscriber (decode,
 * per-key lanes, ack) with a no-op handler, publish to ack. Throughput is the best of a few
 * rounds, raw and ours taking turns, so that a burst of load from elsewhere on the machine does
 * not decide the ratio. Keys live under a random prefix, deleted afterwards (`TEST_REDIS_URL`,
 * default the local server).
 */

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const THROUGHPUT_MESSAGES = 50_000;
const THROUGHPUT_ROUNDS = 3;
const PUBLISH_BATCH = 500;
const RAW_READ_COUNT = 1_000;
const LATENCY_RATE = 10_000;
const LATENCY_SECONDS = 5;
const TICK_MS = 10;
/** Whatever happens, a phase gives up after this. */
const PHASE_LIMIT_MS = 120_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** ~300 bytes of data, 100 keys, one in ten high priority: the shape of the demo's exam events. */
function sampleMessages(count: number, offset = 0): WireMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const n = offset + i;
    return toWireMessage(
      buildEnvelope({
        type: "exam.answer.recorded",
        subject: `exam-${n % 100}`,
        partitionkey: `exam-${n % 100}`,
        priority: n % 10 === 0 ? "high" : "normal",
        data: { examId: `exam-${n % 100}`, sheetId: `sheet-${n}`, question: n % 40, answer: "B", comment: "x".repeat(200) },
      }),
    );
  });
}

function withinLimit<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench: ${what} took longer than ${PHASE_LIMIT_MS} ms`)), PHASE_LIMIT_MS);
  });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

/** A promise resolved once `count()` reaches `target`; call `check()` whenever it may have. */
function whenCounted(count: () => number, target: number): { promise: Promise<void>; check(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, check: () => (count() >= target ? resolve() : undefined) };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** The fields our driver writes, without going through it. */
function entryFields(message: WireMessage): string[] {
  return [...Object.entries(message.headers).flat(), "id", message.id, "key", message.key, "body", message.body];
}

interface Transport {
  publish(batch: WireMessage[]): Promise<unknown>;
  /** Starts consuming; `onMessage` gets each message id once it is handled. */
  consume(onMessage: (id: string) => void): Promise<void>;
  close(): Promise<void>;
}

function rawTransport(prefix: string, name: string): Transport {
  const stream = `${prefix}:raw:${name}`;
  const commands = new Redis(REDIS_URL);
  const blocking = new Redis(REDIS_URL);
  let running = true;
  let loop: Promise<void> = Promise.resolve();
  return {
    async publish(batch) {
      const pipeline = commands.pipeline();
      for (const message of batch) pipeline.xadd(stream, "*", ...entryFields(message));
      await pipeline.exec();
    },
    async consume(onMessage) {
      await commands.xgroup("CREATE", stream, "bench", "$", "MKSTREAM");
      loop = (async () => {
        while (running) {
          const reply = (await blocking.xreadgroup("GROUP", "bench", "raw", "COUNT", RAW_READ_COUNT, "BLOCK", 100, "STREAMS", stream, ">")) as
            | Array<[string, Array<[string, string[]]>]>
            | null;
          const entries = reply?.[0]?.[1] ?? [];
          if (entries.length === 0) continue;
          void commands.xack(stream, "bench", ...entries.map(([entryId]) => entryId));
          for (const [, fields] of entries) onMessage(fields[fields.indexOf("id") + 1] as string);
        }
      })();
    },
    async close() {
      running = false;
      await loop;
      await Promise.all([commands.quit(), blocking.quit()]);
    },
  };
}

function ourTransport(prefix: string, topic: string): Transport {
  const driver = createRedisDriver({ url: REDIS_URL, keyPrefix: prefix });
  let stopSubscriber: () => Promise<void> = async () => undefined;
  return {
    publish: (batch) => driver.publish(topic, batch),
    async consume(onMessage) {
      await driver.connect();
      const subscriber = await startSubscriber(driver, {
        topic,
        subscription: "bench",
        concurrency: 64,
        prefetch: 1_000,
        deadLetters: new InMemoryDeadLetterStore(),
        handler: async (event) => onMessage(event.id),
      });
      stopSubscriber = () => subscriber.stop({ timeoutMs: 10_000 });
    },
    async close() {
      await stopSubscriber();
      await driver.close();
    },
  };
}

/** Publishes everything in batches while consuming; messages per second from first publish to last handled. */
async function throughput(transport: Transport, messages: WireMessage[]): Promise<number> {
  let handled = 0;
  const done = whenCounted(() => handled, messages.length);
  await transport.consume(() => {
    handled += 1;
    done.check();
  });
  try {
    const start = performance.now();
    const publishing = (async () => {
      for (let at = 0; at < messages.length; at += PUBLISH_BATCH) await transport.publish(messages.slice(at, at + PUBLISH_BATCH));
    })();
    await withinLimit(Promise.all([publishing, done.promise]), "throughput");
    return (messages.length / (performance.now() - start)) * 1000;
  } finally {
    await transport.close();
  }
}

/**
 * Publishes `LATENCY_RATE` messages a second for `LATENCY_SECONDS` in ticks of `TICK_MS`; returns
 * the sorted publish-to-handler times (ms).
 */
async function latency(transport: Transport): Promise<number[]> {
  const total = LATENCY_RATE * LATENCY_SECONDS;
  const messages = sampleMessages(total, 1_000_000);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  await transport.consume((id) => {
    const at = sentAt.get(id);
    if (at !== undefined) latencies.push(performance.now() - at);
  });
  try {
    const start = performance.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * LATENCY_RATE) + 1);
      if (due > sent) {
        const batch = messages.slice(sent, due);
        const at = performance.now();
        for (const message of batch) sentAt.set(message.id, at);
        sent = due;
        await transport.publish(batch);
      }
      await sleep(TICK_MS);
    }
    await withinLimit(
      (async () => {
        while (latencies.length < total) await sleep(5);
      })(),
      "latency drain",
    );
    return latencies.sort((a, b) => a - b);
  } finally {
    await transport.close();
  }
}

async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    await redis.quit();
  }
}

export async function benchRedisTransport(): Promise<BenchRow[]> {
  const prefix = `elbench-${randomBytes(4).toString("hex")}`;
  try {
    const messages = sampleMessages(THROUGHPUT_MESSAGES);
    let baseline = 0;
    let ours = 0;
    for (let round = 0; round < THROUGHPUT_ROUNDS; round += 1) {
      baseline = Math.max(baseline, await throughput(rawTransport(prefix, `throughput-${round}`), messages));
      ours = Math.max(ours, await throughput(ourTransport(prefix, `throughput-${round}`), messages));
      // A round leaves its 100,000 entries behind; keep Redis' memory as it was for the next.
      await deleteKeys(prefix);
    }
    const rows: BenchRow[] = [
      {
        name: `publish -> ack, batches of ${PUBLISH_BATCH} (N=${THROUGHPUT_MESSAGES.toLocaleString("en-US")}, best of ${THROUGHPUT_ROUNDS})`,
        ours: formatRate(ours, "msg"),
        baseline: formatRate(baseline, "msg"),
        baselineName: "pipelined XADD + XREADGROUP/XACK (ioredis)",
        ratio: formatRatio(ours, baseline),
      },
    ];
    const rawTimes = await latency(rawTransport(prefix, "latency"));
    const ourTimes = await latency(ourTransport(prefix, "latency"));
    for (const p of [50, 95, 99]) {
      const mine = percentile(ourTimes, p);
      const theirs = percentile(rawTimes, p);
      rows.push({
        name: `latency p${p} at ${LATENCY_RATE.toLocaleString("en-US")} msg/s for ${LATENCY_SECONDS} s (ratio: baseline/ours)`,
        ours: `${mine.toFixed(1)} ms`,
        baseline: `${theirs.toFixed(1)} ms`,
        baselineName: "the same, XREADGROUP BLOCK",
        ratio: formatRatio(theirs, mine),
      });
    }
    return rows;
  } finally {
    await deleteKeys(prefix);
  }
}
