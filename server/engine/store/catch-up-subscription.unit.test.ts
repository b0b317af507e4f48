import { afterEach, describe, expect, it, vi } from "vitest";
import { buildEnvelope, type StoredEvent } from "../core/envelope";
import { startCatchUpSubscription, type CatchUpSubscription, type CatchUpSubscriptionOptions } from "./catch-up-subscription";
import { InMemoryEventStore } from "./memory-event-store";

const append = (store: InMemoryEventStore, ...types: string[]) =>
  store.append([{ streamId: "s", expectedVersion: "any", events: types.map((type) => buildEnvelope({ type, data: {} })) }]);

const positions = (batches: StoredEvent[][]) => batches.map((batch) => batch.map((event) => event.position));

/** A store whose own appends are not announced: like appends made by another process. */
function silentStore(): InMemoryEventStore {
  const store = new InMemoryEventStore();
  vi.spyOn(store, "onAppended").mockImplementation(() => () => {});
  return store;
}

describe("startCatchUpSubscription", () => {
  let subscription: CatchUpSubscription | undefined;

  afterEach(async () => {
    await subscription?.stop();
    subscription = undefined;
  });

  function start(store: InMemoryEventStore, overrides: Partial<CatchUpSubscriptionOptions> = {}) {
    const batches: StoredEvent[][] = [];
    const errors: Array<{ error: unknown; attempt: number }> = [];
    subscription = startCatchUpSubscription({
      store,
      name: "projector",
      batchSize: 2,
      pollIntervalMs: 60_000,
      handle: async (events) => {
        batches.push(events);
      },
      onError: (error, attempt) => errors.push({ error, attempt }),
      retry: { initialDelayMs: 5, maxDelayMs: 20 },
      ...overrides,
    });
    return { batches, errors, subscription };
  }

  it("hands over the backlog in batches and checkpoints each one after it succeeded", async () => {
    const store = new InMemoryEventStore();
    await append(store, "a", "b", "c", "d", "e");
    const checkpointsSeenByHandler: number[] = [];
    const { batches } = start(store, {
      handle: async (events) => {
        checkpointsSeenByHandler.push(await store.checkpoints.load("projector"));
        batches.push(events);
      },
    });
    await vi.waitFor(() => expect(positions(batches)).toEqual([[1, 2], [3, 4], [5]]));
    expect(checkpointsSeenByHandler).toEqual([0, 2, 4]);
    await vi.waitFor(async () => expect(await store.checkpoints.load("projector")).toBe(5));
    expect(subscription?.position).toBe(5);
  });

  it("resumes after the stored checkpoint", async () => {
    const store = new InMemoryEventStore();
    await append(store, "a", "b", "c");
    const first = start(store);
    await vi.waitFor(() => expect(first.subscription.position).toBe(3));
    await first.subscription.stop();
    await append(store, "d");
    const second = start(store);
    await vi.waitFor(() => expect(positions(second.batches)).toEqual([[4]]));
  });

  it("wakes on the store's onAppended without waiting for the poll", async () => {
    const store = new InMemoryEventStore();
    const { batches } = start(store, { pollIntervalMs: 60_000 });
    await vi.waitFor(() => expect(subscription?.position).toBe(0));
    await append(store, "a");
    await vi.waitFor(() => expect(positions(batches)).toEqual([[1]]), { timeout: 1_000 });
  });

  it("polls for appends nobody announced", async () => {
    const store = silentStore();
    const { batches } = start(store, { pollIntervalMs: 20 });
    await append(store, "a");
    await vi.waitFor(() => expect(positions(batches)).toEqual([[1]]), { timeout: 1_000 });
  });

  it("delivers only matching events but moves the checkpoint past the rest", async () => {
    const store = new InMemoryEventStore();
    await append(store, "exam.created", "user.created", "user.deleted", "exam.graded", "user.created");
    const { batches } = start(store, { filter: { types: ["exam.*"] }, batchSize: 10 });
    await vi.waitFor(async () => expect(await store.checkpoints.load("projector")).toBe(5));
    expect(positions(batches)).toEqual([[1, 4]]);
  });

  it("retries a failed batch with growing backoff, keeping the checkpoint until it succeeds", async () => {
    const store = new InMemoryEventStore();
    await append(store, "a", "b");
    let calls = 0;
    const { batches, errors } = start(store, {
      handle: async (events) => {
        calls += 1;
        if (calls <= 3) throw new Error(`boom ${calls}`);
        batches.push(events);
      },
    });
    await vi.waitFor(() => expect(positions(batches)).toEqual([[1, 2]]));
    expect(errors.map(({ attempt }) => attempt)).toEqual([1, 2, 3]);
    expect(errors.map(({ error }) => (error as Error).message)).toEqual(["boom 1", "boom 2", "boom 3"]);
    await vi.waitFor(async () => expect(await store.checkpoints.load("projector")).toBe(2));
  });

  it("stop() lets the batch in progress finish and checkpoint, then stops", async () => {
    const store = new InMemoryEventStore();
    await append(store, "a", "b", "c");
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const handled: number[] = [];
    const { subscription: running } = start(store, {
      handle: async (events) => {
        entered();
        await gate;
        handled.push(...events.map((event) => event.position));
      },
    });
    await inHandler;
    let stopped = false;
    const stopping = running.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(handled).toEqual([1, 2]);
    expect(await store.checkpoints.load("projector")).toBe(2);
    await append(store, "d");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handled).toEqual([1, 2]);
  });

  it("stops with a conflict when another processor moved its checkpoint", async () => {
    const store = new InMemoryEventStore();
    await append(store, "a", "b", "c", "d");
    const handled: number[] = [];
    const { errors } = start(store, {
      handle: async (events) => {
        handled.push(...events.map((event) => event.position));
        // Another processor with the same name got ahead in the meantime.
        if (handled.length === 2) await store.checkpoints.store("projector", 4, 0);
      },
    });
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(errors[0]?.error).toMatchObject({ code: "conflict" });
    await append(store, "e");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handled).toEqual([1, 2]);
    expect(await store.checkpoints.load("projector")).toBe(4);
  });
});
