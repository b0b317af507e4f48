import type { Priority } from "../core/envelope";

/**
 * Weighted round robin over three FIFO queues (high, normal, low).
 *
 * Policy: the scheduler visits the levels in the order high -> normal -> low and takes up to
 * `weights[level]` items from a level before moving to the next one; an empty level is skipped
 * (its turn passes, it does not bank credit). Hence, whenever a level has work waiting, it gets at
 * least `weight / (sum of the weights of the levels with work)` of the dispatch slots: with the
 * default 6/3/1, low gets 1 slot in 10 when all levels are backlogged and 1 in 7 under a pure
 * flood of high. Within a level the order is FIFO. When every queue runs dry the cycle restarts
 * at high, so a fresh backlog is served in priority order.
 */
export interface PriorityWeights {
  high: number;
  normal: number;
  low: number;
}

export const DEFAULT_PRIORITY_WEIGHTS: Readonly<PriorityWeights> = Object.freeze({ high: 6, normal: 3, low: 1 });

export const HIGH = 0;
export const NORMAL = 1;
export const LOW = 2;
export type Level = typeof HIGH | typeof NORMAL | typeof LOW;

export function levelOf(priority: Priority | undefined): Level {
  // Anything unrecognised (e.g. an attribute from a foreign producer) is treated as normal.
  return priority === "high" ? HIGH : priority === "low" ? LOW : NORMAL;
}

/** FIFO on a power-of-two ring buffer: O(1) push and shift without Array#shift's copying. */
export class RingQueue<T> {
  private items: Array<T | undefined> = new Array<T | undefined>(16);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = item;
    this.count += 1;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    // Release the slot so a drained queue does not pin delivered events in memory.
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count -= 1;
    return item;
  }

  private grow(): void {
    const larger = new Array<T | undefined>(this.items.length * 2);
    for (let i = 0; i < this.count; i += 1) larger[i] = this.items[(this.head + i) & (this.items.length - 1)];
    this.items = larger;
    this.head = 0;
  }
}

export class PriorityScheduler<T> {
  private readonly queues: [RingQueue<T>, RingQueue<T>, RingQueue<T>] = [new RingQueue(), new RingQueue(), new RingQueue()];
  private readonly weights: [number, number, number];
  private level: Level = HIGH;
  private credit: number;
  private total = 0;

  constructor(weights: PriorityWeights = DEFAULT_PRIORITY_WEIGHTS) {
    for (const [name, weight] of Object.entries(weights)) {
      if (!Number.isInteger(weight) || weight < 1) throw new RangeError(`priority weight ${name} must be a positive integer, got ${weight}`);
    }
    this.weights = [weights.high, weights.normal, weights.low];
    this.credit = this.weights[HIGH];
  }

  get size(): number {
    return this.total;
  }

  sizeOf(level: Level): number {
    return this.queues[level].length;
  }

  push(level: Level, item: T): void {
    this.queues[level].push(item);
    this.total += 1;
  }

  next(): T | undefined {
    if (this.total === 0) return undefined;
    // Terminates: some queue is non-empty and every level's turn starts with credit >= 1.
    for (;;) {
      const queue = this.queues[this.level];
      if (this.credit > 0 && queue.length > 0) {
        this.credit -= 1;
        this.total -= 1;
        const item = queue.shift() as T;
        if (this.total === 0) this.restartCycle();
        return item;
      }
      this.level = this.level === LOW ? HIGH : ((this.level + 1) as Level);
      this.credit = this.weights[this.level];
    }
  }

  private restartCycle(): void {
    this.level = HIGH;
    this.credit = this.weights[HIGH];
  }
}
