import { randomBytes } from "node:crypto";
import kafkajs from "kafkajs";
import { afterAll } from "vitest";
import { describeTransportContract } from "@/server/engine/transport/transport.contract";
import type { TransportDriver } from "@/server/engine/transport/driver";
import { createKafkaDriver, type KafkaDriverOptions } from ".";

const { Kafka, logLevel } = kafkajs;

const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
/** Every topic and group of this run starts with it; afterAll deletes them. */
const prefix = `elt${randomBytes(4).toString("hex")}`;
const logs: string[] = [];

function newDriver(options: Partial<KafkaDriverOptions> = {}): TransportDriver {
  return createKafkaDriver({
    brokers,
    prefix,
    replicationFactor: 1,
    redeliveryAfterMs: 1_000,
    log: (level, message, fields) => {
      logs.push(`${level} ${message}`);
      if (process.env.KAFKA_TEST_LOG) console.warn(level, message, fields ?? "");
    },
    ...options,
  });
}

const rawKafka = new Kafka({ clientId: `${prefix}-test`, brokers, logLevel: logLevel.NOTHING });

afterAll(async () => {
  const admin = rawKafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(`${prefix}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map(({ groupId }) => groupId).filter((groupId) => groupId.startsWith(`${prefix}.`));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
});

describeTransportContract("kafka", async ({ redeliveryAfterMs }) => newDriver({ redeliveryAfterMs }));

