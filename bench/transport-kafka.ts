import { randomBytes } from "node:crypto";
import kafkajs from "kafkajs";
import { createKafkaDriver } from "@/server/adapters/kafka";
import { toKafkaMessage } from "@/server/adapters/kafka/wire";
import { buildEnvelope, type EventEnvelope } from "@/server/engine/core/envelope";
import { toWireMessage } from "@/server/engine/transport/codec";
import { InMemoryDeadLetterStore } from "@/server/engine/transport/memory-driver";
import { publishEvents, startSubscriber, type DeliveredEvent } from "@/server/engine/transport/subscriber";
import { formatRate, formatRatio, type BenchRow } from "./table";

const { Kafka, Partitioners, logLevel } = kafkajs;

/**
 * The Kafka transport (driver + the engine's Subscriber) against kafkajs used directly for the same
 * job: an idempotent producer (acks = all) sending each batch with `sendBatch`, the same records
 * (key, headers, body), to a topic with the same partition count; and a consumer group reading it
 * with `eachBatch` and kafkajs's auto-commit, decoding each body.
 *
 * - Throughput: N messages of ~300 bytes, publish-to-ack: from the first publish until the last
 *   message is acked (publishing and consuming overlap). Best of alternating rounds.
 * - Latency: a fixed rate for a few seconds, from just before the publish call to the handler (for
 *   kafkajs: to eachBatch); p50 / p95 / p99. The ratio column is baseline / ours for these rows, so
 *   above 1 is still "better than the baseline".
 *
 * Every wait is bounded; topics and groups are named `elbench<random>...` and deleted at the end.
 * `BENCH_KAFKA_BROKERS` (default: the local broker of scripts/services.sh).
 */

const BROKERS = (process.env.BENCH_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const PREFIX = `elbench${randomBytes(4).toString("hex")}`;
const PARTITIONS = 6;
const MESSAGES = 50_000;
const WARMUP = 5_000;
const ROUNDS = 2;
const BATCH = 500;
const CONCURRENCY = 64;
const PREFETCH = 1_024;
const RATE = 5_000;
const RATE_SECONDS = 5;
const TICK_MS = 10;
const WAIT_LIMIT_MS = 90_000;

/** ~300 bytes of JSON body, with a slot for the send time (latency runs). */
function sampleEvent(n: number, sentAt = 0): EventEnvelope {
  return buildEnvelope({
    type: "exam.answer.recorded",
    subject: `exam-${n % 97}`,
    partitionkey: `exam-${n % 97}`,
    data: { examId: `exam-${n % 97}`, sheetId: `sheet-${n}`, question: n % 40, answer: "B", score: (n % 10) / 2, sentAt, comment: "x".repeat(170) },
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`bench: ${what} did not happen within ${WAIT_LIMIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Publishes `total` events at `RATE`/s in ticks, through `publish`; returns when all are out. */
async function paced(total: number, publish: (events: EventEnvelope[]) => Promise<void>): Promise<void> {
  const perTick = (RATE * TICK_MS) / 1000;
  const start = performance.now();
  for (let tick = 0, sent = 0; sent < total; tick += 1) {
    const wait = start + tick * TICK_MS - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const events = Array.from({ length: Math.min(perTick, total - sent) }, (_, i) => sampleEvent(sent + i, performance.now()));
    sent += events.length;
    await publish(events);
  }
}

interface Side {
  /** Publishes events in one batch, resolved once acknowledged by the broker. */
  publish(events: EventEnvelope[]): Promise<void>;
  /** Messages handled so far, and the latencies recorded while `timing` is on. */
  handled(): number;
  latencies: number[];
  timing: boolean;
  close(): Promise<void>;
}

async function throughput(side: Side, total: number): Promise<number> {
  const events = Array.from({ length: total }, (_, n) => sampleEvent(n));
  const before = side.handled();
  const start = performance.now();
  for (let offset = 0; offset < total; offset += BATCH) await side.publish(events.slice(offset, offset + BATCH));
  await until(() => side.handled() - before >= total, `consuming ${total} messages`);
  return (total / (performance.now() - start)) * 1000;
}

async function latency(side: Side): Promise<number[]> {
  const total = RATE * RATE_SECONDS;
  const before = side.handled();
  side.latencies = [];
  side.timing = true;
  await paced(total, (events) => side.publish(events));
  await until(() => side.handled() - before >= total, `consuming the paced ${total} messages`);
  side.timing = false;
  return [...side.latencies].sort((a, b) => a - b);
}

async function oursSide(topic: string, group: string): Promise<Side> {
  const driver = createKafkaDriver({ brokers: BROKERS, prefix: PREFIX, partitions: PARTITIONS, replicationFactor: 1, log: (level, message) => console.warn(`[bench] ${level}: ${message}`) });
  await driver.connect();
  const side: Side = {
    publish: (events) => publishEvents(driver, topic, events),
    handled: () => subscriber.stats().processed,
    latencies: [],
    timing: false,
    close: async () => {
      await subscriber.stop({ timeoutMs: 5_000 });
      await driver.close();
    },
  };
  const subscriber = await startSubscriber(driver, {
    topic,
    subscription: group,
    concurrency: CONCURRENCY,
    prefetch: PREFETCH,
    deadLetters: new InMemoryDeadLetterStore(),
    handler: async (event: DeliveredEvent) => {
      if (side.timing) side.latencies.push(performance.now() - (event.data as { sentAt: number }).sentAt);
    },
  });
  return side;
}

async function rawSide(topic: string): Promise<Side> {
  const kafka = new Kafka({ clientId: `${PREFIX}-raw`, brokers: BROKERS, logLevel: logLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: `${topic}:raw`, maxWaitTimeInMs: 100 });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let handled = 0;
  const side: Side = {
    publish: async (events) => {
      // The same records the driver sends (key, ce_* headers, body), built per message.
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: events.map((event) => toKafkaMessage(toWireMessage(event))) }] });
    },
    handled: () => handled,
    latencies: [],
    timing: false,
    close: async () => {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const record of batch.messages) {
        // Any real consumer decodes the body; the Subscriber's no-op handler gets it decoded too.
        const data = JSON.parse(record.value?.toString("utf8") ?? "{}") as { sentAt: number };
        if (side.timing) side.latencies.push(performance.now() - data.sentAt);
        handled += 1;
      }
    },
  });
  return side;
}

async function cleanUp(): Promise<void> {
  const admin = new Kafka({ clientId: `${PREFIX}-cleanup`, brokers: BROKERS, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(PREFIX));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map(({ groupId }) => groupId).filter((groupId) => groupId.startsWith(PREFIX));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

export async function benchKafkaTransport(): Promise<BenchRow[]> {
  const raw = await rawSide(`${PREFIX}.raw`);
  const ours = await oursSide("ours", "bench");
  try {
    await throughput(raw, WARMUP);
    await throughput(ours, WARMUP);
    // Alternating rounds, best of each: the broker and this machine are shared, so one slow
    // moment should not decide the ratio.
    let rawRate = 0;
    let oursRate = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      rawRate = Math.max(rawRate, await throughput(raw, MESSAGES));
      oursRate = Math.max(oursRate, await throughput(ours, MESSAGES));
    }
    const rawLatency = await latency(raw);
    const oursLatency = await latency(ours);

    const rows: BenchRow[] = [
      {
        name: `publish + consume, publish-to-ack, N=${MESSAGES.toLocaleString("en-US")} of ~300 B, batches of ${BATCH}, ${PARTITIONS} partitions, prefetch ${PREFETCH}`,
        ours: formatRate(oursRate, "msg"),
        baseline: formatRate(rawRate, "msg"),
        baselineName: "kafkajs: idempotent sendBatch (acks=all) + eachBatch consume, auto-commit (JSON.parse of the body)",
        ratio: formatRatio(oursRate, rawRate),
      },
    ];
    for (const p of [50, 95, 99]) {
      const oursMs = percentile(oursLatency, p);
      const rawMs = percentile(rawLatency, p);
      rows.push({
        name: `latency p${p}, publish to handler, ${RATE.toLocaleString("en-US")} msg/s for ${RATE_SECONDS} s (ratio: baseline/ours)`,
        ours: `${oursMs.toFixed(1)} ms`,
        baseline: `${rawMs.toFixed(1)} ms`,
        baselineName: "kafkajs, same pacing",
        ratio: formatRatio(rawMs, oursMs),
      });
    }
    return rows;
  } finally {
    await Promise.allSettled([ours.close(), raw.close()]);
    await cleanUp();
  }
}
