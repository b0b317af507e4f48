import { afterEach, describe, expect, it } from "vitest";
import { buildEnvelope } from "../core/envelope";
import { InMemoryEventStore } from "../store/memory-event-store";
import { fromWireMessage } from "./codec";
import type { WireMessage } from "./driver";
import { InMemoryLease } from "./lease";
import { startOutboxRelay, type OutboxRelay } from "./outbox-relay";

async function eventually(check: () => void | Promise<void>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** A transport that records what it was asked to publish, and can be taken down. */
function recordingDriver() {
  const published: WireMessage[] = [];
  let down = false;
  return {
    published,
    setDown(value: boolean) {
      down = value;
    },
    async publish(_topic: string, messages: WireMessage[]) {
      if (down) throw new Error("broker unreachable");
      published.push(...messages);
    },
  };
}

async function appendEvents(store: InMemoryEventStore, count: number, from = 0) {
  for (let n = from; n < from + count; n++) {
    await store.append([{ streamId: `s-${n % 3}`, expectedVersion: "any", events: [buildEnvelope({ type: "exam.created", data: { n } })] }]);
  }
}

const relays: OutboxRelay[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((relay) => relay.stop()));
});

describe("outbox relay", () => {
  it("publishes every event of the log once, in position order, with its attributes", async () => {
    const store = new InMemoryEventStore();
    const driver = recordingDriver();
    await appendEvents(store, 5);
    relays.push(startOutboxRelay({ store, driver, topic: "events", lease: new InMemoryLease(), owner: "a", pollIntervalMs: 10 }));
    await appendEvents(store, 5, 5);

    await eventually(() => expect(driver.published).toHaveLength(10));
    const positions = driver.published.map((message) => (fromWireMessage(message) as { position: number }).position);
    expect(positions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("keeps events in the log while the broker is down and sends them when it returns", async () => {
    const store = new InMemoryEventStore();
    const driver = recordingDriver();
    driver.setDown(true);
    const errors: unknown[] = [];
    relays.push(
      startOutboxRelay({ store, driver, topic: "events", lease: new InMemoryLease(), owner: "a", pollIntervalMs: 10, onError: (error) => errors.push(error) }),
    );
    await appendEvents(store, 4);
    await eventually(() => expect(errors.length).toBeGreaterThan(0));
    expect(driver.published).toHaveLength(0);
    expect(await store.checkpoints.load("outbox-relay:events")).toBe(0);

    driver.setDown(false);
    await eventually(() => expect(driver.published).toHaveLength(4), 5_000);
  });

  it("runs one relay at a time across processes, and another takes over when the holder stops", async () => {
    const store = new InMemoryEventStore();
    const lease = new InMemoryLease();
    const driver = recordingDriver();
    const first = startOutboxRelay({ store, driver, topic: "events", lease, owner: "a", pollIntervalMs: 10, leaseTtlMs: 300 });
    await eventually(() => expect(first.active).toBe(true));
    const second = startOutboxRelay({ store, driver, topic: "events", lease, owner: "b", pollIntervalMs: 10, leaseTtlMs: 300 });
    relays.push(second);
    await appendEvents(store, 3);
    await eventually(() => expect(driver.published).toHaveLength(3));
    expect(second.active).toBe(false);

    await first.stop();
    await appendEvents(store, 3, 3);
    await eventually(() => expect(second.active).toBe(true), 2_000);
    await eventually(() => expect(driver.published).toHaveLength(6));
    const ids = driver.published.map((message) => message.id);
    expect(new Set(ids).size).toBe(6);
  });
});
