import { afterEach, describe, expect, it, vi } from "vitest";
import { buildEnvelope, type EventDraft, type StoredEvent } from "../core/envelope";
import { LogTail } from "./log-tail";
import { InMemoryEventStore } from "./memory-event-store";

const append = (store: InMemoryEventStore, ...drafts: Array<string | Partial<EventDraft>>) =>
  store.append([
    {
      streamId: "s",
      expectedVersion: "any",
      events: drafts.map((draft) => buildEnvelope(typeof draft === "string" ? { type: draft, data: {} } : { type: "t", data: {}, ...draft })),
    },
  ]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const positions = (events: StoredEvent[]) => events.map((event) => event.position);

describe("LogTail", () => {
  let tail: LogTail | undefined;

  afterEach(() => {
    tail?.close();
    tail = undefined;
  });

  function makeTail(store: InMemoryEventStore, pollIntervalMs = 60_000, batchSize = 100) {
    const errors: unknown[] = [];
    tail = new LogTail({ store, pollIntervalMs, batchSize, onError: (error) => errors.push(error) });
    return { tail, errors };
  }

  describe("subscribe", () => {
    it("catches up from `after`, then follows live appends, each event once and in order", async () => {
      const store = new InMemoryEventStore();
      await append(store, "a", "b", "c");
      const { tail } = makeTail(store);
      const received: StoredEvent[] = [];
      tail.subscribe({ after: 1 }, (event) => received.push(event));
      await vi.waitFor(() => expect(positions(received)).toEqual([2, 3]));
      await append(store, "d", "e");
      await vi.waitFor(() => expect(positions(received)).toEqual([2, 3, 4, 5]));
      await sleep(20);
      expect(positions(received)).toEqual([2, 3, 4, 5]);
    });

    it("loses and repeats nothing when appends land during the catch-up reads", async () => {
      const store = new InMemoryEventStore();
      await append(store, ...Array.from({ length: 30 }, () => "old"));
      const readAll = store.readAll.bind(store);
      // Every read is slow, and appends keep arriving while reads are in flight.
      vi.spyOn(store, "readAll").mockImplementation(async (filter) => {
        const page = await readAll(filter);
        await sleep(2);
        return page;
      });
      const { tail } = makeTail(store, 10, 4);
      const received = Array.from({ length: 5 }, () => [] as number[]);
      const writer = (async () => {
        for (let i = 0; i < 40; i++) {
          await append(store, "new");
          await sleep(1);
        }
      })();
      received.forEach((list, index) => {
        setTimeout(() => tail.subscribe({ after: index * 7 }, (event) => list.push(event.position)), index * 15);
      });
      await writer;
      await vi.waitFor(() => {
        for (const [index, list] of received.entries()) {
          expect(list).toEqual(Array.from({ length: 70 - index * 7 }, (_, i) => index * 7 + i + 1));
        }
      });
    });

    it("does not repeat what a listener's catch-up already read past the shared reader", async () => {
      const store = new InMemoryEventStore();
      await append(store, "a", "b", "c");
      const { tail } = makeTail(store);
      tail.subscribe({ after: 3 }, () => {});
      await sleep(10);
      // Hold the shared reader's next read (it has no type filter) until the new listener is live.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const readAll = store.readAll.bind(store);
      vi.spyOn(store, "readAll").mockImplementation(async (filter) => {
        if (!filter.types) await gate;
        return readAll(filter);
      });
      await append(store, "x", "x");
      const received: number[] = [];
      tail.subscribe({ after: 0, types: ["x"] }, (event) => received.push(event.position));
      await vi.waitFor(() => expect(received).toEqual([4, 5]));
      release();
      await sleep(20);
      expect(received).toEqual([4, 5]);
    });

    it("does not skip ahead over a listener that joined while the idle reader looked at the head", async () => {
      const store = new InMemoryEventStore();
      await append(store, "a");
      const { tail } = makeTail(store);
      const first = tail.subscribe({ after: 1 }, () => {});
      await sleep(10);
      first.close();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const headPosition = store.headPosition.bind(store);
      vi.spyOn(store, "headPosition").mockImplementation(async () => {
        const head = await headPosition();
        await gate;
        return head;
      });
      await append(store, "b", "c");
      const received: number[] = [];
      tail.subscribe({ after: 1 }, (event) => received.push(event.position));
      await sleep(10);
      release();
      await vi.waitFor(() => expect(received).toEqual([2, 3]));
    });

    it("feeds all live listeners from one read per page", async () => {
      const store = new InMemoryEventStore();
      const { tail } = makeTail(store);
      const counts = Array.from({ length: 20 }, () => 0);
      counts.forEach((_, index) => tail.subscribe({ after: 0 }, () => (counts[index] = (counts[index] ?? 0) + 1)));
      await sleep(10);
      const reads = vi.spyOn(store, "readAll");
      await append(store, "a", "b");
      await vi.waitFor(() => expect(counts.every((count) => count === 2)).toBe(true));
      expect(reads).toHaveBeenCalledTimes(1);
    });

    it("filters live events by type pattern and subject", async () => {
      const store = new InMemoryEventStore();
      const { tail } = makeTail(store);
      const received: StoredEvent[] = [];
      tail.subscribe({ after: 0, types: ["exam.*"], subject: "exam-1" }, (event) => received.push(event));
      await sleep(10);
      await append(store, { type: "exam.created", subject: "exam-1" }, { type: "exam.created", subject: "exam-2" }, { type: "user.created", subject: "exam-1" });
      await append(store, { type: "exam.graded", subject: "exam-1" });
      await vi.waitFor(() => expect(positions(received)).toEqual([1, 4]));
    });

    it("polls for appends nobody announced", async () => {
      const store = new InMemoryEventStore();
      vi.spyOn(store, "onAppended").mockImplementation(() => () => {});
      const { tail } = makeTail(store, 20);
      const received: StoredEvent[] = [];
      tail.subscribe({ after: 0 }, (event) => received.push(event));
      await sleep(10);
      await append(store, "a");
      await vi.waitFor(() => expect(positions(received)).toEqual([1]), { timeout: 1_000 });
    });

    it("a listener joining after an idle stretch still gets everything after its `after`", async () => {
      const store = new InMemoryEventStore();
      const { tail } = makeTail(store, 10);
      const first = tail.subscribe({ after: 0 }, () => {});
      await sleep(10);
      first.close();
      await append(store, "a", "b", "c");
      await sleep(30);
      const received: StoredEvent[] = [];
      tail.subscribe({ after: 1 }, (event) => received.push(event));
      await vi.waitFor(() => expect(positions(received)).toEqual([2, 3]));
      await append(store, "d");
      await vi.waitFor(() => expect(positions(received)).toEqual([2, 3, 4]));
    });

    it("closes a listener that throws, reports it, and keeps serving the others", async () => {
      const store = new InMemoryEventStore();
      const { tail, errors } = makeTail(store);
      const healthy: number[] = [];
      let thrown = 0;
      tail.subscribe({ after: 0 }, () => {
        thrown += 1;
        throw new Error("listener bug");
      });
      tail.subscribe({ after: 0 }, (event) => healthy.push(event.position));
      await sleep(10);
      await append(store, "a", "b");
      await vi.waitFor(() => expect(healthy).toEqual([1, 2]));
      expect(thrown).toBe(1);
      expect(errors).toHaveLength(1);
    });

    it("stops delivering after close (listener and whole tail)", async () => {
      const store = new InMemoryEventStore();
      const { tail } = makeTail(store, 10);
      const one: number[] = [];
      const two: number[] = [];
      const subscription = tail.subscribe({ after: 0 }, (event) => one.push(event.position));
      tail.subscribe({ after: 0 }, (event) => two.push(event.position));
      await sleep(10);
      await append(store, "a");
      await vi.waitFor(() => expect(two).toEqual([1]));
      subscription.close();
      await append(store, "b");
      await vi.waitFor(() => expect(two).toEqual([1, 2]));
      tail.close();
      await append(store, "c");
      await sleep(30);
      expect(one).toEqual([1]);
      expect(two).toEqual([1, 2]);
      expect(() => tail.subscribe({ after: 0 }, () => {})).toThrow(/closed/);
    });
  });

  describe("waitFor", () => {
    it("answers at once with the backlog, up to the limit", async () => {
      const store = new InMemoryEventStore();
      await append(store, "a", "b", "c");
      const { tail } = makeTail(store);
      const started = Date.now();
      const result = await tail.waitFor({ after: 0, limit: 2, timeoutMs: 5_000 });
      expect(positions(result.events)).toEqual([1, 2]);
      expect(result.next).toBe(2);
      expect(Date.now() - started).toBeLessThan(1_000);
    });

    it("waits for the first matching append and returns what came with it", async () => {
      const store = new InMemoryEventStore();
      await append(store, "exam.created");
      const { tail } = makeTail(store);
      const waiting = tail.waitFor({ after: 1, types: ["exam.*"], limit: 10, timeoutMs: 5_000 });
      await sleep(20);
      await append(store, "user.created");
      await append(store, "exam.graded", "user.created", "exam.closed");
      const result = await waiting;
      expect(positions(result.events)).toEqual([3, 5]);
      expect(result.next).toBe(5);
    });

    it("times out with no events and next = after", async () => {
      const store = new InMemoryEventStore();
      await append(store, "a");
      const { tail } = makeTail(store);
      expect(await tail.waitFor({ after: 1, limit: 10, timeoutMs: 30 })).toEqual({ events: [], next: 1 });
      // A timeout of 0 still looks at the backlog first.
      expect(positions((await tail.waitFor({ after: 0, limit: 10, timeoutMs: 0 })).events)).toEqual([1]);
    });

    it("rejects when aborted or when its read fails", async () => {
      const store = new InMemoryEventStore();
      const { tail } = makeTail(store);
      const controller = new AbortController();
      const waiting = tail.waitFor({ after: 0, limit: 10, timeoutMs: 5_000, signal: controller.signal });
      controller.abort(new Error("client went away"));
      await expect(waiting).rejects.toThrow("client went away");

      await append(store, "a");
      vi.spyOn(store, "readAll").mockRejectedValue(new Error("database down"));
      await expect(tail.waitFor({ after: 0, limit: 10, timeoutMs: 5_000 })).rejects.toThrow("database down");
    });
  });
});
