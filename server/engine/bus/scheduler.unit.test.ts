import { describe, expect, it } from "vitest";
import { HIGH, LOW, NORMAL, PriorityScheduler, RingQueue, levelOf } from "./scheduler";

describe("RingQueue", () => {
  it("is FIFO across growth and wrap-around", () => {
    const queue = new RingQueue<number>();
    const out: number[] = [];
    let next = 0;
    // Interleave pushes and shifts so the head wraps before the buffer grows.
    for (let round = 0; round < 50; round += 1) {
      for (let i = 0; i < 7; i += 1) queue.push(next++);
      for (let i = 0; i < 5; i += 1) out.push(queue.shift() as number);
    }
    while (queue.length > 0) out.push(queue.shift() as number);
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
    expect(queue.shift()).toBeUndefined();
  });
});

describe("PriorityScheduler", () => {
  function backlogged(perLevel: number): PriorityScheduler<string> {
    const scheduler = new PriorityScheduler<string>();
    for (let i = 0; i < perLevel; i += 1) {
      scheduler.push(LOW, `l${i}`);
      scheduler.push(NORMAL, `n${i}`);
      scheduler.push(HIGH, `h${i}`);
    }
    return scheduler;
  }

  function take(scheduler: PriorityScheduler<string>, count: number): string[] {
    const taken: string[] = [];
    for (let i = 0; i < count; i += 1) taken.push(scheduler.next() as string);
    return taken;
  }

  it("serves 6 high, 3 normal, 1 low per cycle when all levels are backlogged, FIFO within a level", () => {
    const scheduler = backlogged(30);
    expect(take(scheduler, 20)).toEqual([
      "h0", "h1", "h2", "h3", "h4", "h5", "n0", "n1", "n2", "l0",
      "h6", "h7", "h8", "h9", "h10", "h11", "n3", "n4", "n5", "l1",
    ]);
  });

  it("gives low at least its share under a flood of high that never ends", () => {
    const scheduler = new PriorityScheduler<string>();
    for (let i = 0; i < 5; i += 1) scheduler.push(LOW, `l${i}`);
    let highs = 0;
    const order: string[] = [];
    for (let i = 0; i < 35; i += 1) {
      // Keep the high queue deeper than anything the scheduler can take in one cycle.
      while (scheduler.sizeOf(HIGH) < 10) scheduler.push(HIGH, `h${highs++}`);
      order.push(scheduler.next() as string);
    }
    const lowPositions = order.flatMap((item, index) => (item.startsWith("l") ? [index] : []));
    // Weights 6 (high) + 1 (low): one low in every 7 dispatches.
    expect(lowPositions).toEqual([6, 13, 20, 27, 34]);
  });

  it("lets a lone level use every slot and restarts at high once empty", () => {
    const scheduler = new PriorityScheduler<string>();
    for (let i = 0; i < 12; i += 1) scheduler.push(LOW, `l${i}`);
    expect(take(scheduler, 12)).toEqual(Array.from({ length: 12 }, (_, i) => `l${i}`));
    expect(scheduler.next()).toBeUndefined();

    // Mid-cycle state is forgotten: a new backlog starts with high.
    scheduler.push(NORMAL, "n0");
    scheduler.push(HIGH, "h0");
    expect(take(scheduler, 2)).toEqual(["h0", "n0"]);
  });

  it("follows custom weights and rejects bad ones", () => {
    const scheduler = new PriorityScheduler<string>({ high: 2, normal: 1, low: 1 });
    for (let i = 0; i < 4; i += 1) {
      scheduler.push(HIGH, `h${i}`);
      scheduler.push(NORMAL, `n${i}`);
      scheduler.push(LOW, `l${i}`);
    }
    expect(take(scheduler, 8)).toEqual(["h0", "h1", "n0", "l0", "h2", "h3", "n1", "l1"]);
    expect(scheduler.size).toBe(4);
    expect(() => new PriorityScheduler({ high: 0, normal: 1, low: 1 })).toThrow(RangeError);
    expect(() => new PriorityScheduler({ high: 1.5, normal: 1, low: 1 })).toThrow(RangeError);
  });

  it("maps event priorities to levels, unknown ones to normal", () => {
    expect([levelOf("high"), levelOf("normal"), levelOf("low"), levelOf(undefined), levelOf("urgent" as never)]).toEqual([HIGH, NORMAL, LOW, NORMAL, NORMAL]);
  });
});
