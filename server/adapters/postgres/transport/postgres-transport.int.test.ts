import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildEnvelope, type Priority } from "@/server/engine/core/envelope";
import { ValidationError } from "@/server/engine/core/errors";
import { toWireMessage } from "@/server/engine/transport/codec";
import type { DeadLetter } from "@/server/engine/transport/dead-letters";
import type { BrokerDelivery, TransportDriver, WireMessage } from "@/server/engine/transport/driver";
import { InMemoryDeadLetterStore } from "@/server/engine/transport/memory-driver";
import { publishEvents, startSubscriber, type RunningSubscriber } from "@/server/engine/transport/subscriber";
import { describeTransportContract, eventually } from "@/server/engine/transport/transport.contract";
import { migrate, openDatabase, type Database } from "../database";
import { createTestDatabase, type TestDatabase } from "../test-database";
import { createPostgresDriver, type PostgresDriverOptions } from "./postgres-driver";
import { PostgresDeadLetterStore } from "./postgres-dead-letter-store";
import { PostgresInbox, withInbox } from "./postgres-inbox";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const names = () => {
  const id = randomBytes(5).toString("hex");
  return { topic: `pg-${id}`, group: `pg-${id}-g` };
};
const wire = (n: number, options: { key?: string; priority?: Priority } = {}): WireMessage =>
  toWireMessage(
    buildEnvelope({
      type: "transport.tested",
      data: { n },
      ...(options.key === undefined ? {} : { partitionkey: options.key }),
      ...(options.priority === undefined ? {} : { priority: options.priority }),
    }),
  );

/** What the behaviour tests need from a backend: new drivers, and the Database the test itself reads. */
interface Backend {
  makeDriver(options?: Omit<PostgresDriverOptions, "database" | "databaseUrl">): TransportDriver;
  database(): Database;
}

/** Driver behaviour beyond the contract, the same on both backends. */
function describeDriverBehaviour(backend: Backend): void {
  let drivers: TransportDriver[] = [];
  let subscribers: RunningSubscriber[] = [];
  const driver = (options?: Omit<PostgresDriverOptions, "database" | "databaseUrl">) => {
    const made = backend.makeDriver(options);
    drivers.push(made);
    return made;
  };
  /** Hands deliveries to the test unsettled, in arrival order. */
  const collect = async (on: TransportDriver, topic: string, group: string, consumer: string, prefetch = 10) => {
    const deliveries: BrokerDelivery[] = [];
    const handle = await on.consume({ topic, group, consumer, prefetch }, (delivery) => deliveries.push(delivery));
    return { deliveries, handle };
  };

  afterEach(async () => {
    await Promise.allSettled(subscribers.map((subscriber) => subscriber.stop({ timeoutMs: 5_000 })));
    await Promise.allSettled(drivers.map((made) => made.close()));
    drivers = [];
    subscribers = [];
  });

  it("never lets two consumers hold one key at once, and keeps each key's order across them", async () => {
    const [first, second] = [driver({ redeliveryAfterMs: 2_000 }), driver({ redeliveryAfterMs: 2_000 })];
    const { topic, group } = names();
    const holders = new Map<string, string>();
    const overlaps: string[] = [];
    const order = new Map<string, number[]>();
    const handlerOf = (who: string) => async (event: { data: unknown }) => {
      const { n, key } = event.data as { n: number; key: string };
      const holder = holders.get(key);
      if (holder !== undefined && holder !== who) overlaps.push(`${key}: ${holder} and ${who}`);
      holders.set(key, who);
      await sleep(n % 3);
      order.set(key, [...(order.get(key) ?? []), n]);
      holders.delete(key);
    };
    for (const [who, on] of [["a", first], ["b", second]] as const) {
      subscribers.push(
        await startSubscriber(on, { topic, subscription: group, consumer: `${group}-${who}`, concurrency: 8, deadLetters: new InMemoryDeadLetterStore(), handler: handlerOf(who) }),
      );
    }
    const keys = Array.from({ length: 6 }, (_, k) => `key-${k}`);
    for (let wave = 0; wave < 4; wave += 1) {
      const events = Array.from({ length: 60 }, (_, i) => {
        const n = wave * 60 + i;
        const key = keys[n % keys.length] as string;
        return buildEnvelope({ type: "transport.tested", partitionkey: key, data: { n, key } });
      });
      await publishEvents(wave % 2 === 0 ? first : second, topic, events);
    }
    await eventually(() => expect([...order.values()].reduce((sum, list) => sum + list.length, 0)).toBe(240), 20_000);
    expect(overlaps).toEqual([]);
    for (const [key, list] of order) expect(list, `order of ${key}`).toEqual([...list].sort((a, b) => a - b));
    const [a, b] = subscribers.map((subscriber) => subscriber.stats().processed);
    expect(a! + b!).toBe(240);
  });

  it("renews the lease of a slow delivery, so a live consumer's message is not redelivered", async () => {
    const slowDriver = driver({ redeliveryAfterMs: 300 });
    const otherDriver = driver({ redeliveryAfterMs: 300 });
    const { topic, group } = names();
    const seen: Array<{ who: string; attempt: number }> = [];
    const handler = (who: string) => async (_event: unknown, context: { attempt: number }) => {
      seen.push({ who, attempt: context.attempt });
      if (who === "slow") await sleep(1_200);
    };
    subscribers.push(await startSubscriber(slowDriver, { topic, subscription: group, consumer: "slow", deadLetters: new InMemoryDeadLetterStore(), handler: handler("slow") }));
    await slowDriver.publish(topic, [wire(1)]);
    await eventually(() => expect(seen).toHaveLength(1));
    subscribers.push(await startSubscriber(otherDriver, { topic, subscription: group, consumer: "other", deadLetters: new InMemoryDeadLetterStore(), handler: handler("other") }));
    await eventually(async () => expect(await slowDriver.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 }), 5_000);
    expect(seen).toEqual([{ who: "slow", attempt: 1 }]);
  });

  it("a message in retry counts in depth and lag, not in flight; redeliver adds to one group only", async () => {
    const on = driver();
    const { topic, group } = names();
    const other = `${group}-other`;
    await on.ensureGroup(topic, group);
    await on.ensureGroup(topic, other);
    await on.ensureGroup(topic, other);
    const { deliveries } = await collect(on, topic, group, "c1");
    await on.publish(topic, [wire(1)]);
    await eventually(() => expect(deliveries).toHaveLength(1));
    expect(await on.figures(topic, group)).toEqual({ depth: 1, lag: 0, inFlight: 1 });
    await deliveries[0]!.retry(60_000);
    expect(await on.figures(topic, group)).toEqual({ depth: 1, lag: 1, inFlight: 0 });

    await on.redeliver(topic, group, wire(2));
    await eventually(() => expect(deliveries).toHaveLength(2));
    expect(deliveries[1]!.attempt).toBe(1);
    expect(await on.figures(topic, group)).toEqual({ depth: 2, lag: 1, inFlight: 1 });
    expect(await on.figures(topic, other)).toEqual({ depth: 1, lag: 1, inFlight: 0 });
    expect(await on.figures(topic, "no-such-group")).toEqual({ depth: 0, lag: 0, inFlight: 0 });
  });

  it("a retry steps out of line: later messages of its key go first, and it comes back with attempt 2", async () => {
    const on = driver();
    const { topic, group } = names();
    await on.ensureGroup(topic, group);
    const { deliveries } = await collect(on, topic, group, "c1", 1);
    const messages = [wire(1, { key: "k" }), wire(2, { key: "k" }), wire(3, { key: "k" })];
    await on.publish(topic, messages);
    await eventually(() => expect(deliveries).toHaveLength(1));
    await deliveries[0]!.retry(300);
    for (const index of [1, 2]) {
      await eventually(() => expect(deliveries).toHaveLength(index + 1));
      await deliveries[index]!.ack();
    }
    await eventually(() => expect(deliveries).toHaveLength(4), 3_000);
    expect(deliveries.map((delivery) => [delivery.message.id, delivery.attempt])).toEqual([
      [messages[0]!.id, 1],
      [messages[1]!.id, 1],
      [messages[2]!.id, 1],
      [messages[0]!.id, 2],
    ]);
  });

  it("a stale delivery (its consumer lapsed and another consumer took the row) settles nothing", async () => {
    const [first, second] = [driver(), driver()];
    const { topic, group } = names();
    await first.ensureGroup(topic, group);
    const stalled = await collect(first, topic, group, "stalled");
    await first.publish(topic, [wire(1)]);
    await eventually(() => expect(stalled.deliveries).toHaveLength(1));
    await stalled.handle.stop();
    // As if its process had stalled past redeliveryAfterMs without renewing.
    await backend.database().rows(sql`update eventloom_transport_consumers set expires_at = now() - interval '1 second' where topic = ${topic}`);
    const taker = await collect(second, topic, group, "taker");
    await eventually(() => expect(taker.deliveries).toHaveLength(1));
    expect(taker.deliveries[0]!.attempt).toBe(2);

    await stalled.deliveries[0]!.ack();
    await expect(stalled.deliveries[0]!.ack()).rejects.toThrow(/already settled/);
    // The stale ack is written (and deletes nothing) before the stalled driver closes.
    await first.close();
    expect(await second.figures(topic, group)).toEqual({ depth: 1, lag: 0, inFlight: 1 });
    await taker.deliveries[0]!.ack();
    await eventually(async () => expect(await second.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 }));
  });

  it("publishing to a topic without groups stores nothing; settling after close rejects", async () => {
    const on = driver();
    const { topic, group } = names();
    await on.publish(topic, [wire(1)]);
    await on.ensureGroup(topic, group);
    expect(await on.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 });
    const { deliveries } = await collect(on, topic, group, "c1");
    await on.publish(topic, [wire(2)]);
    await eventually(() => expect(deliveries).toHaveLength(1));
    await on.close();
    await expect(deliveries[0]!.ack()).rejects.toThrow(/closed/);
    await expect(on.publish(topic, [wire(3)])).rejects.toThrow(/closed/);
  });
}

/** The dead-letter store and the inbox, the same on both backends. */
function describeStores(database: () => Database): void {
  const letter = (subscription: string, messageId: string, errorType: string, at: string): Omit<DeadLetter, "id"> => ({
    subscription,
    topic: "orders",
    message: { ...wire(1), id: messageId },
    error: { type: errorType, message: `${errorType} happened` },
    attempts: 3,
    firstFailedAt: at,
    lastFailedAt: at,
  });

  it("dead letters: one entry per (subscription, message), updated in place, earliest first failure kept", async () => {
    const store = new PostgresDeadLetterStore(database());
    const subscription = `dl-${randomBytes(4).toString("hex")}`;
    const first = await store.add(letter(subscription, "m1", "Timeout", "2030-01-01T00:00:05.000Z"));
    expect(first).toMatchObject({ subscription, topic: "orders", attempts: 3, firstFailedAt: "2030-01-01T00:00:05.000Z", error: { type: "Timeout" } });
    expect(first.message.headers.ce_type).toBe("transport.tested");
    const second = { ...letter(subscription, "m1", "Refused", "2030-01-01T00:00:09.000Z"), attempts: 1, firstFailedAt: "2030-01-01T00:00:07.000Z" };
    const again = await store.add(second);
    expect(again).toEqual({ ...second, id: first.id, firstFailedAt: "2030-01-01T00:00:05.000Z" });
    expect(await store.get(first.id)).toEqual(again);
    expect((await store.list({ subscription, limit: 10 })).items).toHaveLength(1);
  });

  it("dead letters: list in id order with filters and an exclusive cursor; get, remove, summary", async () => {
    const store = new PostgresDeadLetterStore(database());
    const subscription = `dl-${randomBytes(4).toString("hex")}`;
    const other = `${subscription}-other`;
    const added: DeadLetter[] = [];
    for (let n = 0; n < 5; n += 1) added.push(await store.add(letter(subscription, `m${n}`, n % 2 === 0 ? "Timeout" : "Refused", "2030-01-01T00:00:00.000Z")));
    await store.add(letter(other, "m0", "Timeout", "2030-01-01T00:00:00.000Z"));

    const page1 = await store.list({ subscription, limit: 2 });
    expect(page1.items.map((item) => item.message.id)).toEqual(["m0", "m1"]);
    expect(page1.next).toBe(added[1]!.id);
    const page2 = await store.list({ subscription, limit: 2, after: page1.next! });
    const page3 = await store.list({ subscription, limit: 2, after: page2.next! });
    expect(page2.items.map((item) => item.message.id)).toEqual(["m2", "m3"]);
    expect(page3).toEqual({ items: [added[4]], next: null });
    expect((await store.list({ subscription, errorType: "Timeout", limit: 10 })).items.map((item) => item.message.id)).toEqual(["m0", "m2", "m4"]);
    expect(await store.list({ subscription, limit: 0 })).toEqual({ items: [], next: null });
    await expect(store.list({ subscription, limit: 2, after: "not-a-cursor" })).rejects.toBeInstanceOf(ValidationError);

    const summary = (await store.summary()).filter((row) => row.subscription.startsWith(subscription));
    expect(summary).toEqual([
      { subscription, errorType: "Refused", count: 2 },
      { subscription, errorType: "Timeout", count: 3 },
      { subscription: other, errorType: "Timeout", count: 1 },
    ]);
    expect(await store.remove(added[0]!.id)).toBe(true);
    expect(await store.remove(added[0]!.id)).toBe(false);
    expect(await store.get(added[0]!.id)).toBeUndefined();
    expect(await store.get("nope")).toBeUndefined();
    await expect(store.add({ ...letter(subscription, "bad", "X", "yesterday") })).rejects.toThrow(/firstFailedAt/);
  });

  it("inbox: records once, answers has() per subscription", async () => {
    const store = new PostgresInbox(database());
    const subscription = `in-${randomBytes(4).toString("hex")}`;
    expect(await store.has(subscription, "m1")).toBe(false);
    await store.record(subscription, "m1");
    await store.record(subscription, "m1");
    expect(await store.has(subscription, "m1")).toBe(true);
    expect(await store.has(`${subscription}-other`, "m1")).toBe(false);
  });

  it("withInbox: a repeat is a duplicate; an effect that throws rolls its inbox row back", async () => {
    const db = database();
    const subscription = `in-${randomBytes(4).toString("hex")}`;
    const inbox = new PostgresInbox(db);
    const applied: string[] = [];
    await expect(
      withInbox(db, subscription, "m1", async () => {
        throw new Error("effect failed");
      }),
    ).rejects.toThrow("effect failed");
    expect(await inbox.has(subscription, "m1")).toBe(false);
    expect(await withInbox(db, subscription, "m1", async () => void applied.push("m1"))).toBe("applied");
    expect(await withInbox(db, subscription, "m1", async () => void applied.push("m1 again"))).toBe("duplicate");
    expect(applied).toEqual(["m1"]);
    expect(await inbox.has(subscription, "m1")).toBe(true);
  });
}

describe("Postgres transport on PGlite", () => {
  let dataDir: string;
  let database: Database;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "eventloom-transport-"));
    database = await openDatabase({ dataDir });
    await migrate(database);
  });

  afterAll(async () => {
    await database.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  // PGlite is one embedded session: the drivers share it (each its own consumers, settles, timers).
  describeTransportContract("postgres on PGlite", async ({ redeliveryAfterMs }) => createPostgresDriver({ database, redeliveryAfterMs }));

  describeDriverBehaviour({ makeDriver: (options) => createPostgresDriver({ ...options, database }), database: () => database });
  describeStores(() => database);

  it("keeps unsettled messages across a restart of the embedded database", async () => {
    const { topic, group } = names();
    const before = createPostgresDriver({ database });
    await before.ensureGroup(topic, group);
    await before.publish(topic, [wire(1), wire(2)]);
    await before.close();
    await database.close();
    database = await openDatabase({ dataDir });
    await migrate(database);

    const after = createPostgresDriver({ database });
    const received: string[] = [];
    await after.consume({ topic, group, consumer: "after-restart", prefetch: 10 }, (delivery) => {
      received.push(delivery.message.body);
      void delivery.ack();
    });
    await eventually(() => expect(received).toEqual(['{"n":1}', '{"n":2}']));
    await after.close();
  });
});

describe("Postgres transport on PostgreSQL", () => {
  let testDb: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase("eventloom_transport");
    database = await openDatabase({ databaseUrl: testDb.url });
    await migrate(database);
  });

  afterAll(async () => {
    await database.close();
    await testDb.drop();
  });

  describeTransportContract("postgres on PostgreSQL", async ({ redeliveryAfterMs }) => createPostgresDriver({ databaseUrl: testDb.url, redeliveryAfterMs }));

  describeDriverBehaviour({ makeDriver: (options) => createPostgresDriver({ ...options, databaseUrl: testDb.url }), database: () => database });
  describeStores(() => database);

  it("carries the envelope as native data: a plain postgres.js client reads the ce_* headers and the body", async () => {
    const driver = createPostgresDriver({ databaseUrl: testDb.url });
    const raw = postgres(testDb.url, { max: 1, onnotice: () => {} });
    try {
      const { topic, group } = names();
      await driver.ensureGroup(topic, group);
      const event = buildEnvelope({
        type: "exam.created",
        data: { examId: "e-1" },
        subject: "exam/e-1",
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        priority: "high",
      });
      await publishEvents(driver, topic, event);
      const [row] = await raw`
        select headers->>'ce_type' as type, headers->>'ce_id' as id, headers->>'ce_correlationid' as correlationid,
               headers->>'ce_traceparent' as traceparent, headers->>'ce_priority' as priority, body::jsonb->>'examId' as exam,
               key, priority as level
          from eventloom_transport_messages where topic = ${topic} and group_name = ${group}`;
      expect(row).toMatchObject({ type: "exam.created", id: event.id, correlationid: event.correlationid, priority: "high", exam: "e-1", key: "exam/e-1", level: 0 });
      expect(row?.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    } finally {
      await raw.end();
      await driver.close();
    }
  });

  it("survives its connections being cut: consumers resume and no message is lost", async () => {
    const errors: unknown[] = [];
    const driver = createPostgresDriver({ databaseUrl: testDb.url, redeliveryAfterMs: 1_000, onError: (error) => errors.push(error) });
    const { topic, group } = names();
    const handled = new Set<string>();
    const subscriber = await startSubscriber(driver, {
      topic,
      subscription: group,
      deadLetters: new InMemoryDeadLetterStore(),
      handler: async (event) => void handled.add(event.id),
    });
    try {
      const batch = (offset: number) => Array.from({ length: 50 }, (_, n) => wire(offset + n, { key: `k${n % 7}` }));
      await driver.publish(topic, batch(0));
      await eventually(() => expect(handled.size).toBe(50));

      expect(await testDb.terminateSessions()).toBeGreaterThan(0);
      // The client notices the cut on its next use; the publisher retries as any caller would.
      await eventually(() => driver.publish(topic, batch(50)).then(() => true), 10_000, 100);
      await eventually(() => expect(handled.size).toBeGreaterThanOrEqual(100), 10_000);
      await eventually(async () => expect(await driver.figures(topic, group)).toEqual({ depth: 0, lag: 0, inFlight: 0 }), 10_000);
    } finally {
      await subscriber.stop({ timeoutMs: 5_000 });
      await driver.close();
    }
  });

  it("wakes another process's consumer by NOTIFY (no poll), also once its connections were cut", async () => {
    // A poll of a minute: only the notification can bring these messages within the test.
    const consumerDriver = createPostgresDriver({ databaseUrl: testDb.url, pollIntervalMs: 60_000 });
    const publisherDriver = createPostgresDriver({ databaseUrl: testDb.url });
    const { topic, group } = names();
    const received: string[] = [];
    try {
      await consumerDriver.ensureGroup(topic, group);
      await consumerDriver.consume({ topic, group, consumer: "listener", prefetch: 10 }, (delivery) => {
        received.push(delivery.message.body);
        void delivery.ack();
      });
      await publisherDriver.publish(topic, [wire(1)]);
      await eventually(() => expect(received).toEqual(['{"n":1}']), 5_000);

      await testDb.terminateSessions();
      // postgres.js listens again once it has reconnected; until then a publish may go unheard.
      await eventually(
        async () => {
          await publisherDriver.publish(topic, [wire(received.length + 1)]);
          await eventually(() => expect(received.length).toBeGreaterThan(1), 1_000, 50);
        },
        10_000,
        200,
      );
    } finally {
      await Promise.all([consumerDriver.close(), publisherDriver.close()]);
    }
  });

  it("withInbox: of two transactions racing on one message, exactly one applies", async () => {
    await database.rows(sql`create table if not exists inbox_effects (subscription text, message_id text, by text)`);
    const [one, two] = await Promise.all([openDatabase({ databaseUrl: testDb.url, poolSize: 1 }), openDatabase({ databaseUrl: testDb.url, poolSize: 1 })]);
    try {
      for (const firstFails of [false, true]) {
        const subscription = `race-${randomBytes(4).toString("hex")}`;
        const effect = (db: Database, by: string, fail: boolean) =>
          withInbox(db, subscription, "m1", async (tx) => {
            await tx.execute(sql`insert into inbox_effects values (${subscription}, 'm1', ${by})`);
            // Hold the transaction open so the other one is surely waiting on our inbox row.
            await tx.execute(sql`select pg_sleep(0.3)`);
            if (fail) throw new Error("effect failed");
          });
        const first = effect(one, "one", firstFails);
        await sleep(50);
        const second = effect(two, "two", false);
        const outcomes = await Promise.allSettled([first, second]);
        const effects = await database.rows<{ by: string }>(sql`select by from inbox_effects where subscription = ${subscription}`);
        if (firstFails) {
          expect(outcomes[0].status).toBe("rejected");
          expect(outcomes[1]).toEqual({ status: "fulfilled", value: "applied" });
          expect(effects).toEqual([{ by: "two" }]);
        } else {
          expect(outcomes).toEqual([
            { status: "fulfilled", value: "applied" },
            { status: "fulfilled", value: "duplicate" },
          ]);
          expect(effects).toEqual([{ by: "one" }]);
        }
      }
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it("rejects bad options, naming the option", () => {
    expect(() => createPostgresDriver({})).toThrow(/database and databaseUrl/);
    expect(() => createPostgresDriver({ database, databaseUrl: testDb.url })).toThrow(/database and databaseUrl/);
    expect(() => createPostgresDriver({ databaseUrl: "mysql://x" })).toThrow(/databaseUrl/);
    expect(() => createPostgresDriver({ database, poolSize: 3 })).toThrow(/poolSize/);
    expect(() => createPostgresDriver({ database, redeliveryAfterMs: 10 })).toThrow(/redeliveryAfterMs/);
    expect(() => createPostgresDriver({ database, pollIntervalMs: 1.5 })).toThrow(/pollIntervalMs/);
  });
});
