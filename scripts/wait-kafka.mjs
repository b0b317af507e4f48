// Waits (bounded) until a Kafka broker answers a real metadata request: kafkajs admin.describeCluster().
// Used by scripts/services.sh.
//
//   node scripts/wait-kafka.mjs [--brokers 127.0.0.1:9092] [--timeout 120] [--quiet] [--smoke]
//
// --smoke additionally creates a throw-away topic, produces to it and consumes the messages back
// through a consumer group, then deletes the topic.
// Exit code 0 when the broker answered (and the smoke test passed), 1 otherwise.
import console from "node:console";
import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import kafkajs from "kafkajs";

const { Kafka, logLevel } = kafkajs;

const { values: opts } = parseArgs({
  options: {
    brokers: { type: "string", default: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092" },
    timeout: { type: "string", default: "120" },
    quiet: { type: "boolean", default: false },
    smoke: { type: "boolean", default: false },
  },
});

const brokers = opts.brokers.split(",").map((b) => b.trim()).filter(Boolean);
const timeoutMs = Math.max(1, Number(opts.timeout) || 120) * 1000;
const deadline = Date.now() + timeoutMs;
const say = (msg) => { if (!opts.quiet) console.log(`[wait-kafka] ${msg}`); };

function client(id) {
  return new Kafka({
    clientId: id,
    brokers,
    connectionTimeout: 2_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function describeOnce() {
  const admin = client("eventloom-wait-kafka").admin({ retry: { retries: 0 } });
  try {
    await withTimeout(admin.connect(), 5_000, "connect");
    return await withTimeout(admin.describeCluster(), 6_000, "describeCluster");
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function smoke() {
  const kafka = new Kafka({ clientId: "eventloom-smoke", brokers, logLevel: logLevel.NOTHING });
  const topic = `eventloom-smoke-${Date.now()}`;
  const admin = kafka.admin();
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `${topic}-group` });
  const sent = ["one", "two", "three"];
  try {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    say(`smoke: created topic ${topic}`);
    await producer.connect();
    await producer.send({ topic, messages: sent.map((value, i) => ({ key: `k${i}`, value })) });
    say(`smoke: produced ${sent.length} messages`);
    const got = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise((resolve) => {
      consumer.run({
        eachMessage: async ({ message }) => {
          got.push(message.value?.toString());
          if (got.length >= sent.length) resolve();
        },
      });
    });
    await withTimeout(done, 30_000, "consuming the smoke messages");
    if ([...got].sort().join() !== [...sent].sort().join()) throw new Error(`consumed ${JSON.stringify(got)}`);
    say(`smoke: consumed ${got.length} messages back: ${got.join(", ")}`);
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

async function main() {
  let attempt = 0;
  let lastError;
  while (true) {
    attempt += 1;
    try {
      const cluster = await describeOnce();
      const list = cluster.brokers.map((b) => `${b.nodeId}@${b.host}:${b.port}`).join(", ");
      say(`broker answered (attempt ${attempt}): cluster ${cluster.clusterId}, brokers [${list}], controller ${cluster.controller}`);
      break;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() + 1_000 >= deadline) {
      console.error(`[wait-kafka] no Kafka metadata answer from ${brokers.join(",")} within ${timeoutMs / 1000}s (${attempt} attempts): ${lastError?.message ?? lastError}`);
      return 1;
    }
    await sleep(1_000);
  }
  if (opts.smoke) {
    try {
      await smoke();
    } catch (error) {
      console.error(`[wait-kafka] smoke test failed: ${error?.message ?? error}`);
      return 1;
    }
  }
  return 0;
}

process.exit(await main());
