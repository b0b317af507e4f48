import { describe, expect, it } from "vitest";
import { FakeClock } from "../core/clock";
import { buildEnvelope, type Priority } from "../core/envelope";
import { toWireMessage } from "./codec";
import type { DeadLetter, DeadLetterStore } from "./dead-letters";
import type { BrokerDelivery, ConsumeSpec, QueueFigures, TransportDriver, WireMessage } from "./driver";
import { InMemoryDeadLetterStore, InMemoryInbox, MemoryBroker } from "./memory-driver";
import {
  TransportPublisher,
  defaultConsumerName,
  redriveMatching,
  startSubscriber,
  type SubscriberErrorInfo,
} from "./subscriber";
import { eventually } from "./transport.contract";

/** A driver the test hands deliveries to by hand, recording how each was settled. */
class HandDriver implements TransportDriver {
  readonly kind = "memory" as const;
  readonly capabilities = { keyAffinity: true };
  readonly published: Array<{ topic: string; messages: WireMessage[] }> = [];
  readonly redelivered: Array<{ topic: string; group: string; message: WireMessage }> = [];
  readonly settled: Array<{ id: string; how: "ack" | "retry"; delayMs?: number }> = [];
  spec: ConsumeSpec | undefined;
  stopped = false;
  settleFails = false;
  private onDelivery: ((delivery: BrokerDelivery) => void) | undefined;

  async connect(): Promise<void> {}
  async ensureGroup(): Promise<void> {}
  async publish(topic: string, messages: WireMessage[]): Promise<void> {
    this.published.push({ topic, messages });
  }
  async consume(spec: ConsumeSpec, onDelivery: (delivery: BrokerDelivery) => void) {
    this.spec = spec;
    this.onDelivery = onDelivery;
    return { stop: async () => void (this.stopped = true) };
  }
  async redeliver(topic: string, group: string, message: WireMessage): Promise<void> {
    this.redelivered.push({ topic, group, message });
  }
  async figures(): Promise<QueueFigures> {
    return { depth: 0, lag: 0, inFlight: 0 };
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}

  deliver(message: WireMessage, attempt = 1): void {
    const settle = async (how: "ack" | "retry", delayMs?: number): Promise<void> => {
      if (this.settleFails) throw new Error("broker gone");
      this.settled.push({ id: message.id, how, ...(delayMs === undefined ? {} : { delayMs }) });
    };
    this.onDelivery?.({ message, attempt, ack: () => settle("ack"), retry: (delayMs) => settle("retry", delayMs) });
  }
}

const wire = (n: number, options: { key?: string; priority?: Priority } = {}): WireMessage =>
  toWireMessage(buildEnvelope({ type: "unit.tested", data: { n }, partitionkey: options.key ?? `k${n}`, priority: options.priority ?? "normal" }));

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("startSubscriber", () => {
  it("uses the defaults: consumer name, concurrency 16, prefetch 2 x concurrency", async () => {
    const driver = new HandDriver();
    const subscriber = await startSubscriber(driver, { topic: "t", subscription: "s", deadLetters: new InMemoryDeadLetterStore(), handler: async () => {} });
    expect(driver.spec).toMatchObject({ topic: "t", group: "s", prefetch: 32 });
    expect(driver.spec?.consumer).toMatch(new RegExp(`-${process.pid}-[0-9a-f]{8}$`));
    expect(subscriber.consumer).toBe(driver.spec?.consumer);
    expect(defaultConsumerName()).not.toBe(defaultConsumerName());
    await subscriber.stop();
    expect(driver.stopped).toBe(true);
    await expect(startSubscriber(driver, { topic: "t", subscription: "s", concurrency: 0, deadLetters: new InMemoryDeadLetterStore(), handler: async () => {} })).rejects.toThrow(/concurrency/);
  });

  it("among ready deliveries starts the higher priority first", async () => {
    const driver = new HandDriver();
    const blocker = gate();
    const order: string[] = [];
    const subscriber = await startSubscriber(driver, {
      topic: "t",
      subscription: "s",
      concurrency: 1,
      deadLetters: new InMemoryDeadLetterStore(),
      handler: async (event) => {
        order.push(event.priority);
        if (order.length === 1) await blocker.promise;
      },
    });
    driver.deliver(wire(0, { priority: "low" }));
    driver.deliver(wire(1, { priority: "low" }));
    driver.deliver(wire(2, { priority: "normal" }));
    driver.deliver(wire(3, { priority: "high" }));
    driver.deliver(wire(4, { priority: "normal" }));
    blocker.open();
    await eventually(() => expect(order).toHaveLength(5));
    expect(order).toEqual(["low", "high", "normal", "normal", "low"]);
    await subscriber.stop();
  });

  it("keeps one key's deliveries in arrival order even when a later one has a higher priority", async () => {
    const driver = new HandDriver();
    const order: number[] = [];
    const subscriber = await startSubscriber(driver, {
      topic: "t",
      subscription: "s",
      concurrency: 4,
      deadLetters: new InMemoryDeadLetterStore(),
      handler: async (event) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        order.push((event.data as { n: number }).n);
      },
    });
    driver.deliver(wire(0, { key: "same", priority: "low" }));
    driver.deliver(wire(1, { key: "same", priority: "high" }));
    driver.deliver(wire(2, { key: "same", priority: "normal" }));
    await eventually(() => expect(order).toEqual([0, 1, 2]));
    await subscriber.stop();
  });

  it("survives a broker that is gone: failed acks and retries are reported, not thrown", async () => {
    const driver = new HandDriver();
    const errors: SubscriberErrorInfo[] = [];
    const subscriber = await startSubscriber(driver, {
      topic: "t",
      subscription: "s",
      deadLetters: new InMemoryDeadLetterStore(),
      onError: (info) => errors.push(info),
      handler: async (event) => {
        if ((event.data as { n: number }).n === 1) throw new Error("handler failed");
      },
    });
    driver.settleFails = true;
    driver.deliver(wire(0));
    driver.deliver(wire(1));
    await eventually(() => expect(errors.map((info) => info.stage).sort()).toEqual(["ack", "handler", "retry"]));
    expect(subscriber.stats()).toMatchObject({ inFlight: 0, processed: 1, failed: 1, retried: 0 });
    await subscriber.stop();
  });

  it("does not ack a message it could not dead-letter: hands it back instead", async () => {
    const driver = new HandDriver();
    const errors: SubscriberErrorInfo[] = [];
    const broken: DeadLetterStore = Object.assign(new InMemoryDeadLetterStore(), {
      add: async (): Promise<DeadLetter> => {
        throw new Error("dead-letter table unreachable");
      },
    });
    const subscriber = await startSubscriber(driver, {
      topic: "t",
      subscription: "s",
      deadLetters: broken,
      retry: { maxAttempts: 1, jitter: 0 },
      onError: (info) => errors.push(info),
      handler: async () => {
        throw new Error("always");
      },
    });
    const message = wire(0);
    driver.deliver(message, 1);
    await eventually(() => expect(driver.settled).toEqual([{ id: message.id, how: "retry", delayMs: 200 }]));
    expect(errors.map((info) => info.stage)).toEqual(["handler", "dead_letter"]);
    expect(subscriber.stats().deadLettered).toBe(0);
    await subscriber.stop();
  });

  it("acks after the effect even when the inbox cannot record it, and reports it", async () => {
    const driver = new HandDriver();
    const errors: SubscriberErrorInfo[] = [];
    const inbox = Object.assign(new InMemoryInbox(), {
      record: async () => {
        throw new Error("inbox down");
      },
    });
    const subscriber = await startSubscriber(driver, {
      topic: "t",
      subscription: "s",
      deadLetters: new InMemoryDeadLetterStore(),
      inbox,
      onError: (info) => errors.push(info),
      handler: async () => {},
    });
    const message = wire(0);
    driver.deliver(message);
    await eventually(() => expect(driver.settled).toEqual([{ id: message.id, how: "ack" }]));
    expect(errors.map((info) => info.stage)).toEqual(["inbox"]);
    await subscriber.stop();
  });

  it("skips (acks) a message the inbox already recorded", async () => {
    const driver = new HandDriver();
    const inbox = new InMemoryInbox();
    const message = wire(0);
    await inbox.record("s", message.id);
    let calls = 0;
    const subscriber = await startSubscriber(driver, {
      topic: "t",
      subscription: "s",
      deadLetters: new InMemoryDeadLetterStore(),
      inbox,
      handler: async () => void (calls += 1),
    });
    driver.deliver(message, 2);
    await eventually(() => expect(driver.settled).toEqual([{ id: message.id, how: "ack" }]));
    expect(calls).toBe(0);
    expect(subscriber.stats()).toMatchObject({ duplicates: 1, processed: 0 });
    await subscriber.stop();
  });

  it("stop({ timeoutMs }) gives up on a handler that hangs; a delivery after stop is left unsettled", async () => {
    const driver = new HandDriver();
    const errors: SubscriberErrorInfo[] = [];
    const hang = gate();
    const subscriber = await startSubscriber(driver, {
      topic: "t",
      subscription: "s",
      deadLetters: new InMemoryDeadLetterStore(),
      onError: (info) => errors.push(info),
      handler: () => hang.promise,
    });
    driver.deliver(wire(0));
    await subscriber.stop({ timeoutMs: 20 });
    expect(errors.map((info) => info.stage)).toEqual(["stop"]);
    expect(subscriber.stats().inFlight).toBe(1);
    driver.deliver(wire(1));
    expect(errors).toHaveLength(2);
    hang.open();
    await eventually(() => expect(driver.settled).toHaveLength(1));
  });

  it("counts processed messages and the rate over the last 10 seconds", async () => {
    const driver = new HandDriver();
    const clock = new FakeClock();
    const subscriber = await startSubscriber(driver, { topic: "t", subscription: "s", clock, deadLetters: new InMemoryDeadLetterStore(), handler: async () => {} });
    for (let n = 0; n < 20; n += 1) driver.deliver(wire(n));
    await eventually(() => expect(subscriber.stats().processed).toBe(20));
    expect(subscriber.stats().ratePerSecond).toBe(2);
    clock.advance(5_000);
    for (let n = 20; n < 30; n += 1) driver.deliver(wire(n));
    await eventually(() => expect(subscriber.stats().processed).toBe(30));
    expect(subscriber.stats().ratePerSecond).toBe(3);
    clock.advance(6_000);
    expect(subscriber.stats().ratePerSecond).toBe(1);
    clock.advance(10_000);
    expect(subscriber.stats()).toMatchObject({ processed: 30, ratePerSecond: 0, inFlight: 0, running: 0 });
    await subscriber.stop();
  });
});

describe("publishing and redrive", () => {
  it("TransportPublisher encodes envelopes and publishes them in one call", async () => {
    const driver = new HandDriver();
    const events = [buildEnvelope({ type: "a", data: 1 }), buildEnvelope({ type: "b", data: 2 })];
    await new TransportPublisher(driver, "topic").publish(events);
    await new TransportPublisher(driver, "topic").publish([]);
    expect(driver.published).toEqual([{ topic: "topic", messages: events.map(toWireMessage) }]);
  });

  it("redriveMatching counts on a dry run, then redrives the matching letters at the given rate and removes them", async () => {
    const driver = new HandDriver();
    const store = new InMemoryDeadLetterStore();
    const at = "2026-01-01T00:00:00.000Z";
    for (let n = 0; n < 5; n += 1) {
      await store.add({ subscription: n < 4 ? "s1" : "s2", topic: "t", message: wire(n), error: { type: n % 2 ? "Boom" : "Bang", message: "x" }, attempts: 3, firstFailedAt: at, lastFailedAt: at });
    }
    expect(await redriveMatching(driver, store, { subscription: "s1", errorType: "Boom", dryRun: true })).toEqual({ matched: 2, redriven: 0 });
    expect(driver.redelivered).toEqual([]);
    const started = performance.now();
    expect(await redriveMatching(driver, store, { subscription: "s1", errorType: "Boom", ratePerSecond: 50 })).toEqual({ matched: 2, redriven: 2 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    expect(driver.redelivered.map((entry) => [entry.group, (JSON.parse(entry.message.body) as { n: number }).n])).toEqual([["s1", 1], ["s1", 3]]);
    expect(await store.summary()).toEqual([
      { subscription: "s1", errorType: "Bang", count: 2 },
      { subscription: "s2", errorType: "Bang", count: 1 },
    ]);
    expect(await redriveMatching(driver, store, { limit: 1 })).toEqual({ matched: 1, redriven: 1 });
  });
});

describe("InMemoryDeadLetterStore", () => {
  it("keeps one entry per (subscription, message id), pages by cursor", async () => {
    const store = new InMemoryDeadLetterStore();
    const message = wire(0);
    const first = await store.add({ subscription: "s", topic: "t", message, error: { type: "E", message: "1" }, attempts: 1, firstFailedAt: "2026-01-01T00:00:00.000Z", lastFailedAt: "2026-01-01T00:00:00.000Z" });
    const second = await store.add({ subscription: "s", topic: "t", message, error: { type: "E", message: "2" }, attempts: 5, firstFailedAt: "2026-01-02T00:00:00.000Z", lastFailedAt: "2026-01-02T00:00:00.000Z" });
    expect(second).toMatchObject({ id: first.id, attempts: 5, error: { message: "2" }, firstFailedAt: "2026-01-01T00:00:00.000Z", lastFailedAt: "2026-01-02T00:00:00.000Z" });
    for (let n = 1; n < 5; n += 1) {
      await store.add({ subscription: "s", topic: "t", message: wire(n), error: { type: "E", message: "" }, attempts: 1, firstFailedAt: "", lastFailedAt: "" });
    }
    const page1 = await store.list({ limit: 2 });
    const page2 = await store.list({ limit: 2, after: page1.next ?? undefined });
    const page3 = await store.list({ limit: 2, after: page2.next ?? undefined });
    expect([...page1.items, ...page2.items, ...page3.items].map((letter) => letter.message.id)).toEqual([0, 1, 2, 3, 4].map((n) => (n === 0 ? message.id : expect.any(String))));
    expect(page3.next).toBeNull();
    expect(new Set([...page1.items, ...page2.items, ...page3.items].map((letter) => letter.id)).size).toBe(5);
    expect(await store.remove(first.id)).toBe(true);
    expect(await store.remove(first.id)).toBe(false);
    expect(await store.get(first.id)).toBeUndefined();
  });
});

describe("MemoryDriver", () => {
  it("respects prefetch, pins a key to the consumer holding it, and rejects settling after close", async () => {
    const broker = new MemoryBroker();
    const [one, two] = [broker.driver(), broker.driver()];
    await one.ensureGroup("t", "g");
    const held: Record<string, BrokerDelivery[]> = { one: [], two: [] };
    await one.consume({ topic: "t", group: "g", consumer: "one", prefetch: 2 }, (delivery) => held.one?.push(delivery));
    await one.publish("t", [wire(0, { key: "a" }), wire(1, { key: "a" }), wire(2, { key: "a" }), wire(3, { key: "b" })]);
    await eventually(() => expect(held.one).toHaveLength(2));
    await two.consume({ topic: "t", group: "g", consumer: "two", prefetch: 5 }, (delivery) => held.two?.push(delivery));
    // "a" is held by one: two may only take "b".
    await eventually(() => expect(held.two?.map((delivery) => delivery.message.key)).toEqual(["b"]));
    expect(await one.figures("t", "g")).toEqual({ depth: 4, lag: 1, inFlight: 3 });
    await one.close();
    await expect(held.one?.[0]?.ack() ?? Promise.resolve()).rejects.toThrow(/closed/);
    await expect(one.publish("t", [wire(9)])).rejects.toThrow(/closed/);
    await two.close();
    broker.dispose();
  });
});
