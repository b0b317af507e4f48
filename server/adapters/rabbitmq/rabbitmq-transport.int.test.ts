import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import amqp from "amqplib";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { buildEnvelope, type Priority } from "@/server/engine/core/envelope";
import { EngineError, ValidationError } from "@/server/engine/core/errors";
import { toWireMessage } from "@/server/engine/transport/codec";
import type { BrokerDelivery, TransportDriver, WireMessage } from "@/server/engine/transport/driver";
import { describeTransportContract, eventually } from "@/server/engine/transport/transport.contract";
import { createRabbitmqDriver, type RabbitmqDriverOptions } from "./index";
import type { RabbitmqDriver } from "./rabbitmq-driver";
import { groupNames } from "./topology";

const AMQP_URL = process.env.TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
/** Every exchange and queue of this run starts with it; all are deleted at the end. */
const PREFIX = `eltest-${randomBytes(4).toString("hex")}`;
/** Short tiers keep each group at 4 delay queues. */
const TIERS = [25, 100, 400, 1_600];

const used = { topics: new Set<string>(), groups: new Set<string>() };

/** Remembers every topic and group a driver touches, for the cleanup in afterAll. */
function tracked(driver: RabbitmqDriver): RabbitmqDriver {
  const group = (topic: string, name: string): void => {
    used.topics.add(topic);
    used.groups.add(JSON.stringify([topic, name]));
  };
  const { ensureGroup, publish, consume, redeliver } = driver;
  driver.ensureGroup = (topic, name) => (group(topic, name), ensureGroup.call(driver, topic, name));
  driver.publish = (topic, messages) => (used.topics.add(topic), publish.call(driver, topic, messages));
  driver.consume = (spec, onDelivery) => (group(spec.topic, spec.group), consume.call(driver, spec, onDelivery));
  driver.redeliver = (topic, name, message) => (group(topic, name), redeliver.call(driver, topic, name, message));
  return driver;
}

const reported: Array<{ error: Error; context: string }> = [];

function newDriver(options: Partial<RabbitmqDriverOptions> = {}): RabbitmqDriver {
  return tracked(
    createRabbitmqDriver({
      url: AMQP_URL,
      prefix: PREFIX,
      retryTiersMs: TIERS,
      reconnectInitialDelayMs: 50,
      reconnectMaxDelayMs: 500,
      onError: (error, context) => reported.push({ error, context }),
      ...options,
    }),
  );
}

afterAll(async () => {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  for (const entry of used.groups) {
    const [topic, group] = JSON.parse(entry) as [string, string];
    const names = groupNames(PREFIX, topic, group, TIERS);
    for (const queue of [names.queue, ...names.delayQueues.values()]) await channel.deleteQueue(queue);
  }
  for (const topic of used.topics) await channel.deleteExchange(`${PREFIX}.${topic}`);
  await connection.close();
});

// RabbitMQ requeues a closed consumer's unacked messages at once, so redeliveryAfterMs needs no
// setting here (heartbeats cover hosts that vanish without closing their socket).
describeTransportContract("rabbitmq", async () => newDriver());

const exec = promisify(execFile);

/** Has the broker close every connection of this driver name (what an operator or a broker restart does). */
async function closeConnectionsNamed(connectionName: string): Promise<number> {
  const { stdout } = await exec("rabbitmqctl", ["--quiet", "list_connections", "--no-table-headers", "pid", "client_properties"]);
  const pids = stdout
    .split("\n")
    .filter((line) => line.includes(`"${connectionName}:`))
    .map((line) => line.split("\t")[0] ?? "");
  for (const pid of pids) await exec("rabbitmqctl", ["--quiet", "close_connection", pid, "closed by the reconnect test"]);
  return pids.length;
}

describe("RabbitMQ transport specifics", () => {
  let drivers: TransportDriver[] = [];
  let raw: amqp.ChannelModel | undefined;

  afterEach(async () => {
    await Promise.allSettled(drivers.map((driver) => driver.close()));
    await raw?.close().catch(() => {});
    drivers = [];
    raw = undefined;
    reported.length = 0;
  });

  const open = (options: Partial<RabbitmqDriverOptions> = {}): RabbitmqDriver => {
    const driver = newDriver(options);
    drivers.push(driver);
    return driver;
  };

  const names = () => {
    const id = randomBytes(5).toString("hex");
    return { topic: `spec-${id}`, group: `spec-${id}-g` };
  };

  const message = (n: number, priority: Priority = "normal"): WireMessage =>
    toWireMessage(
      buildEnvelope({
        type: "spec.tested",
        data: { n },
        partitionkey: `key-${n % 3}`,
        priority,
        correlationid: "0190a5b0-0000-7000-8000-00000000c0de",
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      }),
    );

  /** Raw deliveries of one consumer, kept for the test to settle. */
  async function collect(driver: TransportDriver, topic: string, group: string, prefetch = 10) {
    const deliveries: BrokerDelivery[] = [];
    const handle = await driver.consume({ topic, group, consumer: `${group}-${deliveries.length}`, prefetch }, (delivery) => deliveries.push(delivery));
    return { deliveries, handle };
  }

  /** A topic with two groups, both collecting: `mine`, the one a test acts on, and `theirs`, to show nothing reaches it. */
  async function twoGroups(driver: TransportDriver) {
    const { topic, group } = names();
    const other = `${group}-other`;
    await driver.ensureGroup(topic, other);
    return { topic, group, mine: await collect(driver, topic, group), theirs: await collect(driver, topic, other) };
  }

  it("a plain amqplib client reads the envelope attributes as native AMQP headers and properties", async () => {
    const driver = open();
    const { topic, group } = names();
    await driver.ensureGroup(topic, group);
    const sent = message(1, "high");
    await driver.publish(topic, [sent]);

    raw = await amqp.connect(AMQP_URL);
    const channel = await raw.createChannel();
    const got = await channel.get(groupNames(PREFIX, topic, group, TIERS).queue, { noAck: true });
    if (got === false) throw new Error("no message in the group's queue");
    expect(got.properties).toMatchObject({ messageId: sent.id, priority: 2, deliveryMode: 2, contentType: "application/json" });
    expect(got.properties.headers).toMatchObject({
      ce_id: sent.id,
      ce_type: "spec.tested",
      ce_specversion: "1.0",
      ce_source: "urn:eventloom",
      ce_correlationid: "0190a5b0-0000-7000-8000-00000000c0de",
      ce_traceparent: expect.stringMatching(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/),
      ce_priority: "high",
      ce_partitionkey: "key-1",
      "content-type": "application/json",
    });
    expect(JSON.parse(got.content.toString("utf8"))).toEqual({ n: 1 });
    expect(got.fields.routingKey).toBe("key-1");

    // An order key too long for an AMQP routing key still publishes (and keeps its key).
    const longKey = { ...message(2), key: "k".repeat(300) };
    await driver.publish(topic, [longKey]);
    const { deliveries } = await collect(driver, topic, group);
    await eventually(() => expect(deliveries).toHaveLength(1));
    expect(deliveries[0]?.message.key).toBe(longKey.key);
    await deliveries[0]?.ack();
  });

  it("a message published by a plain client (no driver headers) is delivered with its order key from ce_ headers", async () => {
    const driver = open();
    const { topic, group } = names();
    await driver.ensureGroup(topic, group);
    raw = await amqp.connect(AMQP_URL);
    const channel = await raw.createConfirmChannel();
    channel.publish(`${PREFIX}.${topic}`, "", Buffer.from('{"plain":true}'), {
      messageId: "m-1",
      headers: { ce_id: "m-1", ce_subject: "exam/7", ce_type: "plain.sent", count: 3 },
    });
    await channel.waitForConfirms();

    const { deliveries } = await collect(driver, topic, group);
    await eventually(() => expect(deliveries).toHaveLength(1));
    const [delivery] = deliveries as [BrokerDelivery];
    expect(delivery.attempt).toBe(1);
    // Only string headers belong to the message; the priority the broker ranked it with is 0.
    expect(delivery.message).toEqual({ id: "m-1", key: "exam/7", priority: "normal", headers: { ce_id: "m-1", ce_subject: "exam/7", ce_type: "plain.sent" }, body: '{"plain":true}' });
    await delivery.ack();
  });

  it("retry waits at least the delay, counts the attempt, reaches only its own group, and delays beyond the longest tier take several hops", async () => {
    const driver = open();
    const { topic, group, mine, theirs } = await twoGroups(driver);
    const sent = [message(1), message(2)];
    await driver.publish(topic, sent);
    await eventually(() => expect(mine.deliveries).toHaveLength(2));
    await eventually(() => expect(theirs.deliveries).toHaveLength(2));
    for (const delivery of theirs.deliveries) await delivery.ack();

    const [short, long] = mine.deliveries as [BrokerDelivery, BrokerDelivery];
    const retriedAt = performance.now();
    await short.retry(130); // tiers 100 + 25 + 25: three hops
    await long.retry(3_500); // longer than the longest tier (1600): 1600 + 1600 + 100 + 100 + 100 + 100
    expect(await driver.figures(topic, group)).toEqual({ depth: 2, lag: 2, inFlight: 0 });

    await eventually(() => expect(mine.deliveries).toHaveLength(3), 5_000, 5);
    const shortBack = mine.deliveries[2] as BrokerDelivery;
    expect(performance.now() - retriedAt).toBeGreaterThanOrEqual(130);
    expect(shortBack).toMatchObject({ attempt: 2, message: short.message });
    await shortBack.ack();

    await eventually(() => expect(mine.deliveries).toHaveLength(4), 8_000, 5);
    const longBack = mine.deliveries[3] as BrokerDelivery;
    expect(performance.now() - retriedAt).toBeGreaterThanOrEqual(3_500);
    expect(performance.now() - retriedAt).toBeLessThan(3_500 + 1_000);
    expect(longBack).toMatchObject({ attempt: 2, message: long.message });
    await longBack.retry(0);
    await eventually(() => expect(mine.deliveries).toHaveLength(5));
    expect(mine.deliveries[4]).toMatchObject({ attempt: 3, message: long.message });
    await (mine.deliveries[4] as BrokerDelivery).ack();

    expect(theirs.deliveries).toHaveLength(2);
    await eventually(async () => expect(await driver.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 }));
  });

  it("settling twice, or after the driver closed, rejects", async () => {
    const driver = open();
    const { topic, group } = names();
    await driver.ensureGroup(topic, group);
    await driver.publish(topic, [message(1), message(2)]);
    const { deliveries } = await collect(driver, topic, group);
    await eventually(() => expect(deliveries).toHaveLength(2));
    const [first, second] = deliveries as [BrokerDelivery, BrokerDelivery];
    await first.ack();
    await expect(first.ack()).rejects.toThrow(/already settled/);
    await expect(first.retry(10)).rejects.toThrow(/already settled/);
    await driver.close();
    await expect(second.ack()).rejects.toMatchObject({ code: "unavailable" });
  });

  it("acks settled out of order never cover a delivery still unsettled: after a crash exactly those come back", async () => {
    const driver = open();
    const { topic, group } = names();
    await driver.ensureGroup(topic, group);
    const sent = Array.from({ length: 6 }, (_, n) => message(n));
    await driver.publish(topic, sent);
    const { deliveries } = await collect(driver, topic, group);
    await eventually(() => expect(deliveries).toHaveLength(6));
    // Settled: 0, 1 (a head run), 3, 5 (behind unsettled 2 and 4).
    for (const index of [1, 0, 3]) await (deliveries[index] as BrokerDelivery).ack();
    expect(await driver.figures(topic, group)).toEqual({ depth: 3, lag: 0, inFlight: 3 });
    await (deliveries[5] as BrokerDelivery).ack();
    // At once: an ack given before close() still reaches the broker.
    await driver.close();

    const survivor = open();
    const again = await collect(survivor, topic, group);
    await eventually(() => expect(again.deliveries.length).toBeGreaterThanOrEqual(2));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(again.deliveries.map((delivery) => delivery.message.id).sort()).toEqual([sent[2]?.id, sent[4]?.id].sort());
    expect(again.deliveries.map((delivery) => delivery.attempt)).toEqual([2, 2]);
  });

  it("redeliver puts a message into one group only, at attempt 1", async () => {
    const driver = open();
    const { topic, group, mine, theirs } = await twoGroups(driver);
    // A key the codec would not derive from the headers travels in the driver's key header.
    const sent = { ...message(7, "low"), key: "custom-order-key" };
    await driver.redeliver(topic, group, sent);
    await eventually(() => expect(mine.deliveries).toHaveLength(1));
    expect(mine.deliveries[0]).toMatchObject({ attempt: 1, message: sent });
    await (mine.deliveries[0] as BrokerDelivery).ack();
    expect(theirs.deliveries).toHaveLength(0);
  });

  it("a copy aimed at a deleted queue fails loudly instead of vanishing; the next redeliver declares the group again", async () => {
    const driver = open();
    const { topic, group } = names();
    const queues = groupNames(PREFIX, topic, group, TIERS);
    await driver.ensureGroup(topic, group);
    await driver.publish(topic, [message(1)]);
    const { deliveries } = await collect(driver, topic, group);
    await eventually(() => expect(deliveries).toHaveLength(1));
    const delivery = deliveries[0] as BrokerDelivery;

    raw = await amqp.connect(AMQP_URL);
    const admin = await raw.createChannel();
    await admin.deleteQueue(queues.delayQueues.get(400) as string);
    await expect(delivery.retry(500)).rejects.toThrow(/no queue .*delay\.400/);
    // Still unsettled, so it can be settled otherwise.
    await delivery.ack();

    // A group without consumers loses its queue: the driver still believes it declared, the
    // copy comes back unroutable and fails; the next call declares the group again.
    const idle = `${group}-idle`;
    await driver.ensureGroup(topic, idle);
    await admin.deleteQueue(groupNames(PREFIX, topic, idle, TIERS).queue);
    const sent = message(2);
    await expect(driver.redeliver(topic, idle, sent)).rejects.toThrow(/no queue/);
    await driver.redeliver(topic, idle, sent);
    const later = await collect(driver, topic, idle);
    await eventually(() => expect(later.deliveries).toHaveLength(1));
    expect(later.deliveries[0]).toMatchObject({ attempt: 1, message: sent });
    await (later.deliveries[0] as BrokerDelivery).ack();
  });

  it("prefetch bounds the outstanding deliveries of a consumer", async () => {
    const driver = open();
    const { topic, group } = names();
    await driver.ensureGroup(topic, group);
    await driver.publish(topic, Array.from({ length: 10 }, (_, n) => message(n)));
    const { deliveries } = await collect(driver, topic, group, 3);
    await eventually(() => expect(deliveries).toHaveLength(3));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(deliveries).toHaveLength(3);
    expect(await driver.figures(topic, group)).toEqual({ depth: 10, lag: 7, inFlight: 3 });
    await (deliveries[0] as BrokerDelivery).ack();
    await eventually(() => expect(deliveries).toHaveLength(4));
  });

  it("when the broker closes its connections, outstanding deliveries come back (attempt 2), the consumer resubscribes and publishing works again", async () => {
    const connectionName = `eltest-reconnect-${randomBytes(3).toString("hex")}`;
    const driver = open({ connectionName });
    const { topic, group } = names();
    await driver.ensureGroup(topic, group);
    await driver.publish(topic, [message(1)]);
    const { deliveries } = await collect(driver, topic, group);
    await eventually(() => expect(deliveries).toHaveLength(1));

    expect(await closeConnectionsNamed(connectionName)).toBe(2);
    await eventually(() => expect(deliveries).toHaveLength(2), 10_000);
    const [lost, back] = deliveries as [BrokerDelivery, BrokerDelivery];
    await expect(lost.ack()).rejects.toBeInstanceOf(EngineError);
    expect(back).toMatchObject({ attempt: 2, message: lost.message });
    await back.ack();

    await driver.publish(topic, [message(2)]);
    await eventually(() => expect(deliveries).toHaveLength(3));
    expect(deliveries[2]).toMatchObject({ attempt: 1 });
    await (deliveries[2] as BrokerDelivery).ack();
    expect(reported.some(({ context }) => context.includes("connection"))).toBe(true);
  });

  it("an unreachable broker makes connect, publish and consume reject promptly with `unavailable`", async () => {
    const driver = open({ url: "amqp://guest:guest@127.0.0.1:1", connectTimeoutMs: 1_000 });
    const { topic, group } = names();
    await expect(driver.connect()).rejects.toMatchObject({ code: "unavailable" });
    await expect(driver.publish(topic, [message(1)])).rejects.toMatchObject({ code: "unavailable" });
    await expect(driver.consume({ topic, group, consumer: "c", prefetch: 1 }, () => {})).rejects.toMatchObject({ code: "unavailable" });
    await expect(driver.ping()).rejects.toMatchObject({ code: "unavailable" });
  });

  it("figures of a group that does not exist are zero, and leave the driver working", async () => {
    const driver = open();
    const { topic, group } = names();
    await Promise.all([driver.figures(topic, group), driver.ping()]);
    expect(await driver.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 });
    await driver.ping();
  });

  it("options and names are validated, naming the bad one", async () => {
    const bad = (options: Partial<RabbitmqDriverOptions>, option: string) => {
      let thrown: unknown;
      try {
        createRabbitmqDriver({ url: AMQP_URL, ...options });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ValidationError);
      expect((thrown as ValidationError).message).toContain(option);
      expect((thrown as ValidationError).issues.map((issue) => issue.path)).toContain(option);
    };
    bad({ url: "http://127.0.0.1:5672" }, "url");
    bad({ retryTiersMs: [100, 50] }, "retryTiersMs");
    bad({ retryTiersMs: [] }, "retryTiersMs");
    bad({ heartbeatSeconds: -1 }, "heartbeatSeconds");
    bad({ prefix: "has space" }, "prefix");
    bad({ reconnectInitialDelayMs: 1_000, reconnectMaxDelayMs: 10 }, "reconnectMaxDelayMs");
    // Not `open()`: the cleanup could not name this topic's objects (there are none).
    await expect(createRabbitmqDriver({ url: AMQP_URL }).ensureGroup("a:b", "g")).rejects.toThrow(/topic name must be non-empty and contain no ":"/);
  });
});
