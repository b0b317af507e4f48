import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { buildEnvelope, type EventEnvelope, type Priority, type StoredEvent } from "../core/envelope";
import { NonRetryableError } from "../core/errors";
import { toWireMessage } from "./codec";
import type { DeadLetter } from "./dead-letters";
import type { QueueFigures, TransportDriver, WireMessage } from "./driver";
import { InMemoryDeadLetterStore, InMemoryInbox } from "./memory-driver";
import {
  publishEvents,
  redrive,
  startSubscriber,
  type DeliveredEvent,
  type DeliveryContext,
  type RunningSubscriber,
  type SubscriberErrorInfo,
  type SubscriberOptions,
} from "./subscriber";

/**
 * The transport conformance suite: the same tests for every driver (memory, postgres, redis,
 * kafka, rabbitmq), run through the engine's Subscriber as users run it. An adapter's
 * integration test calls
 *
 *   describeTransportContract("redis", async ({ redeliveryAfterMs }) => new RedisDriver({ ... }));
 *
 * Every `makeDriver` call must return a new, independent driver (its own connections): the
 * suite uses two of them for competing consumers and "crashes" one by closing it with
 * deliveries unsettled. `redeliveryAfterMs` is how soon such deliveries must go back to the
 * group (lease / visibility timeout / pending-entry idle time / session timeout).
 *
 * Names are unique per test (`conf-<random>`), so runs never see each other's messages.
 * Conditions are awaited by polling (`eventually`), never by fixed sleeps.
 */

export interface TransportContractOptions {
  /** Passed to every makeDriver call. Default 1000. */
  redeliveryAfterMs?: number;
  /** How long a condition may take to become true (Kafka rebalances take seconds). Default 15 s. */
  eventuallyMs?: number;
}

export type MakeDriver = (options: { redeliveryAfterMs: number }) => Promise<TransportDriver>;

/** Polls `condition` until it returns without throwing and not `false`; rethrows its last error on timeout. */
export async function eventually<T>(condition: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = new Error("condition was false");
  for (;;) {
    try {
      const value = await condition();
      if (value !== false) return value;
      lastError = new Error("condition was false");
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`eventually: not true within ${timeoutMs} ms: ${detail}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class PoisonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PoisonError";
  }
}

interface TestData {
  n: number;
  key?: string;
  [field: string]: unknown;
}

function event(n: number, options: { key?: string; priority?: Priority; id?: string; data?: Record<string, unknown> } = {}): EventEnvelope<TestData> {
  return buildEnvelope<TestData>({
    type: "conformance.tested",
    data: { n, ...(options.key === undefined ? {} : { key: options.key }), ...options.data },
    ...(options.key === undefined ? {} : { partitionkey: options.key }),
    ...(options.priority === undefined ? {} : { priority: options.priority }),
    ...(options.id === undefined ? {} : { id: options.id }),
  });
}

const dataOf = (received: DeliveredEvent): TestData => received.data as TestData;

export function describeTransportContract(name: string, makeDriver: MakeDriver, options: TransportContractOptions = {}): void {
  const redeliveryAfterMs = options.redeliveryAfterMs ?? 1000;
  const within = options.eventuallyMs ?? 15_000;
  const testTimeout = 4 * within + 2 * redeliveryAfterMs;

  describe(`transport contract: ${name}`, () => {
    let drivers: TransportDriver[] = [];
    let subscribers: RunningSubscriber[] = [];
    let gates: Gate[] = [];
    let errors: SubscriberErrorInfo[] = [];

    afterEach(async () => {
      for (const opened of gates) opened.open();
      await Promise.allSettled(subscribers.map((subscriber) => subscriber.stop({ timeoutMs: 5_000 })));
      await Promise.allSettled(drivers.map((driver) => driver.close()));
      drivers = [];
      subscribers = [];
      gates = [];
      errors = [];
    });

    const newDriver = async (): Promise<TransportDriver> => {
      const driver = await makeDriver({ redeliveryAfterMs });
      drivers.push(driver);
      await driver.connect();
      return driver;
    };

    const names = (): { topic: string; group: string } => {
      const id = randomBytes(5).toString("hex");
      return { topic: `conf-${id}`, group: `conf-${id}-g` };
    };

    const newGate = (): Gate => {
      const created = gate();
      gates.push(created);
      return created;
    };

    type Options = Omit<SubscriberOptions, "deadLetters"> & Partial<Pick<SubscriberOptions, "deadLetters">>;
    const subscribe = async (driver: TransportDriver, subscriberOptions: Options): Promise<RunningSubscriber> => {
      const subscriber = await startSubscriber(driver, {
        deadLetters: new InMemoryDeadLetterStore(),
        onError: (info) => errors.push(info),
        ...subscriberOptions,
      });
      subscribers.push(subscriber);
      return subscriber;
    };

    const figures = (driver: TransportDriver, topic: string, group: string): Promise<QueueFigures> => driver.figures(topic, group);

    const expectFigures = async (driver: TransportDriver, topic: string, group: string, expected: QueueFigures): Promise<void> => {
      await eventually(async () => expect(await figures(driver, topic, group)).toEqual(expected), within);
    };

    it("connect and ping can be repeated", async () => {
      const driver = await newDriver();
      await driver.connect();
      await driver.ping();
      await driver.ping();
      expect(driver.kind).toBeTypeOf("string");
      expect(typeof driver.capabilities.keyAffinity).toBe("boolean");
    }, testTimeout);

    it("publish -> consume round trip keeps every envelope attribute intact", async () => {
      const driver = await newDriver();
      const { topic, group } = names();
      const received = new Map<string, { event: DeliveredEvent; context: DeliveryContext }>();
      await subscribe(driver, {
        topic,
        subscription: group,
        handler: async (delivered, context) => {
          received.set(delivered.id, { event: delivered, context });
        },
      });
      const full: StoredEvent = {
        ...buildEnvelope({
          type: "conformance.round_trip",
          source: "urn:eventloom:conformance",
          subject: "exam/42",
          dataschema: "https://eventloom.dev/schemas/conformance.round_trip/3.json",
          data: { text: "h\u00e9llo \u2713 \"quoted\" \\ back", nested: { list: [1, 2.5, null, true, "x"] }, empty: "", zero: 0 },
          causationid: "0190a5b0-0000-7000-8000-000000000001",
          correlationid: "0190a5b0-0000-7000-8000-000000000002",
          traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          tracestate: "vendor=opaque,other=1",
          priority: "high",
          partitionkey: "exam-42",
          schemaversion: 3,
          datacontenttype: "application/json; charset=utf-8",
        }),
        position: 1234,
        streamid: "exam-42",
        streamversion: 7,
      };
      const plain = buildEnvelope({ type: "conformance.round_trip", data: [1, "two", { three: 3 }] });
      await publishEvents(driver, topic, [full, plain]);

      await eventually(() => expect(received.size).toBe(2), within);
      expect(received.get(full.id)?.event).toEqual(full);
      expect(received.get(plain.id)?.event).toEqual(plain);
      expect(Object.keys(received.get(plain.id)?.event ?? {}).sort()).toEqual(Object.keys(plain).sort());
      expect(received.get(full.id)?.context).toEqual({ attempt: 1, subscription: group, messageId: full.id });
    }, testTimeout);

    it("batch publish of 500 in one call: every message delivered once", async () => {
      const driver = await newDriver();
      const { topic, group } = names();
      const seen = new Map<string, number>();
      await subscribe(driver, {
        topic,
        subscription: group,
        handler: async (delivered) => {
          seen.set(delivered.id, (seen.get(delivered.id) ?? 0) + 1);
        },
      });
      const events = Array.from({ length: 500 }, (_, n) => event(n, { key: `k${n % 10}` }));
      await publishEvents(driver, topic, events);

      await eventually(() => expect(seen.size).toBe(500), within);
      await expectFigures(driver, topic, group, { depth: 0, lag: 0, inFlight: 0 });
      expect([...seen.values()].every((count) => count === 1)).toBe(true);
      expect(events.every((sent) => seen.has(sent.id))).toBe(true);
    }, testTimeout);

    it("competing consumers (two drivers, one group) share the work without overlap and lose nothing", async () => {
      const [first, second] = [await newDriver(), await newDriver()];
      const { topic, group } = names();
      const handledBy = new Map<string, string[]>();
      const counts = { a: 0, b: 0 };
      const handler = (who: "a" | "b") => async (delivered: DeliveredEvent) => {
        counts[who] += 1;
        handledBy.set(delivered.id, [...(handledBy.get(delivered.id) ?? []), who]);
        await sleep(2);
      };
      await subscribe(first, { topic, subscription: group, consumer: `${group}-a`, concurrency: 4, handler: handler("a") });
      await subscribe(second, { topic, subscription: group, consumer: `${group}-b`, concurrency: 4, handler: handler("b") });

      // Waves until both consumers have had work (a broker may need a rebalance to include the
      // second one); each wave is settled before the next, so no rebalance catches one in flight.
      const published: string[] = [];
      const deadline = Date.now() + 3 * within;
      let wave = 0;
      while ((counts.a === 0 || counts.b === 0) && Date.now() < deadline) {
        const events = Array.from({ length: 40 }, (_, n) => event(wave * 40 + n, { key: `k${n % 20}` }));
        wave += 1;
        await publishEvents(first, topic, events);
        published.push(...events.map((sent) => sent.id));
        await eventually(() => expect(handledBy.size).toBe(published.length), within);
        await expectFigures(first, topic, group, { depth: 0, lag: 0, inFlight: 0 });
      }
      expect(counts.a).toBeGreaterThan(0);
      expect(counts.b).toBeGreaterThan(0);
      expect(published.every((id) => handledBy.has(id))).toBe(true);
      const overlapping = [...handledBy].filter(([, who]) => who.length !== 1);
      expect(overlapping).toEqual([]);
    }, testTimeout * 2);

    it("a second group gets its own copy of every message (pub/sub)", async () => {
      const driver = await newDriver();
      const { topic, group } = names();
      const other = `${group}-other`;
      const seen = { [group]: new Map<string, number>(), [other]: new Map<string, number>() };
      for (const subscription of [group, other]) {
        await subscribe(driver, {
          topic,
          subscription,
          handler: async (delivered, context) => {
            const map = seen[context.subscription] as Map<string, number>;
            map.set(delivered.id, (map.get(delivered.id) ?? 0) + 1);
          },
        });
      }
      const events = Array.from({ length: 50 }, (_, n) => event(n, { key: `k${n % 5}` }));
      await publishEvents(driver, topic, events);

      for (const subscription of [group, other]) {
        const map = seen[subscription] as Map<string, number>;
        await eventually(() => expect(map.size).toBe(50), within);
        await expectFigures(driver, topic, subscription, { depth: 0, lag: 0, inFlight: 0 });
        expect(events.every((sent) => map.get(sent.id) === 1)).toBe(true);
      }
    }, testTimeout);

    it("a delivery not settled when its consumer crashes is redelivered to another consumer, attempt counted up", async () => {
      const doomed = await newDriver();
      const { topic, group } = names();
      const stuck = newGate();
      const startedOnDoomed = new Set<string>();
      await subscribe(doomed, {
        topic,
        subscription: group,
        consumer: `${group}-doomed`,
        concurrency: 4,
        handler: async (delivered) => {
          startedOnDoomed.add(delivered.id);
          await stuck.promise;
        },
      });
      const events = [event(0, { key: "a" }), event(1, { key: "b" }), event(2, { key: "c" })];
      await publishEvents(doomed, topic, events);
      await eventually(() => expect(startedOnDoomed.size).toBe(3), within);

      // The crash: the driver goes away while its handlers still hold the deliveries.
      await doomed.close();

      const survivor = await newDriver();
      const attempts = new Map<string, number>();
      await subscribe(survivor, {
        topic,
        subscription: group,
        consumer: `${group}-survivor`,
        handler: async (delivered, context) => {
          attempts.set(delivered.id, context.attempt);
        },
      });
      await eventually(() => expect(attempts.size).toBe(3), within + 2 * redeliveryAfterMs);
      for (const sent of events) expect(attempts.get(sent.id)).toBeGreaterThanOrEqual(2);
      await expectFigures(survivor, topic, group, { depth: 0, lag: 0, inFlight: 0 });
    }, testTimeout);

    it("a failed delivery is retried with a growing delay (nack, backoff)", async () => {
      const driver = await newDriver();
      const { topic, group } = names();
      const calls: Array<{ attempt: number; at: number }> = [];
      const deadLetters = new InMemoryDeadLetterStore();
      const subscriber = await subscribe(driver, {
        topic,
        subscription: group,
        deadLetters,
        retry: { maxAttempts: 5, initialDelayMs: 300, multiplier: 3, jitter: 0 },
        handler: async (_delivered, context) => {
          calls.push({ attempt: context.attempt, at: performance.now() });
          if (calls.length <= 2) throw new Error(`transient failure ${calls.length}`);
        },
      });
      await publishEvents(driver, topic, event(0));

      await eventually(() => expect(subscriber.stats().processed).toBe(1), within + 2_000);
      expect(calls.map((call) => call.attempt)).toEqual([1, 2, 3]);
      const [first, second, third] = calls.map((call) => call.at) as [number, number, number];
      const gap1 = second - first;
      const gap2 = third - second;
      expect(gap1).toBeGreaterThanOrEqual(300 - 25);
      expect(gap2).toBeGreaterThanOrEqual(900 - 25);
      expect(gap2).toBeGreaterThan(gap1);
      expect(subscriber.stats()).toMatchObject({ failed: 2, retried: 2, deadLettered: 0 });
      expect((await deadLetters.list({ limit: 10 })).items).toEqual([]);
      await expectFigures(driver, topic, group, { depth: 0, lag: 0, inFlight: 0 });
    }, testTimeout);

    it("the last failure dead-letters with error type, message and attempts; other messages, of its key too, keep flowing", async () => {
      const driver = await newDriver();
      const { topic, group } = names();
      const deadLetters = new InMemoryDeadLetterStore();
      const goods = new Set<string>();
      let goodsWhenFinalAttemptStarted = -1;
      const poison = event(0, { key: "shared", data: { poison: true } });
      const sameKey = Array.from({ length: 10 }, (_, n) => event(n + 1, { key: "shared" }));
      const otherKeys = Array.from({ length: 10 }, (_, n) => event(n + 11, { key: `other-${n % 3}` }));
      await subscribe(driver, {
        topic,
        subscription: group,
        deadLetters,
        concurrency: 4,
        retry: { maxAttempts: 3, initialDelayMs: 500, multiplier: 2, jitter: 0 },
        handler: async (delivered, context) => {
          if (delivered.id === poison.id) {
            if (context.attempt === 3) goodsWhenFinalAttemptStarted = goods.size;
            throw new PoisonError("cannot digest this one");
          }
          goods.add(delivered.id);
        },
      });
      await publishEvents(driver, topic, [poison, ...sameKey, ...otherKeys]);

      const letter = await eventually(async () => {
        const { items } = await deadLetters.list({ limit: 10 });
        expect(items).toHaveLength(1);
        return items[0] as DeadLetter;
      }, within + 3_000);
      // The 20 good messages (10 behind the poison in its own key) did not wait for its retries.
      expect(goodsWhenFinalAttemptStarted).toBe(20);
      expect(goods.size).toBe(20);
      expect(letter).toMatchObject({
        subscription: group,
        topic,
        error: { type: "PoisonError", message: "cannot digest this one" },
        attempts: 3,
        message: { id: poison.id, key: "shared" },
      });
      expect(letter.message.headers.ce_type).toBe("conformance.tested");
      expect(Date.parse(letter.lastFailedAt) - Date.parse(letter.firstFailedAt)).toBeGreaterThanOrEqual(1_400);
      await expectFigures(driver, topic, group, { depth: 0, lag: 0, inFlight: 0 });
    }, testTimeout);

    it("a message that cannot be decoded is dead-lettered with DecodeError, acked, and the rest flows", async () => {
      const driver = await newDriver();
      const { topic, group } = names();
      const deadLetters = new InMemoryDeadLetterStore();
      const handled: string[] = [];
      await subscribe(driver, {
        topic,
        subscription: group,
        deadLetters,
        handler: async (delivered) => {
          handled.push(delivered.id);
        },
      });
      const broken = event(0, { key: "k" });
      const raw: WireMessage = toWireMessage(broken);
      delete raw.headers.ce_type;
      const good = event(1, { key: "k" });
      await driver.publish(topic, [raw, toWireMessage(good)]);

      await eventually(() => expect(handled).toEqual([good.id]), within);
      const letter = await eventually(async () => {
        const { items } = await deadLetters.list({ limit: 10 });
        expect(items).toHaveLength(1);
        return items[0] as DeadLetter;
      }, within);
      expect(letter).toMatchObject({ subscription: group, topic, attempts: 1, error: { type: "DecodeError" }, message: { id: broken.id } });
      expect(letter.error.message).toContain("ce_type");
      await expectFigures(driver, topic, group, { depth: 0, lag: 0, inFlight: 0 });
    }, testTimeout);

    it("a duplicate delivery (same event id published twice) produces one effect", async () => {
      const driver = await newDriver();
      const { topic, group } = names();
      const effects = new Map<string, number>();
      await subscribe(driver, {
        topic,
        subscription: group,
        inbox: new InMemoryInbox(),
        handler: async (delivered) => {
          effects.set(delivered.id, (effects.get(delivered.id) ?? 0) + 1);
        },
      });
      const once = event(0, { key: "dup" });
      const marker = event(1, { key: "dup" });
      await publishEvents(driver, topic, once);
      await publishEvents(driver, topic, once);
      await publishEvents(driver, topic, marker);

      await eventually(() => expect(effects.get(marker.id)).toBe(1), within);
      await expectFigures(driver, topic, group, { depth: 0, lag: 0, inFlight: 0 });
      expect(effects.get(once.id)).toBe(1);
    }, testTimeout);

    it("order per key holds while different keys run in parallel", async () => {
      const driver = await newDriver();
      const { topic, group } = names();
      const keys = Array.from({ length: 8 }, (_, n) => `key-${n}`);
      const perKey = new Map<string, number[]>(keys.map((key) => [key, []]));
      const activeKeys = new Set<string>();
      const sameKeyOverlaps: string[] = [];
      let running = 0;
      let maxRunning = 0;
      await subscribe(driver, {
        topic,
        subscription: group,
        concurrency: 8,
        handler: async (delivered) => {
          const { n, key } = dataOf(delivered) as { n: number; key: string };
          if (activeKeys.has(key)) sameKeyOverlaps.push(key);
          activeKeys.add(key);
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          await sleep(Math.floor(Math.random() * 4));
          perKey.get(key)?.push(n);
          running -= 1;
          activeKeys.delete(key);
        },
      });
      const events: EventEnvelope[] = [];
      for (let n = 0; n < 25; n += 1) for (const key of keys) events.push(event(n, { key }));
      await publishEvents(driver, topic, events);

      await eventually(() => expect([...perKey.values()].reduce((sum, list) => sum + list.length, 0)).toBe(200), within);
      const expected = Array.from({ length: 25 }, (_, n) => n);
      for (const key of keys) expect(perKey.get(key), `order of ${key}`).toEqual(expected);
      expect(sameKeyOverlaps).toEqual([]);
      expect(maxRunning).toBeGreaterThan(1);
    }, testTimeout);

    it("under a backlog, high priority is handled before normal before low", async () => {
      const driver = await newDriver();
      const { topic, group } = names();
      await driver.ensureGroup(topic, group);
      const byPriority = (priority: Priority, offset: number): EventEnvelope[] =>
        Array.from({ length: 10 }, (_, n) => event(offset + n, { key: `${priority}-${n}`, priority }));
      await publishEvents(driver, topic, byPriority("low", 0));
      await publishEvents(driver, topic, byPriority("normal", 10));
      await publishEvents(driver, topic, byPriority("high", 20));
      await expectFigures(driver, topic, group, { depth: 30, lag: 30, inFlight: 0 });

      const order: Priority[] = [];
      await subscribe(driver, {
        topic,
        subscription: group,
        concurrency: 1,
        handler: async (delivered) => {
          order.push(delivered.priority);
        },
      });
      await eventually(() => expect(order).toHaveLength(30), within);
      expect(order).toEqual([...Array(10).fill("high"), ...Array(10).fill("normal"), ...Array(10).fill("low")]);
    }, testTimeout);

    it("stop() drains: started handlers finish and are acked, nothing more is handled, a restart gets the rest", async () => {
      const driver = await newDriver();
      const { topic, group } = names();
      const slow = newGate();
      const startedA: string[] = [];
      const finishedA: string[] = [];
      const handledB: string[] = [];
      const perKey = new Map<string, number[]>();
      const note = (delivered: DeliveredEvent): void => {
        const { n, key } = dataOf(delivered) as { n: number; key: string };
        perKey.set(key, [...(perKey.get(key) ?? []), n]);
      };
      const first = await subscribe(driver, {
        topic,
        subscription: group,
        consumer: `${group}-first`,
        concurrency: 2,
        prefetch: 4,
        handler: async (delivered) => {
          startedA.push(delivered.id);
          await slow.promise;
          note(delivered);
          finishedA.push(delivered.id);
        },
      });
      const before = Array.from({ length: 30 }, (_, n) => event(n, { key: `k${n % 6}` }));
      await publishEvents(driver, topic, before);
      await eventually(() => expect(startedA.length).toBe(2), within);

      const stopping = first.stop();
      slow.open();
      await stopping;
      const handledAtStop = startedA.length;
      expect(finishedA).toEqual(startedA);
      expect(first.stats()).toMatchObject({ inFlight: 0, running: 0 });
      await expectFigures(driver, topic, group, { depth: 30 - handledAtStop, lag: 30 - handledAtStop, inFlight: 0 });

      const after = Array.from({ length: 10 }, (_, n) => event(30 + n, { key: `k${n % 6}` }));
      await publishEvents(driver, topic, after);
      await subscribe(driver, {
        topic,
        subscription: group,
        consumer: `${group}-second`,
        handler: async (delivered) => {
          note(delivered);
          handledB.push(delivered.id);
        },
      });
      const all = [...before, ...after].map((sent) => sent.id);
      await eventually(() => expect(finishedA.length + handledB.length).toBe(40), within);
      await expectFigures(driver, topic, group, { depth: 0, lag: 0, inFlight: 0 });
      expect(startedA).toHaveLength(handledAtStop);
      expect(new Set([...finishedA, ...handledB])).toEqual(new Set(all));
      expect(finishedA.filter((id) => handledB.includes(id))).toEqual([]);
      for (const [key, list] of perKey) expect(list, `order of ${key}`).toEqual([...list].sort((a, b) => a - b));
    }, testTimeout);

    it("figures: depth and lag count the backlog, inFlight the deliveries in progress, all 0 once acked", async () => {
      const driver = await newDriver();
      const { topic, group } = names();
      await driver.ensureGroup(topic, group);
      await publishEvents(driver, topic, Array.from({ length: 5 }, (_, n) => event(n, { key: `k${n}` })));
      await expectFigures(driver, topic, group, { depth: 5, lag: 5, inFlight: 0 });

      const blocked = newGate();
      let started = 0;
      await subscribe(driver, {
        topic,
        subscription: group,
        concurrency: 5,
        prefetch: 5,
        handler: async () => {
          started += 1;
          await blocked.promise;
        },
      });
      await eventually(() => expect(started).toBe(5), within);
      await expectFigures(driver, topic, group, { depth: 5, lag: 0, inFlight: 5 });
      blocked.open();
      await expectFigures(driver, topic, group, { depth: 0, lag: 0, inFlight: 0 });
    }, testTimeout);

    it("a redriven dead letter is delivered again (attempt 1) and succeeds", async () => {
      const driver = await newDriver();
      const { topic, group } = names();
      const deadLetters = new InMemoryDeadLetterStore();
      const sent = event(0, { key: "redrive" });
      let broken = true;
      const successes: DeliveryContext[] = [];
      await subscribe(driver, {
        topic,
        subscription: group,
        deadLetters,
        handler: async (_delivered, context) => {
          if (broken) throw new NonRetryableError("the downstream rejects it");
          successes.push(context);
        },
      });
      await publishEvents(driver, topic, sent);
      const letter = await eventually(async () => {
        const { items } = await deadLetters.list({ limit: 10 });
        expect(items).toHaveLength(1);
        return items[0] as DeadLetter;
      }, within);
      expect(letter).toMatchObject({ attempts: 1, error: { type: "NonRetryableError" }, message: { id: sent.id } });
      await expectFigures(driver, topic, group, { depth: 0, lag: 0, inFlight: 0 });

      broken = false;
      await redrive(driver, deadLetters, letter.id);
      await eventually(() => expect(successes).toEqual([{ attempt: 1, subscription: group, messageId: sent.id }]), within);
      expect(await deadLetters.get(letter.id)).toBeUndefined();
      await expectFigures(driver, topic, group, { depth: 0, lag: 0, inFlight: 0 });
    }, testTimeout);
  });
}
