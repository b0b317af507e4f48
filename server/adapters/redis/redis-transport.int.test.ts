import { randomBytes } from "node:crypto";
import net from "node:net";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildEnvelope, type Priority } from "@/server/engine/core/envelope";
import { EngineError, ValidationError } from "@/server/engine/core/errors";
import { fromWireMessage, toWireMessage } from "@/server/engine/transport/codec";
import type { BrokerDelivery, ConsumerHandle, WireMessage } from "@/server/engine/transport/driver";
import { describeTransportContract, eventually } from "@/server/engine/transport/transport.contract";
import { createRedisDriver, RedisDedupInbox, type RedisDriverOptions, type RedisStreamsDriver } from "./index";
import { groupKeys, topicStreamKey } from "./keys";
import { deleteRedisKeys } from "./test-cleanup";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
/** Every key of this run starts with it; afterAll deletes them. */
const PREFIX = `eltest-${randomBytes(4).toString("hex")}`;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let raw: Redis;

beforeAll(async () => {
  raw = new Redis(REDIS_URL, { lazyConnect: true });
  await raw.connect();
});

afterAll(async () => {
  await deleteRedisKeys(raw, PREFIX);
  await raw.quit();
});

describeTransportContract("redis", async ({ redeliveryAfterMs }) =>
  createRedisDriver({ url: REDIS_URL, keyPrefix: PREFIX, redeliveryAfterMs, onError: () => undefined }),
);

function message(n: number, options: { key?: string; priority?: Priority } = {}): WireMessage {
  return toWireMessage(
    buildEnvelope({
      type: "redis.tested",
      data: { n },
      correlationid: "0190a5b0-0000-7000-8000-0000000000cc",
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      ...(options.key === undefined ? {} : { partitionkey: options.key }),
      ...(options.priority === undefined ? {} : { priority: options.priority }),
    }),
  );
}

/** Orders stream entry ids (`<ms>-<seq>`). */
const compareIds = (a: string, b: string): number => {
  const [aMs, aSeq] = a.split("-").map(BigInt) as [bigint, bigint];
  const [bMs, bSeq] = b.split("-").map(BigInt) as [bigint, bigint];
  return aMs === bMs ? Number(aSeq - bSeq) : aMs < bMs ? -1 : 1;
};

const numberOf = (delivery: BrokerDelivery): number => (JSON.parse(delivery.message.body) as { n: number }).n;

const names = (): { topic: string; group: string } => {
  const id = randomBytes(4).toString("hex");
  return { topic: `rt-${id}`, group: `rt-${id}-g` };
};

/** Forwards loopback TCP to Redis, and can be cut and restored: an outage that only our driver sees. */
class FlakyProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  async up(): Promise<void> {
    const upstream = new URL(REDIS_URL);
    this.server = net.createServer((client) => {
      const server = net.connect(Number(upstream.port || 6379), upstream.hostname);
      for (const socket of [client, server]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => {
          client.destroy();
          server.destroy();
        });
      }
      client.pipe(server).pipe(client);
    });
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe("redis transport: Redis specifics", () => {
  let drivers: RedisStreamsDriver[] = [];
  let handles: ConsumerHandle[] = [];
  let driverErrors: unknown[] = [];

  afterEach(async () => {
    await Promise.allSettled(handles.map((handle) => handle.stop()));
    await Promise.allSettled(drivers.map((driver) => driver.close()));
    drivers = [];
    handles = [];
    driverErrors = [];
  });

  const newDriver = async (options: Partial<RedisDriverOptions> = {}): Promise<RedisStreamsDriver> => {
    const driver = createRedisDriver({
      url: REDIS_URL,
      keyPrefix: PREFIX,
      redeliveryAfterMs: 1_000,
      onError: (error) => driverErrors.push(error),
      ...options,
    });
    drivers.push(driver);
    await driver.connect();
    return driver;
  };

  /** Consumes straight from the driver (no Subscriber): the deliveries, unsettled, in hand-out order. */
  const consume = async (driver: RedisStreamsDriver, spec: { topic: string; group: string; consumer?: string; prefetch?: number }) => {
    const deliveries: BrokerDelivery[] = [];
    await driver.ensureGroup(spec.topic, spec.group);
    const handle = await driver.consume(
      { topic: spec.topic, group: spec.group, consumer: spec.consumer ?? `c-${randomBytes(3).toString("hex")}`, prefetch: spec.prefetch ?? 100 },
      (delivery) => deliveries.push(delivery),
    );
    handles.push(handle);
    return { deliveries, handle };
  };

  /** The driver's connections as Redis lists them (their names carry the consumer name or `commands`). */
  const clientIds = async (nameContains: string): Promise<string[]> => {
    const list = (await raw.client("LIST")) as string;
    return list
      .split("\n")
      .filter((line) => line.includes(`name=`) && (/ name=(\S*)/.exec(line)?.[1] ?? "").includes(nameContains))
      .map((line) => /^id=(\d+)/.exec(line)?.[1] as string);
  };

  it("envelope attributes are stream fields a plain ioredis client reads, and plain XADDs are consumed", async () => {
    const driver = await newDriver();
    const { topic, group } = names();
    await driver.ensureGroup(topic, group);
    const sent = message(1, { key: "exam-1" });
    await driver.publish(topic, [sent]);

    const entries = await raw.xrange(topicStreamKey(PREFIX, topic, "normal"), "-", "+");
    expect(entries).toHaveLength(1);
    const [, flat] = entries[0] as [string, string[]];
    const fields = Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]]));
    expect(fields).toMatchObject({
      ce_id: sent.id,
      ce_type: "redis.tested",
      ce_specversion: "1.0",
      ce_correlationid: "0190a5b0-0000-7000-8000-0000000000cc",
      ce_traceparent: sent.headers.ce_traceparent,
      ce_partitionkey: "exam-1",
      "content-type": "application/json",
      body: JSON.stringify({ n: 1 }),
    });

    // A producer that only knows Redis and CloudEvents: fields by hand, XADD with the plain client.
    const foreign = message(2);
    await raw.xadd(topicStreamKey(PREFIX, topic, "normal"), "*", ...Object.entries(foreign.headers).flat(), "id", foreign.id, "key", foreign.key, "body", foreign.body);
    const { deliveries } = await consume(driver, { topic, group });
    await eventually(() => expect(deliveries).toHaveLength(2));
    expect(deliveries.map((delivery) => delivery.message)).toEqual([sent, foreign]);
    expect(fromWireMessage((deliveries[1] as BrokerDelivery).message)).toEqual(fromWireMessage(foreign));
  });

  it("prefetch bounds the deliveries outstanding; each ack lets one more out", async () => {
    const driver = await newDriver();
    const { topic, group } = names();
    const { deliveries } = await consume(driver, { topic, group, prefetch: 3 });
    await driver.publish(topic, Array.from({ length: 20 }, (_, n) => message(n)));
    await eventually(() => expect(deliveries).toHaveLength(3));
    await sleep(200);
    expect(deliveries).toHaveLength(3);
    expect(await driver.figures(topic, group)).toEqual({ depth: 20, lag: 17, inFlight: 3 });
    await (deliveries[0] as BrokerDelivery).ack();
    await eventually(() => expect(deliveries).toHaveLength(4));
    await sleep(100);
    expect(deliveries).toHaveLength(4);
    expect(deliveries.map(numberOf)).toEqual([0, 1, 2, 3]);
  });

  it("retry: held in the group's delayed set (counted in lag), then delivered to that group only, attempt + 1, once", async () => {
    const [first, second] = [await newDriver(), await newDriver()];
    const { topic, group } = names();
    const other = `${group}-other`;
    // Two consumers of the group, on two drivers: both run a promoter; one promotion must win.
    const a = await consume(first, { topic, group });
    const b = await consume(second, { topic, group });
    const otherGroup = await consume(first, { topic, group: other });
    // Values with multi-byte characters and ':' (the delayed set's member encodes lengths in bytes).
    const tricky = toWireMessage(buildEnvelope({ type: "redis.tested", subject: "exam:42 10:3", data: { n: 7, text: "h\u00e9llo \u2713 1:2 \u{1F600}" } }));
    await first.publish(topic, [tricky]);
    await eventually(() => expect(a.deliveries.length + b.deliveries.length).toBe(1));
    await eventually(() => expect(otherGroup.deliveries).toHaveLength(1));
    const failed = (a.deliveries[0] ?? b.deliveries[0]) as BrokerDelivery;
    expect(failed.attempt).toBe(1);

    const retriedAt = Date.now();
    await failed.retry(600);
    expect(await raw.zcard(groupKeys(PREFIX, topic, group).delayed)).toBe(1);
    expect(await first.figures(topic, group)).toEqual({ depth: 1, lag: 1, inFlight: 0 });

    await eventually(() => expect(a.deliveries.length + b.deliveries.length).toBe(2));
    expect(Date.now() - retriedAt).toBeGreaterThanOrEqual(590);
    const again = [...a.deliveries, ...b.deliveries].find((delivery) => delivery !== failed) as BrokerDelivery;
    expect(again.attempt).toBe(2);
    expect(again.message).toEqual(tricky);
    await again.ack();
    await (otherGroup.deliveries[0] as BrokerDelivery).ack();
    await sleep(300);
    expect(a.deliveries.length + b.deliveries.length).toBe(2);
    expect(otherGroup.deliveries).toHaveLength(1);
    expect(await first.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 });
    expect(await raw.xlen(groupKeys(PREFIX, topic, group).retryStreams[1] as string)).toBe(0);
  });

  it("a crash while holding a retried message: the survivor gets it with the attempt counted on", async () => {
    const { topic, group } = names();
    const doomed = await newDriver({ redeliveryAfterMs: 300 });
    const held = await consume(doomed, { topic, group, consumer: "doomed" });
    await doomed.publish(topic, [message(1, { priority: "high" })]);
    await eventually(() => expect(held.deliveries).toHaveLength(1));
    await (held.deliveries[0] as BrokerDelivery).retry(0);
    await eventually(() => expect(held.deliveries).toHaveLength(2));
    expect((held.deliveries[1] as BrokerDelivery).attempt).toBe(2);
    await doomed.close();

    const survivor = await newDriver({ redeliveryAfterMs: 300 });
    const taken = await consume(survivor, { topic, group, consumer: "survivor" });
    await eventually(() => expect(taken.deliveries).toHaveLength(1), 5_000);
    const redelivered = taken.deliveries[0] as BrokerDelivery;
    expect(redelivered.attempt).toBe(3);
    expect(redelivered.message.priority).toBe("high");
    await redelivered.ack();
    await eventually(async () => expect(await survivor.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 }));
  });

  it("a live consumer's slow deliveries are renewed, not reclaimed by another consumer", async () => {
    const { topic, group } = names();
    const slow = await newDriver({ redeliveryAfterMs: 300 });
    const other = await newDriver({ redeliveryAfterMs: 300 });
    const held = await consume(slow, { topic, group, consumer: "slow" });
    await slow.publish(topic, [message(1), message(2)]);
    await eventually(() => expect(held.deliveries).toHaveLength(2));
    const competitor = await consume(other, { topic, group, consumer: "other" });
    await sleep(1_500);
    expect(competitor.deliveries).toEqual([]);
    expect(held.deliveries).toHaveLength(2);
    const [pending] = (await raw.xpending(topicStreamKey(PREFIX, topic, "normal"), group, "-", "+", 10)) as Array<[string, string, number, number]>;
    expect(pending?.[1]).toBe("slow");
    expect(pending?.[3]).toBe(1);
    await Promise.all(held.deliveries.map((delivery) => delivery.ack()));
    await eventually(async () => expect(await other.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 }));
  });

  it("redeliver puts a message into one group's retry stream, attempt 1", async () => {
    const driver = await newDriver();
    const { topic, group } = names();
    const target = await consume(driver, { topic, group });
    const bystander = await consume(driver, { topic, group: `${group}-bystander` });
    const letter = message(9, { priority: "low" });
    await driver.redeliver(topic, group, letter);
    await eventually(() => expect(target.deliveries).toHaveLength(1));
    const delivery = target.deliveries[0] as BrokerDelivery;
    expect(delivery.attempt).toBe(1);
    expect(delivery.message).toEqual(letter);
    await delivery.ack();
    await sleep(200);
    expect(bystander.deliveries).toEqual([]);
    expect(await raw.xlen(groupKeys(PREFIX, topic, group).retryStreams[2] as string)).toBe(0);
  });

  it("consuming resumes after Redis kills the driver's connections (CLIENT KILL)", async () => {
    const driver = await newDriver();
    const { topic, group } = names();
    const consumer = `killme-${randomBytes(3).toString("hex")}`;
    const { deliveries } = await consume(driver, { topic, group, consumer });
    await driver.publish(topic, [message(1)]);
    await eventually(() => expect(deliveries).toHaveLength(1));
    await (deliveries[0] as BrokerDelivery).ack();

    const blockingIds = await clientIds(consumer);
    expect(blockingIds).toHaveLength(1);
    for (const id of blockingIds) await raw.client("KILL", "ID", id);
    await driver.publish(topic, [message(2)]);
    await eventually(() => expect(deliveries).toHaveLength(2));
    await (deliveries[1] as BrokerDelivery).ack();

    // And the command connection (publish, acks) of this driver too.
    await raw.client("KILL", "ID", String(await driver.commands.client("ID")));
    await eventually(async () => {
      await driver.publish(topic, [message(3)]);
      return true;
    });
    await eventually(() => expect(deliveries.map(numberOf)).toContain(3));
    await Promise.all(deliveries.slice(2).map((delivery) => delivery.ack()));
    await eventually(async () => expect(await driver.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 }));
    expect(new Set(deliveries.map(numberOf)).size).toBe(deliveries.length);
  });

  it("during an outage publish rejects with 'unavailable' within the timeout; afterwards consuming resumes", async () => {
    const proxy = new FlakyProxy();
    await proxy.up();
    try {
      const driver = await newDriver({ url: `redis://127.0.0.1:${proxy.port}`, operationTimeoutMs: 400 });
      const { topic, group } = names();
      const { deliveries } = await consume(driver, { topic, group });
      await driver.publish(topic, [message(1)]);
      await eventually(() => expect(deliveries).toHaveLength(1));

      await proxy.down();
      const started = Date.now();
      const failure = await driver.publish(topic, [message(2)]).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(EngineError);
      expect((failure as EngineError).code).toBe("unavailable");
      expect(Date.now() - started).toBeLessThan(2_000);
      await expect((deliveries[0] as BrokerDelivery).ack()).rejects.toMatchObject({ code: "unavailable" });

      await proxy.up();
      await eventually(async () => {
        await driver.publish(topic, [message(3)]);
        return true;
      });
      await eventually(() => expect(deliveries.map(numberOf)).toContain(3));
      // The first delivery's ack was lost in the outage: it is still pending, and acking works now.
      await Promise.all(deliveries.map((delivery) => delivery.ack()));
      await eventually(async () => expect(await driver.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 }));
    } finally {
      await proxy.down();
    }
  });

  it("connect rejects with 'unavailable' when nothing listens", async () => {
    const proxy = new FlakyProxy();
    await proxy.up();
    const port = proxy.port;
    await proxy.down();
    const driver = createRedisDriver({ url: `redis://127.0.0.1:${port}`, keyPrefix: PREFIX, operationTimeoutMs: 300, onError: () => undefined });
    drivers.push(driver);
    await expect(driver.connect()).rejects.toMatchObject({ code: "unavailable" });
    await expect(driver.connect()).rejects.toMatchObject({ code: "unavailable" });
  });

  it("streams lost with the server's data (restart without persistence): consumers recreate their group", async () => {
    const driver = await newDriver();
    const { topic, group } = names();
    const { deliveries } = await consume(driver, { topic, group });
    const keys = groupKeys(PREFIX, topic, group);
    await raw.del(...keys.streams, keys.delayed);
    await eventually(async () => {
      const groups = (await raw.xinfo("GROUPS", topicStreamKey(PREFIX, topic, "normal"))) as unknown[];
      expect(groups).toHaveLength(1);
    });
    await driver.publish(topic, [message(1)]);
    await eventually(() => expect(deliveries).toHaveLength(1));
    expect((deliveries[0] as BrokerDelivery).attempt).toBe(1);
  });

  it("stop() returns at once even while the consumer waits in a long blocking read", async () => {
    const driver = await newDriver({ redeliveryAfterMs: 60_000 });
    const { topic, group } = names();
    const { handle } = await consume(driver, { topic, group });
    await sleep(300);
    const started = Date.now();
    await handle.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("trimming keeps what any group still needs and drops what all groups settled", async () => {
    const driver = await newDriver();
    const { topic, group } = names();
    const stream = topicStreamKey(PREFIX, topic, "normal");
    const fast = await consume(driver, { topic, group, prefetch: 1_000 });
    const slow = await consume(driver, { topic, group: `${group}-slow`, prefetch: 1_000 });
    await driver.publish(topic, Array.from({ length: 250 }, (_, n) => message(n)));
    await eventually(() => expect(fast.deliveries).toHaveLength(250));
    await eventually(() => expect(slow.deliveries).toHaveLength(250));
    await Promise.all(fast.deliveries.map((delivery) => delivery.ack()));
    await Promise.all(slow.deliveries.slice(0, 220).map((delivery) => delivery.ack()));
    await eventually(async () => expect(await driver.figures(topic, `${group}-slow`)).toMatchObject({ inFlight: 30 }));
    await eventually(async () => expect(await driver.figures(topic, group)).toMatchObject({ inFlight: 0 }));

    // Trimming goes by whole stream nodes (about 100 entries) below the slow group's oldest
    // pending entry: at least one node goes, and everything the slow group still holds stays.
    const removed = await driver.trimTopic(topic);
    const left = await raw.xlen(stream);
    expect(removed).toBeGreaterThanOrEqual(100);
    expect(left).toBe(250 - removed);
    const [oldest] = (await raw.xrange(stream, "-", "+", "COUNT", 1)) as Array<[string, string[]]>;
    const [pendingCount, firstHeld] = (await raw.xpending(stream, `${group}-slow`)) as [number, string];
    expect(pendingCount).toBe(30);
    expect(compareIds(oldest?.[0] ?? "", firstHeld)).toBeLessThanOrEqual(0);
    expect(await driver.figures(topic, `${group}-slow`)).toEqual({ depth: 30, lag: 0, inFlight: 30 });
    await Promise.all(slow.deliveries.slice(220).map((delivery) => delivery.ack()));
    await eventually(async () => expect(await driver.figures(topic, `${group}-slow`)).toEqual({ depth: 0, lag: 0, inFlight: 0 }));

    // A topic without groups: nobody can ever read its entries.
    const orphan = names().topic;
    await driver.publish(orphan, Array.from({ length: 250 }, (_, n) => message(n)));
    await driver.trimTopic(orphan);
    expect(await raw.xlen(topicStreamKey(PREFIX, orphan, "normal"))).toBeLessThan(100);
  });

  it("crashed consumers that hold nothing are forgotten by the group", async () => {
    const { topic, group } = names();
    const gone = await newDriver({ redeliveryAfterMs: 100 });
    const first = await consume(gone, { topic, group, consumer: "gone" });
    await gone.publish(topic, [message(1)]);
    await eventually(() => expect(first.deliveries).toHaveLength(1));
    await (first.deliveries[0] as BrokerDelivery).ack();
    await gone.close();
    const stream = topicStreamKey(PREFIX, topic, "normal");
    const consumerNames = async (): Promise<string[]> =>
      ((await raw.xinfo("CONSUMERS", stream, group)) as string[][]).map((flat) => flat[1] as string);
    expect(await consumerNames()).toContain("gone");

    const live = await newDriver({ redeliveryAfterMs: 100 });
    const second = await consume(live, { topic, group, consumer: "live" });
    await eventually(async () => expect(await consumerNames()).not.toContain("gone"), 10_000);
    // Forgetting a consumer that holds nothing is harmless: its next read recreates it.
    await live.publish(topic, [message(2)]);
    await eventually(() => expect(second.deliveries.map(numberOf)).toEqual([2]));
  });

  it("minReplicas: publish rejects as unavailable when no replica confirms", async () => {
    const driver = await newDriver({ minReplicas: 1, operationTimeoutMs: 150 });
    const { topic } = names();
    await expect(driver.publish(topic, [message(1)])).rejects.toMatchObject({ code: "unavailable", message: expect.stringContaining("0 of 1") });
  });

  it("options are validated, naming the option", () => {
    const attempt = (options: RedisDriverOptions) => () => createRedisDriver(options);
    expect(attempt({ url: "http://127.0.0.1:6379" })).toThrow(ValidationError);
    expect(attempt({ url: "http://127.0.0.1:6379" })).toThrow(/url/);
    expect(attempt({ url: REDIS_URL, redeliveryAfterMs: 0 })).toThrow(/redeliveryAfterMs/);
    expect(attempt({ url: REDIS_URL, keyPrefix: "a b" })).toThrow(/keyPrefix/);
    expect(attempt({ url: REDIS_URL, operationTimeoutMs: 1.5 })).toThrow(/operationTimeoutMs/);
    expect(attempt({ url: REDIS_URL, minReplicas: -1 })).toThrow(/minReplicas/);
    expect(() => new RedisDedupInbox({ url: REDIS_URL, windowSeconds: 0 })).toThrow(/windowSeconds/);
  });

  it("names with ':' cannot make two topics or groups share keys", () => {
    expect(topicStreamKey("p", "a:b", "high")).not.toBe(topicStreamKey("p", "a", "high"));
    expect(groupKeys("p", "a:b", "c").delayed).not.toBe(groupKeys("p", "a", "b:c").delayed);
  });

  it("figures of a group that was never created are zeros; ping answers", async () => {
    const driver = await newDriver();
    await driver.ping();
    expect(await driver.figures("never", "created")).toEqual({ depth: 0, lag: 0, inFlight: 0 });
  });

  describe("RedisDedupInbox", () => {
    let inboxes: RedisDedupInbox[] = [];
    afterEach(async () => {
      await Promise.all(inboxes.map((inbox) => inbox.close()));
      inboxes = [];
    });
    const newInbox = (windowSeconds?: number): RedisDedupInbox => {
      const inbox = new RedisDedupInbox({ url: REDIS_URL, keyPrefix: PREFIX, ...(windowSeconds === undefined ? {} : { windowSeconds }) });
      inboxes.push(inbox);
      return inbox;
    };

    it("remembers a message per subscription for the window (default 24 h), from the first record", async () => {
      const inbox = newInbox();
      const id = randomBytes(8).toString("hex");
      expect(await inbox.has("projections", id)).toBe(false);
      await inbox.record("projections", id);
      expect(await inbox.has("projections", id)).toBe(true);
      expect(await inbox.has("webhooks", id)).toBe(false);
      const ttl = await raw.ttl(`${PREFIX}:inbox:projections:${id}`);
      expect(ttl).toBeGreaterThan(24 * 3600 - 5);
      expect(ttl).toBeLessThanOrEqual(24 * 3600);

      await newInbox(60).record("projections", id);
      expect(await raw.ttl(`${PREFIX}:inbox:projections:${id}`)).toBeGreaterThan(3600);
    });

    it("forgets after the window", async () => {
      const inbox = newInbox(1);
      const id = randomBytes(8).toString("hex");
      await inbox.record("emails", id);
      expect(await inbox.has("emails", id)).toBe(true);
      await eventually(async () => expect(await inbox.has("emails", id)).toBe(false), 3_000, 100);
    });
  });
});
