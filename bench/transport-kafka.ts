import { randomBytes } from "node:crypto";
import kafkajs from "kafkajs";
import { createKafkaDriver } from "@/server/adapters/kafka";
import { deleteKafkaObjects } from "@/server/adapters/kafka/test-cleanup";
import { toKafkaMessage } from "@/server/adapters/kafka/wire";
import { toWireMessage } from "@/server/engine/transport/codec";
import type { BenchRow } from "./table";
import { compareTransports, subscriberSide, Tally, type Side } from "./transport-harness";

const { Kafka, Partitioners, logLevel } = kafkajs;

/**
 * The Kafka transport (driver + the engine's Subscriber) against kafkajs used directly for the same
 * job: an idempotent producer (acks = all) sending each batch with `sendBatch`, the same records
 * (key, headers, body), to a topic with the same partition count; and a consumer group reading it
 * with `eachBatch` and kafkajs's auto-commit, decoding each body. Both sides stay open for every
 * run, after a warm-up; what is measured and how: transport-harness.ts (for kafkajs the handler
 * is eachBatch).
 *
 * Topics and groups are named `elbench<random>...` and deleted at the end.
 * `BENCH_KAFKA_BROKERS` (default: the local broker of scripts/services.sh).
 */

const BROKERS = (process.env.BENCH_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const PREFIX = `elbench${randomBytes(4).toString("hex")}`;
const PARTITIONS = 6;
const MESSAGES = 50_000;
const BATCH = 500;
const CONCURRENCY = 64;
const PREFETCH = 1_024;
const RATE = 5_000;
const RATE_SECONDS = 5;

async function oursSide(topic: string, group: string): Promise<Side> {
  const driver = createKafkaDriver({ brokers: BROKERS, prefix: PREFIX, partitions: PARTITIONS, replicationFactor: 1, log: (level, message) => console.warn(`[bench] ${level}: ${message}`) });
  await driver.connect();
  return subscriberSide(driver, { topic, subscription: group, concurrency: CONCURRENCY, prefetch: PREFETCH });
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
  const tally = new Tally();
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const record of batch.messages) {
        // Any real consumer decodes the body; the Subscriber's no-op handler gets it decoded too.
        JSON.parse(record.value?.toString("utf8") ?? "{}");
        tally.handled(record.headers?.ce_id?.toString() ?? "");
      }
    },
  });
  return {
    publish: async (events) => {
      // The same records the driver sends (key, ce_* headers, body), built per message.
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: events.map((event) => toKafkaMessage(toWireMessage(event))) }] });
    },
    tally,
    close: async () => {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}

export async function benchKafkaTransport(): Promise<BenchRow[]> {
  try {
    return await compareTransports({
      sample: { keys: 97 },
      sides: "shared",
      raw: () => rawSide(`${PREFIX}.raw`),
      ours: [
        {
          open: () => oursSide("ours", "bench"),
          throughputName: `publish + consume, publish-to-ack, N=${MESSAGES.toLocaleString("en-US")} of ~300 B, batches of ${BATCH}, ${PARTITIONS} partitions, prefetch ${PREFETCH}`,
        },
      ],
      warmup: 5_000,
      messages: MESSAGES,
      batch: BATCH,
      rounds: 2,
      rate: RATE,
      rateSeconds: RATE_SECONDS,
      baselineName: "kafkajs: idempotent sendBatch (acks=all) + eachBatch consume, auto-commit (JSON.parse of the body)",
      latencyName: (p) => `latency p${p}, publish to handler, ${RATE.toLocaleString("en-US")} msg/s for ${RATE_SECONDS} s (ratio: baseline/ours)`,
      latencyBaselineName: "kafkajs, same pacing",
    });
  } finally {
    await deleteKafkaObjects(BROKERS, PREFIX);
  }
}
