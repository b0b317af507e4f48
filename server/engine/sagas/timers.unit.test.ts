import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InMemoryTimerStore } from "./memory-timer-store";
import type { ScheduleTimer, TimerRecord } from "./timer-store";
import { DurableTimers, timerRetryDelayMs, type DurableTimersOptions } from "./timers";

/**
 * DurableTimers over the memory store, with vitest's fake timers as the clock: `Date.now` and
 * `setTimeout` move only when a test advances them, so leases, backoffs and sleeps are exact.
 */

const START = Date.parse("2026-03-01T08:00:00.000Z");
const at = (ms: number): string => new Date(START + ms).toISOString();
const timer = (id: string, dueInMs: number, overrides: Partial<ScheduleTimer> = {}): ScheduleTimer => ({
  id,
  kind: "escalate",
  key: `sheet-${id}`,
  dueAt: at(dueInMs),
  payload: { id },
  ...overrides,
});

/** A promise and the functions that settle it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

describe("DurableTimers", () => {
  let store: InMemoryTimerStore;
  const started: DurableTimers[] = [];
  const errors: Array<{ timerId?: string; error: unknown }> = [];

  const timers = (options: Partial<DurableTimersOptions> = {}): DurableTimers => {
    const created = new DurableTimers({ store, owner: "worker-1", leaseMs: 10_000, onError: (info) => errors.push(info), ...options });
    started.push(created);
    return created;
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: START });
    store = new InMemoryTimerStore();
    errors.length = 0;
  });

  afterEach(async () => {
    const stopping = Promise.all(started.splice(0).map((each) => each.stop()));
    await vi.runAllTimersAsync();
    await stopping;
    vi.useRealTimers();
  });

  it("fires each due timer once, with its record, and later ones when they are due", async () => {
    const durable = timers();
    const fired: TimerRecord[] = [];
    durable.on("escalate", async (record) => {
      fired.push(record);
    });
    expect(await durable.schedule(timer("a", 0))).toBe(true);
    expect(await durable.schedule(timer("b", -5_000))).toBe(true);
    expect(await durable.schedule(timer("c", 60_000))).toBe(true);
    expect(await durable.schedule(timer("a", 99_000))).toBe(false);

    expect(await durable.fireDue()).toBe(2);
    expect(fired.map((record) => [record.id, record.attempts, record.payload])).toEqual([
      ["b", 1, { id: "b" }],
      ["a", 1, { id: "a" }],
    ]);
    expect(await durable.get("a")).toMatchObject({ status: "fired", firedAt: at(0), attempts: 1, claimedBy: null });
    expect(await durable.fireDue()).toBe(0);

    vi.setSystemTime(START + 60_000);
    expect(await durable.fireDue()).toBe(1);
    expect(fired.map((record) => record.id)).toEqual(["b", "a", "c"]);
    expect(await durable.list({ status: "fired", limit: 10 })).toHaveLength(3);
    expect(errors).toEqual([]);
  });

  it("claims only kinds it has a handler for, and cancels by id and key", async () => {
    const durable = timers();
    const fired: string[] = [];
    durable.on("escalate", async (record) => {
      fired.push(record.id);
    });
    await durable.schedule(timer("elsewhere", 0, { kind: "handled.by.another.process" }));
    await durable.schedule(timer("cancelled", 0, { key: "saga-1" }));
    await durable.schedule(timer("also-cancelled", 0, { key: "saga-1" }));
    await durable.schedule(timer("by-id", 0));
    await durable.schedule(timer("kept", 0));
    expect(await durable.cancelByKey("saga-1")).toBe(2);
    expect(await durable.cancel("by-id")).toBe(true);
    expect(await durable.fireDue()).toBe(1);
    expect(fired).toEqual(["kept"]);
    expect(await durable.get("elsewhere")).toMatchObject({ status: "scheduled", attempts: 0, claimedBy: null });
    expect(() => durable.on("escalate", async () => undefined)).toThrow(/already registered/);
  });

  it("retries a failing handler after 1 s, 2 s, 4 s... with the error kept, then fires it", async () => {
    const durable = timers();
    let runs = 0;
    durable.on("escalate", async () => {
      runs += 1;
      if (runs <= 3) throw new Error(`grader offline (run ${runs})`);
    });
    await durable.schedule(timer("t", 0));

    let now = 0;
    for (const [index, delay] of [1_000, 2_000, 4_000].entries()) {
      expect(await durable.fireDue()).toBe(0);
      expect(runs).toBe(index + 1);
      expect(await durable.get("t")).toMatchObject({ status: "scheduled", dueAt: at(now + delay), lastError: `Error: grader offline (run ${runs})`, claimedBy: null });
      // Not a moment before the backoff is over.
      vi.setSystemTime(START + now + delay - 1);
      expect(await durable.fireDue()).toBe(0);
      expect(runs).toBe(index + 1);
      now += delay;
      vi.setSystemTime(START + now);
    }
    expect(await durable.fireDue()).toBe(1);
    expect(runs).toBe(4);
    expect(await durable.get("t")).toMatchObject({ status: "fired", attempts: 4, lastError: "Error: grader offline (run 3)" });
    expect(errors.map((info) => info.timerId)).toEqual(["t", "t", "t"]);
  });

  it("backs off 1 s, doubling, at most 5 minutes", () => {
    expect([1, 2, 3, 4, 5, 8, 9, 10, 50].map(timerRetryDelayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 128_000, 256_000, 300_000, 300_000]);
  });

  it("aborts a handler that is still running when the lease is about to run out, and gives the timer back", async () => {
    const durable = timers({ leaseMs: 10_000 });
    let signal: AbortSignal | undefined;
    durable.on("escalate", async (_record, context) => {
      signal = context.signal;
      await new Promise<never>(() => undefined); // hangs, and ignores its signal too
    });
    await durable.schedule(timer("t", 0));
    let done = false;
    const pass = durable.fireDue().then((fired) => {
      done = true;
      return fired;
    });
    await vi.advanceTimersByTimeAsync(7_999);
    expect(done).toBe(false);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pass).toBe(0);
    expect(signal?.aborted).toBe(true);
    // Released before the lease (until 10 s) ran out, to be tried after the backoff.
    expect(await durable.get("t")).toMatchObject({ status: "scheduled", attempts: 1, claimedBy: null, dueAt: at(9_000) });
    expect((await durable.get("t"))?.lastError).toMatch(/did not finish within 80% of the 10000 ms lease/);
  });

  it("runs its loop: sleeps until the next timer is due (or a sooner one is scheduled), and fires it once", async () => {
    const durable = timers({ pollIntervalMs: 60_000 });
    const fired: Array<{ id: string; at: number }> = [];
    durable.on("escalate", async (record) => {
      fired.push({ id: record.id, at: Date.now() - START });
    });
    await durable.schedule(timer("in-5s", 5_000));
    durable.start();
    durable.start(); // a second start changes nothing
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fired).toEqual([]);
    // Scheduled while the loop sleeps until 5 s: it wakes for this one.
    await durable.schedule(timer("in-2s", 2_000));
    await vi.advanceTimersByTimeAsync(4_000);
    expect(fired).toEqual([
      { id: "in-2s", at: 2_000 },
      { id: "in-5s", at: 5_000 },
    ]);
    // Scheduled by another process: found at the next poll.
    await store.schedule(timer("elsewhere", 6_000), at(5_000));
    await vi.advanceTimersByTimeAsync(120_000);
    expect(fired.map((record) => record.id)).toEqual(["in-2s", "in-5s", "elsewhere"]);
    expect(await durable.list({ status: "scheduled", limit: 10 })).toEqual([]);
  });

  it("keeps claiming in batches while a full batch comes back", async () => {
    const durable = timers({ batchSize: 3, pollIntervalMs: 60_000 });
    const fired: string[] = [];
    durable.on("escalate", async (record) => {
      fired.push(record.id);
    });
    for (let index = 0; index < 10; index += 1) await durable.schedule(timer(`t${index}`, 0));
    durable.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(fired.sort()).toEqual(["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"]);
  });

  it("shares timers between two processes on one store: each fires once", async () => {
    const first = timers({ owner: "one", pollIntervalMs: 100 });
    const second = timers({ owner: "two", pollIntervalMs: 100 });
    const firedBy = new Map<string, string[]>();
    for (const [name, durable] of [["one", first], ["two", second]] as const) {
      durable.on("escalate", async (record) => {
        firedBy.set(record.id, [...(firedBy.get(record.id) ?? []), name]);
        await new Promise((resolve) => setTimeout(resolve, 50));
      });
    }
    for (let index = 0; index < 40; index += 1) await first.schedule(timer(`t${index}`, index * 25));
    first.start();
    second.start();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(firedBy.size).toBe(40);
    expect([...firedBy.values()].every((owners) => owners.length === 1)).toBe(true);
    expect((await store.list({ status: "fired", limit: 100 })).length).toBe(40);
  });

  it("stops: waits for running handlers to finish, and claims nothing more", async () => {
    const durable = timers({ pollIntervalMs: 100 });
    const release = deferred();
    const fired: string[] = [];
    durable.on("escalate", async (record) => {
      await release.promise;
      fired.push(record.id);
    });
    await durable.schedule(timer("running", 0));
    await durable.schedule(timer("later", 1_000));
    durable.start();
    await vi.advanceTimersByTimeAsync(10);
    let stopped = false;
    const stopping = durable.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(4_000);
    expect(stopped).toBe(false);
    release.resolve();
    await stopping;
    expect(fired).toEqual(["running"]);
    expect(await durable.get("running")).toMatchObject({ status: "fired" });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await durable.get("later")).toMatchObject({ status: "scheduled", attempts: 0 });
  });

  it("stops: aborts handlers still running after 5 s and gives their timers back, due at once", async () => {
    const durable = timers({ pollIntervalMs: 100 });
    const signals: AbortSignal[] = [];
    durable.on("escalate", async (_record, { signal }) => {
      signals.push(signal);
      await new Promise<void>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason as Error)));
    });
    await durable.schedule(timer("stuck", 0));
    durable.start();
    await vi.advanceTimersByTimeAsync(10);
    const stopping = durable.stop();
    await vi.advanceTimersByTimeAsync(4_999);
    expect(signals[0]?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await stopping;
    expect(signals[0]?.aborted).toBe(true);
    expect(await store.get("stuck")).toMatchObject({ status: "scheduled", attempts: 1, claimedBy: null, dueAt: at(5_010) });
    expect((await store.get("stuck"))?.lastError).toMatch(/stopped before the handler finished/);
    // Another process takes it without waiting for a lease or a backoff.
    expect(await store.claimDue({ owner: "other", now: at(5_010), leaseMs: 1_000, limit: 10 })).toHaveLength(1);
  });

  it("keeps polling after a store error, and reports it", async () => {
    const durable = timers({ pollIntervalMs: 100 });
    const fired: string[] = [];
    durable.on("escalate", async (record) => {
      fired.push(record.id);
    });
    const claimDue = store.claimDue.bind(store);
    let failures = 0;
    vi.spyOn(store, "claimDue").mockImplementation(async (args) => {
      if (failures < 2) {
        failures += 1;
        throw new Error("connection reset");
      }
      return claimDue(args);
    });
    await durable.schedule(timer("t", 0));
    durable.start();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fired).toEqual(["t"]);
    expect(errors.map((info) => (info.error as Error).message)).toEqual(["connection reset", "connection reset"]);
  });
});
