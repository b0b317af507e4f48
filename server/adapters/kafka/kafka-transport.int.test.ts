import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import kafkajs, { type ISocketFactory } from "kafkajs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { buildEnvelope, type Priority } from "@/server/engine/core/envelope";
import { ValidationError } from "@/server/engine/core/errors";
import { toWireMessage } from "@/server/engine/transport/codec";
import type { BrokerDelivery, TransportDriver, WireMessage } from "@/server/engine/transport/driver";
import { InMemoryDeadLetterStore } from "@/server/engine/transport/memory-driver";
import { startSubscriber } from "@/server/engine/transport/subscriber";
import { describeTransportContract, eventually } from "@/server/engine/transport/transport.contract";
import { createKafkaDriver, type KafkaDriverOptions } from ".";
import { deleteKafkaObjects } from "./test-cleanup";

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

afterAll(() => deleteKafkaObjects(brokers, `${prefix}.`));

describeTransportContract("kafka", async ({ redeliveryAfterMs }) => newDriver({ redeliveryAfterMs }));


describe("kafka transport", () => {
  const drivers: TransportDriver[] = [];
  afterEach(async () => {
    await Promise.allSettled(drivers.splice(0).map((driver) => driver.close()));
  });

  const open = async (options: Partial<KafkaDriverOptions> = {}): Promise<TransportDriver> => {
    const driver = newDriver(options);
    drivers.push(driver);
    await driver.connect();
    return driver;
  };

  const names = () => {
    const id = randomBytes(5).toString("hex");
    return { topic: `spec-${id}`, group: `spec-${id}-g` };
  };

  const message = (n: number, options: { key?: string; priority?: Priority } = {}): WireMessage =>
    toWireMessage(
      buildEnvelope({
        type: "spec.tested",
        data: { n },
        partitionkey: options.key ?? `key-${n % 3}`,
        priority: options.priority ?? "normal",
        correlationid: "0190a5b0-0000-7000-8000-00000000c0de",
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      }),
    );

  /** Raw deliveries of one consumer, kept for the test to settle. */
  async function collect(driver: TransportDriver, topic: string, group: string, prefetch = 10) {
    const deliveries: BrokerDelivery[] = [];
    await driver.consume({ topic, group, consumer: `${group}-${randomBytes(2).toString("hex")}`, prefetch }, (delivery) => deliveries.push(delivery));
    return deliveries;
  }

  /** Every record of the topics, read by a plain kafkajs consumer of its own group. */
  async function readRaw(topics: string[], count: number) {
    const consumer = rawKafka.consumer({ groupId: `${prefix}.raw-${randomBytes(3).toString("hex")}`, maxWaitTimeInMs: 100 });
    const records: Array<{ topic: string; partition: number; offset: number; key: string | undefined; value: string | undefined; headers: Record<string, string> }> = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic, partition, message: record }) => {
          const headers = Object.fromEntries(Object.entries(record.headers ?? {}).map(([name, value]) => [name, String(value)]));
          records.push({ topic, partition, offset: Number(record.offset), key: record.key?.toString(), value: record.value?.toString(), headers });
        },
      });
      await eventually(() => expect(records.length).toBeGreaterThanOrEqual(count), 15_000);
    } finally {
      await consumer.disconnect();
    }
    return records;
  }

  const committedOffsets = async (groupId: string, topic: string): Promise<Map<number, number>> => {
    const admin = rawKafka.admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return new Map((offsets?.partitions ?? []).map(({ partition, offset }) => [partition, Number(offset)]));
    } finally {
      await admin.disconnect();
    }
  };

  it("a plain kafkajs consumer reads the envelope attributes as native Kafka headers, keyed by the partition key", async () => {
    const driver = await open();
    const { topic } = names();
    const sent = message(1, { key: "exam-7", priority: "high" });
    await driver.publish(topic, [sent]);

    const [record] = await readRaw([`${prefix}.${topic}.high`], 1);
    expect(record).toMatchObject({ key: "exam-7", value: JSON.stringify({ n: 1 }) });
    expect(record?.headers).toMatchObject({
      ce_id: sent.id,
      ce_type: "spec.tested",
      ce_specversion: "1.0",
      ce_correlationid: "0190a5b0-0000-7000-8000-00000000c0de",
      ce_traceparent: sent.headers.ce_traceparent,
      ce_priority: "high",
      ce_partitionkey: "exam-7",
    });
    // Only the envelope's own headers: the id is ce_id, the priority is the topic.
    expect(Object.keys(record?.headers ?? {}).sort()).toEqual(Object.keys(sent.headers).sort());
  });

  it("messages of one key land on one partition, in publish order, across publish calls", async () => {
    const driver = await open();
    const { topic } = names();
    const keys = ["a", "b", "c", "d", "e"];
    for (let round = 0; round < 4; round++) {
      await driver.publish(topic, keys.flatMap((key) => Array.from({ length: 5 }, (_, n) => message(round * 5 + n, { key }))));
    }

    const records = await readRaw([`${prefix}.${topic}.normal`], 100);
    for (const key of keys) {
      const ofKey = records.filter((record) => record.key === key).sort((x, y) => x.offset - y.offset);
      expect(new Set(ofKey.map((record) => record.partition)).size, `partitions of ${key}`).toBe(1);
      expect(ofKey.map((record) => JSON.parse(record.value ?? "{}").n)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    }
  });

  it("commits a partition's offset only up to its first unsettled record; any driver's figures see it", async () => {
    const driver = await open();
    const observer = await open();
    const { topic, group } = names();
    await driver.ensureGroup(topic, group);
    await driver.publish(topic, [message(0, { key: "same" }), message(1, { key: "same" }), message(2, { key: "same" })]);
    const deliveries = await collect(driver, topic, group);
    await eventually(() => expect(deliveries).toHaveLength(3));
    const [first, second, third] = deliveries as [BrokerDelivery, BrokerDelivery, BrokerDelivery];
    expect(deliveries.map((delivery) => JSON.parse(delivery.message.body).n)).toEqual([0, 1, 2]);

    await second.ack();
    await third.ack();
    expect(await driver.figures(topic, group)).toEqual({ depth: 1, lag: 0, inFlight: 1 });
    // Another process reads the same from the broker (as of the consumer's last commit).
    await eventually(async () => expect(await observer.figures(topic, group)).toEqual({ depth: 1, lag: 0, inFlight: 1 }));
    const groupId = `${prefix}.${topic}:${group}`;
    const normal = `${prefix}.${topic}.normal`;
    expect([...(await committedOffsets(groupId, normal)).values()]).toEqual([0, 0, 0, 0, 0, 0]);

    await first.ack();
    expect(await driver.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 });
    expect([...(await committedOffsets(groupId, normal)).values()].sort()).toEqual([0, 0, 0, 0, 0, 3]);
    await expect(first.ack()).rejects.toThrow(/already settled/);
  });

  it("prefetch bounds the outstanding deliveries; settling frees slots", async () => {
    const driver = await open();
    const { topic, group } = names();
    await driver.ensureGroup(topic, group);
    await driver.publish(topic, Array.from({ length: 10 }, (_, n) => message(n, { key: `k${n}` })));
    const deliveries = await collect(driver, topic, group, 3);
    await eventually(() => expect(deliveries).toHaveLength(3));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(deliveries).toHaveLength(3);
    await deliveries[0]?.ack();
    await deliveries[1]?.retry(60_000);
    await eventually(() => expect(deliveries).toHaveLength(5));
    expect(await driver.figures(topic, group)).toEqual({ depth: 9, lag: 6, inFlight: 3 });
  });

  it("a stopped consumer whose deliveries stay unsettled leaves its group after redeliveryAfterMs; another member gets them", async () => {
    const driver = await open();
    const other = await open();
    const { topic, group } = names();
    await driver.ensureGroup(topic, group);
    await driver.publish(topic, [message(1), message(2)]);
    const deliveries: BrokerDelivery[] = [];
    const handle = await driver.consume({ topic, group, consumer: "stopping", prefetch: 10 }, (delivery) => deliveries.push(delivery));
    await eventually(() => expect(deliveries).toHaveLength(2));
    const stoppedAt = Date.now();
    await handle.stop();

    const admin = rawKafka.admin();
    await admin.connect();
    try {
      const members = async () => (await admin.describeGroups([`${prefix}.${topic}:${group}`])).groups[0]?.members.length;
      expect(await members()).toBe(1);
      await eventually(async () => expect(await members()).toBe(0), 10_000);
      expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1_000);
    } finally {
      await admin.disconnect();
    }
    const taken = await collect(other, topic, group);
    await eventually(() => expect(taken).toHaveLength(2));
    expect(taken.map((delivery) => delivery.attempt)).toEqual([2, 2]);
    await expect(deliveries[0]?.ack()).rejects.toMatchObject({ code: "unavailable" });
  });

  it("retry and redeliver reach only their own group, with the attempt they name", async () => {
    const driver = await open();
    const { topic, group } = names();
    const other = `${group}-other`;
    await driver.ensureGroup(topic, group);
    await driver.ensureGroup(topic, other);
    await driver.publish(topic, [message(1)]);
    const mine = await collect(driver, topic, group);
    const theirs = await collect(driver, topic, other);
    await eventually(() => expect(mine.length + theirs.length).toBe(2));

    const started = Date.now();
    await mine[0]?.retry(400);
    await eventually(() => expect(mine).toHaveLength(2));
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(mine[1]).toMatchObject({ attempt: 2, message: mine[0]?.message });
    await mine[1]?.ack();

    await driver.redeliver(topic, group, (theirs[0] as BrokerDelivery).message);
    await eventually(() => expect(mine).toHaveLength(3));
    expect(mine[2]).toMatchObject({ attempt: 1, message: theirs[0]?.message });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(theirs).toHaveLength(1);
  });

  it("a record written by a plain client, without Eventloom headers, is delivered with its coordinates as id", async () => {
    const driver = await open();
    const { topic, group } = names();
    await driver.ensureGroup(topic, group);
    const producer = rawKafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    const [sent] = await producer.send({ topic: `${prefix}.${topic}.low`, messages: [{ key: "plain", value: "{\"hello\":1}" }] });
    await producer.disconnect();
    const deliveries = await collect(driver, topic, group);
    await eventually(() => expect(deliveries).toHaveLength(1));
    expect(deliveries[0]).toMatchObject({
      attempt: 1,
      message: { id: `${prefix}.${topic}.low/${sent?.partition}/${sent?.baseOffset}`, key: "plain", priority: "low", headers: {}, body: "{\"hello\":1}" },
    });
  });

  it("a consumer killed without leaving the group: another member gets its records after the session timeout, attempt 2", async () => {
    const observer = await open();
    const { topic, group } = names();
    await observer.ensureGroup(topic, group);
    // node itself (not the tsx CLI, which would run the consumer in a grandchild) so SIGKILL hits the consumer.
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `import("./server/adapters/kafka/index.ts").then(async ({ createKafkaDriver }) => {
          const driver = createKafkaDriver({ brokers: ${JSON.stringify(brokers)}, prefix: ${JSON.stringify(prefix)}, replicationFactor: 1, redeliveryAfterMs: 1000, log: () => {} });
          await driver.consume({ topic: ${JSON.stringify(topic)}, group: ${JSON.stringify(group)}, consumer: "doomed", prefetch: 10 }, (delivery) => console.log("delivered " + delivery.message.id));
          console.log("joined");
        });`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const lines: string[] = [];
    child.stdout.on("data", (chunk: Buffer) => lines.push(...chunk.toString().split("\n").filter(Boolean)));
    try {
      await eventually(() => expect(lines).toContain("joined"), 20_000);
      const sent = [message(1), message(2)];
      await observer.publish(topic, sent);
      await eventually(() => expect(lines.filter((line) => line.startsWith("delivered"))).toHaveLength(2));
      // The hand-out marks are on the broker once the group's figures count the two as in flight.
      await eventually(async () => expect(await observer.figures(topic, group)).toEqual({ depth: 2, lag: 0, inFlight: 2 }));
      child.kill("SIGKILL");

      const started = Date.now();
      const survivor = await collect(observer, topic, group);
      await eventually(() => expect(survivor).toHaveLength(2), 20_000);
      // Not before the broker gave up on the dead member (6 s session, its last heartbeat just before the kill).
      expect(Date.now() - started).toBeGreaterThanOrEqual(5_000);
      expect(survivor.map((delivery) => delivery.attempt)).toEqual([2, 2]);
      expect(new Set(survivor.map((delivery) => delivery.message.id))).toEqual(new Set(sent.map((sentMessage) => sentMessage.id)));
    } finally {
      child.kill("SIGKILL");
    }
  }, 60_000);

  it("when its connections are cut, the driver reconnects: publishing works again and nothing is lost", async () => {
    const sockets = new Set<Socket>();
    const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
      const socket = connect({ host, port }, onConnect);
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      return socket;
    };
    const driver = await open({ socketFactory });
    const { topic, group } = names();
    const seen = new Set<string>();
    await startSubscriber(driver, {
      topic,
      subscription: group,
      deadLetters: new InMemoryDeadLetterStore(),
      handler: async (event) => {
        seen.add(event.id);
      },
    });
    const before = Array.from({ length: 20 }, (_, n) => message(n));
    await driver.publish(topic, before);
    await eventually(() => expect(seen.size).toBe(20));

    expect(sockets.size).toBeGreaterThan(0);
    // As a broker that dies does: the sockets fail with a reset.
    for (const socket of sockets) socket.destroy(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
    const after = Array.from({ length: 20 }, (_, n) => message(20 + n));
    await driver.publish(topic, after);
    await eventually(() => expect(seen.size).toBe(40), 20_000);
    expect([...before, ...after].every((sent) => seen.has(sent.id))).toBe(true);
    await eventually(async () => expect(await driver.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 }));
  }, 60_000);

  it("an unreachable broker makes connect, publish, consume and ping reject promptly with `unavailable`", async () => {
    const driver = newDriver({ brokers: ["127.0.0.1:1"], connectTimeoutMs: 1_000 });
    drivers.push(driver);
    const { topic, group } = names();
    const started = Date.now();
    await expect(driver.connect()).rejects.toMatchObject({ code: "unavailable" });
    await expect(driver.publish(topic, [message(1)])).rejects.toMatchObject({ code: "unavailable" });
    await expect(driver.consume({ topic, group, consumer: "c", prefetch: 1 }, () => {})).rejects.toMatchObject({ code: "unavailable" });
    await expect(driver.ping()).rejects.toMatchObject({ code: "unavailable" });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("figures of a group that does not exist are zero; bad names and options are refused, naming them", async () => {
    const driver = await open();
    const { topic, group } = names();
    expect(await driver.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 });
    await expect(driver.publish("has space", [message(1)])).rejects.toBeInstanceOf(ValidationError);
    expect(() => newDriver({ brokers: ["no-port"] })).toThrow(/brokers/);
  });
});
