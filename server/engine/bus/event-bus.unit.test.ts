import { describe, expect, it, vi } from "vitest";
import { buildEnvelope, type EventEnvelope, type Priority } from "../core/envelope";
import { EngineError, NonRetryableError } from "../core/errors";
import { EventBus, type BusEvent, type HandlerFailure } from "./event-bus";

function event(type: string, priority: Priority = "normal", data: unknown = {}): EventEnvelope {
  return buildEnvelope({ type, priority, data });
}

/** A promise the test resolves by hand, to hold an async handler open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const labelOf = (e: BusEvent) => (e.data as { label: string }).label;

describe("EventBus matching", () => {
  it("delivers by exact type, trailing wildcard and *", () => {
    const bus = new EventBus();
    const seen: Record<string, string[]> = { exact: [], exam: [], all: [], ocr: [] };
    bus.subscribe("exam.created", (e) => void seen.exact!.push(e.type), { mode: "sync" });
    bus.subscribe("exam.*", (e) => void seen.exam!.push(e.type), { mode: "sync" });
    bus.subscribe("*", (e) => void seen.all!.push(e.type), { mode: "sync" });
    bus.subscribe("ocr.*", (e) => void seen.ocr!.push(e.type), { mode: "sync" });

    for (const type of ["exam.created", "exam.sheet.graded", "ocr.started", "examx.created", "exam.updated"]) bus.publish(event(type));

    expect(seen).toEqual({
      exact: ["exam.created"],
      exam: ["exam.created", "exam.sheet.graded", "exam.updated"],
      all: ["exam.created", "exam.sheet.graded", "ocr.started", "examx.created", "exam.updated"],
      ocr: ["ocr.started"],
    });
  });

  it("runs sync handlers in subscription order whichever pattern matched", () => {
    const bus = new EventBus();
    const order: string[] = [];
    bus.subscribe("*", () => void order.push("all"), { mode: "sync" });
    bus.subscribe("exam.created", () => void order.push("exact"), { mode: "sync" });
    bus.subscribe("exam.*", () => void order.push("prefix"), { mode: "sync" });
    bus.publish(event("exam.created"));
    expect(order).toEqual(["all", "exact", "prefix"]);
  });

  it("sees subscriptions added and removed after a type was already dispatched", () => {
    const bus = new EventBus();
    const first = vi.fn();
    const second = vi.fn();
    const stopFirst = bus.subscribe("exam.created", first, { mode: "sync" });
    bus.publish(event("exam.created"));
    bus.subscribe("exam.*", second, { mode: "sync" });
    stopFirst();
    stopFirst();
    bus.publish(event("exam.created"));
    expect(first).toHaveBeenCalledTimes(1);
    expect(second).toHaveBeenCalledTimes(1);
    expect(bus.stats().subscriptions).toBe(1);
  });

  it("skips a sync handler unsubscribed by an earlier handler of the same publish", () => {
    const bus = new EventBus();
    const later = vi.fn();
    let stopLater = () => {};
    bus.subscribe("exam.created", () => stopLater(), { mode: "sync" });
    stopLater = bus.subscribe("exam.created", later, { mode: "sync" });
    bus.publish(event("exam.created"));
    expect(later).not.toHaveBeenCalled();
  });

  it("rejects malformed patterns", () => {
    const bus = new EventBus();
    for (const pattern of ["", "exam.*.created", "ex*", "exam created", "*.created"]) {
      expect(() => bus.subscribe(pattern, () => {}), pattern).toThrow(/Invalid subscription pattern/);
    }
  });
});

describe("EventBus sync handlers", () => {
  it("returns sync handler errors and still runs the other handlers", () => {
    const bus = new EventBus();
    const after = vi.fn();
    const boom = new Error("boom");
    bus.subscribe("exam.created", () => {
      throw boom;
    }, { mode: "sync", name: "projector" });
    bus.subscribe("exam.created", after, { mode: "sync" });

    const result = bus.publish(event("exam.created"));
    expect(result.syncErrors).toEqual([{ subscriptionId: 1, subscription: "projector", error: boom }]);
    expect(after).toHaveBeenCalledTimes(1);
    expect(bus.publish(event("other.thing")).syncErrors).toEqual([]);
    expect(bus.stats()).toMatchObject({ processed: 1, failed: 1 });
  });

  it("collects sync errors across publishMany", () => {
    const bus = new EventBus();
    bus.subscribe("exam.*", (e) => {
      if (e.type === "exam.deleted") throw new Error(`no ${e.id}`);
    }, { mode: "sync" });
    const events = [event("exam.deleted"), event("exam.created"), event("exam.deleted")];
    const result = bus.publishMany(events);
    expect(result.syncErrors.map((failure) => (failure.error as Error).message)).toEqual([`no ${events[0]!.id}`, `no ${events[2]!.id}`]);
  });

  it("reports a promise rejected by a sync handler through onError", async () => {
    const failures: HandlerFailure[] = [];
    const bus = new EventBus({ onError: (failure) => failures.push(failure) });
    bus.subscribe("exam.created", async () => {
      throw new Error("late");
    }, { mode: "sync", name: "careless" });
    const published = event("exam.created");
    expect(bus.publish(published).syncErrors).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toMatchObject([{ subscription: "careless", event: published, willRetry: false }]);
    expect(bus.stats().failed).toBe(1);
  });
});

describe("EventBus async handlers", () => {
  it("does not run async handlers before publish returns, nor wait for them", async () => {
    const bus = new EventBus();
    const held = gate();
    let started = 0;
    let finished = 0;
    bus.subscribe("exam.created", async () => {
      started += 1;
      await held.promise;
      finished += 1;
    });
    bus.publish(event("exam.created"));
    expect(started).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toBe(1);
    // The publisher keeps going while the handler is still open.
    bus.publish(event("exam.created"));
    expect(finished).toBe(0);
    held.open();
    await bus.drain();
    expect(finished).toBe(2);
  });

  it("runs a backlog in priority order, FIFO within a level", async () => {
    const bus = new EventBus({ concurrency: 1 });
    const order: string[] = [];
    bus.subscribe("*", (e) => void order.push(labelOf(e)));
    for (const priority of ["low", "normal", "high"] as const) {
      for (let i = 1; i <= 3; i += 1) bus.publish(event("exam.created", priority, { label: `${priority[0]}${i}` }));
    }
    await bus.drain();
    expect(order).toEqual(["h1", "h2", "h3", "n1", "n2", "n3", "l1", "l2", "l3"]);
  });

  it("lets a subscription override the event's priority", async () => {
    const bus = new EventBus({ concurrency: 1 });
    const order: string[] = [];
    bus.subscribe("exam.created", (e) => void order.push(`audit:${labelOf(e)}`), { priority: "low" });
    bus.subscribe("exam.created", (e) => void order.push(`index:${labelOf(e)}`));
    bus.publish(event("exam.created", "high", { label: "a" }));
    bus.publish(event("exam.created", "normal", { label: "b" }));
    await bus.drain();
    expect(order).toEqual(["index:a", "index:b", "audit:a", "audit:b"]);
  });

  it("keeps low-priority work moving under a constant flood of high", async () => {
    const bus = new EventBus({ concurrency: 1 });
    const order: string[] = [];
    let floods = 0;
    bus.subscribe("flood.tick", (e) => {
      order.push(labelOf(e));
      // Every high event publishes another: the high queue never runs dry.
      if (floods < 200) bus.publish(event("flood.tick", "high", { label: `h${++floods}` }));
    });
    bus.subscribe("report.requested", (e) => void order.push(labelOf(e)));
    for (let i = 0; i < 10; i += 1) bus.publish(event("flood.tick", "high", { label: `h${++floods}` }));
    for (let i = 0; i < 5; i += 1) bus.publish(event("report.requested", "low", { label: `l${i}` }));
    await bus.drain();

    const lowPositions = order.flatMap((label, index) => (label.startsWith("l") ? [index] : []));
    expect(lowPositions).toHaveLength(5);
    // Guaranteed share with weights 6/3/1: one low slot in every 7 while high is flooding.
    expect(lowPositions.at(-1)).toBeLessThan(5 * 7);
    expect(order).toHaveLength(205);
  });

  it("runs at most `concurrency` promise-returning handlers at once", async () => {
    const bus = new EventBus({ concurrency: 2 });
    const gates = Array.from({ length: 5 }, gate);
    let active = 0;
    let peak = 0;
    bus.subscribe("exam.created", async (e) => {
      active += 1;
      peak = Math.max(peak, active);
      await gates[(e.data as { n: number }).n]!.promise;
      active -= 1;
    });
    for (let n = 0; n < 5; n += 1) bus.publish(event("exam.created", "normal", { n }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(bus.stats()).toMatchObject({ running: 2, queued: { high: 0, normal: 3, low: 0 } });
    for (const { open } of gates) open();
    await bus.drain();
    expect(peak).toBe(2);
    expect(bus.stats()).toMatchObject({ running: 0, processed: 5, queued: { high: 0, normal: 0, low: 0 } });
  });

  it("yields to other macrotasks between batches", async () => {
    const bus = new EventBus({ batchSize: 100 });
    let handled = 0;
    bus.subscribe("exam.created", () => {
      handled += 1;
    });
    for (let i = 0; i < 1_000; i += 1) bus.publish(event("exam.created"));
    const handledWhenOthersRan = await new Promise<number>((resolve) => setImmediate(() => resolve(handled)));
    expect(handledWhenOthersRan).toBeGreaterThan(0);
    expect(handledWhenOthersRan).toBeLessThan(1_000);
    await bus.drain();
    expect(handled).toBe(1_000);
  });

  it("isolates failing async handlers and reports them through onError", async () => {
    const failures: HandlerFailure[] = [];
    const bus = new EventBus({ concurrency: 1, onError: (failure) => failures.push(failure) });
    const healthy: string[] = [];
    bus.subscribe("exam.created", () => {
      throw new Error("sync throw");
    }, { name: "thrower" });
    bus.subscribe("exam.created", async () => {
      throw new Error("rejected");
    }, { name: "rejecter" });
    bus.subscribe("exam.created", (e) => void healthy.push(labelOf(e)), { name: "healthy" });

    const first = event("exam.created", "normal", { label: "a" });
    bus.publish(first);
    bus.publish(event("exam.created", "normal", { label: "b" }));
    await bus.drain();

    expect(healthy).toEqual(["a", "b"]);
    expect(failures).toHaveLength(4);
    expect(failures[0]).toMatchObject({ subscription: "thrower", subscriptionId: 1, event: first, attempt: 1, willRetry: false });
    expect((failures[0]!.error as Error).message).toBe("sync throw");
    expect(failures[1]).toMatchObject({ subscription: "rejecter", event: first });
    expect(bus.stats()).toMatchObject({ processed: 2, failed: 4, running: 0 });
  });

  it("survives an onError hook that throws", async () => {
    const consoleError = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const bus = new EventBus({
        onError: () => {
          throw new Error("hook broke");
        },
      });
      const after = vi.fn();
      bus.subscribe("exam.created", () => {
        throw new Error("handler broke");
      });
      bus.subscribe("exam.created", after);
      bus.publish(event("exam.created"));
      await bus.drain();
      expect(after).toHaveBeenCalledTimes(1);
      expect(consoleError).toHaveBeenCalledTimes(1);
    } finally {
      consoleError.mockRestore();
    }
  });

  it("drops deliveries queued for a subscription that unsubscribed", async () => {
    const bus = new EventBus();
    const handler = vi.fn();
    const stop = bus.subscribe("exam.created", handler);
    bus.publish(event("exam.created"));
    stop();
    await bus.drain();
    expect(handler).not.toHaveBeenCalled();
  });

  it("retries with the policy, passing the attempt to middleware, and stops on NonRetryableError", async () => {
    const failures: HandlerFailure[] = [];
    const bus = new EventBus({ onError: (failure) => failures.push(failure) });
    const attempts: number[] = [];
    bus.use(async (context, next) => {
      attempts.push(context.attempt);
      await next();
    });
    let calls = 0;
    bus.subscribe("exam.created", () => {
      calls += 1;
      if (calls < 3) throw new Error(`flaky ${calls}`);
    }, { name: "flaky", retry: { maxAttempts: 5, delayMs: () => 1 } });
    bus.subscribe("exam.deleted", () => {
      throw new NonRetryableError("bad data");
    }, { name: "strict", retry: { maxAttempts: 5, delayMs: () => 1 } });

    bus.publish(event("exam.created"));
    bus.publish(event("exam.deleted"));
    await bus.drain();

    expect(calls).toBe(3);
    expect(attempts.filter((attempt) => attempt > 1)).toEqual([2, 3]);
    expect(failures.map((f) => [f.subscription, f.attempt, f.willRetry])).toEqual(
      expect.arrayContaining([["flaky", 1, true], ["flaky", 2, true], ["strict", 1, false]]),
    );
    expect(failures).toHaveLength(3);
    expect(bus.stats()).toMatchObject({ processed: 1, failed: 1, retried: 2, retryPending: 0 });
  });
});

describe("EventBus middleware", () => {
  it("wraps handlers in the order added, for sync and async subscriptions, including ones added earlier", async () => {
    const bus = new EventBus();
    const log: string[] = [];
    bus.subscribe("exam.created", () => void log.push("async handler"), { name: "worker" });
    bus.subscribe("exam.created", () => void log.push("sync handler"), { mode: "sync", name: "projector" });
    bus.use(async (context, next) => {
      log.push(`outer before ${context.subscription} ${context.attempt}`);
      await next();
      log.push(`outer after ${context.subscription}`);
    });
    bus.use(async (context, next) => {
      log.push(`inner before ${context.subscription}`);
      await next();
      log.push(`inner after ${context.subscription}`);
    });

    const published = event("exam.created");
    bus.publish(published);
    // The sync handler itself has run before publish returned.
    expect(log).toEqual(["outer before projector 1", "inner before projector", "sync handler"]);
    await bus.drain();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual([
      "outer before projector 1", "inner before projector", "sync handler", "inner after projector", "outer after projector",
      "outer before worker 1", "inner before worker", "async handler", "inner after worker", "outer after worker",
    ]);
  });

  it("still returns a sync handler's error to the publisher through middleware", () => {
    const bus = new EventBus({ onError: () => {} });
    bus.use(async (_context, next) => {
      await next();
    });
    const boom = new Error("boom");
    bus.subscribe("exam.created", () => {
      throw boom;
    }, { mode: "sync", name: "projector" });
    expect(bus.publish(event("exam.created")).syncErrors).toEqual([{ subscriptionId: 1, subscription: "projector", error: boom }]);
  });

  it("lets middleware see and swallow async failures", async () => {
    const failures: HandlerFailure[] = [];
    const bus = new EventBus({ onError: (failure) => failures.push(failure) });
    const seen: string[] = [];
    bus.use(async (_context, next) => {
      try {
        await next();
      } catch (error) {
        seen.push((error as Error).message);
      }
    });
    bus.subscribe("exam.created", () => {
      throw new Error("handled by middleware");
    });
    bus.publish(event("exam.created"));
    await bus.drain();
    expect(seen).toEqual(["handled by middleware"]);
    expect(failures).toEqual([]);
  });

  it("fails a delivery whose middleware calls next twice", async () => {
    const failures: HandlerFailure[] = [];
    const bus = new EventBus({ onError: (failure) => failures.push(failure) });
    const handler = vi.fn();
    bus.use(async (_context, next) => {
      await next();
      await next();
    });
    bus.subscribe("exam.created", handler);
    bus.publish(event("exam.created"));
    await bus.drain();
    expect(handler).toHaveBeenCalledTimes(1);
    expect((failures[0]?.error as Error).message).toMatch(/next\(\) called more than once/);
  });
});

describe("EventBus shutdown", () => {
  it("drain waits for queued, running and newly queued work", async () => {
    const bus = new EventBus({ concurrency: 2 });
    const done: string[] = [];
    bus.subscribe("exam.created", async (e) => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      done.push(labelOf(e));
      if (labelOf(e) === "a") bus.publish(event("exam.graded", "normal", { label: "follow-up" }));
    });
    bus.subscribe("exam.graded", async (e) => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      done.push(labelOf(e));
    });
    for (const label of ["a", "b", "c"]) bus.publish(event("exam.created", "normal", { label }));
    await bus.drain();
    expect(done.sort()).toEqual(["a", "b", "c", "follow-up"]);
    expect(bus.stats()).toMatchObject({ running: 0, processed: 4 });
    await expect(bus.drain()).resolves.toBeUndefined();
  });

  it("close drains accepted work and rejects later publishes as unavailable", async () => {
    const bus = new EventBus();
    const handled = vi.fn(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
    });
    bus.subscribe("exam.created", handled);
    bus.publish(event("exam.created"));
    await bus.close();
    expect(handled).toHaveBeenCalledTimes(1);
    expect(bus.stats().running).toBe(0);

    let thrown: unknown;
    try {
      bus.publish(event("exam.created"));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(EngineError);
    expect((thrown as EngineError).code).toBe("unavailable");
    expect(() => bus.publishMany([event("exam.created")])).toThrow(EngineError);
    expect(handled).toHaveBeenCalledTimes(1);
  });

  it("lists subscriptions for monitoring", () => {
    const bus = new EventBus();
    bus.subscribe("exam.*", () => {}, { name: "exam-projection", mode: "sync" });
    bus.subscribe("*", () => {});
    expect(bus.listSubscriptions()).toEqual([
      { id: 1, name: "exam-projection", pattern: "exam.*", mode: "sync" },
      { id: 2, name: "*#2", pattern: "*", mode: "async" },
    ]);
  });
});
