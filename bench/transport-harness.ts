import { buildEnvelope, type EventEnvelope } from "@/server/engine/core/envelope";
import type { TransportDriver } from "@/server/engine/transport/driver";
import { InMemoryDeadLetterStore } from "@/server/engine/transport/memory-driver";
import { publishEvents, startSubscriber } from "@/server/engine/transport/subscriber";
import { formatRate, formatRatio, type BenchRow } from "./table";

/**
 * What the transport benches share. Each compares "ours" (a driver, under the engine's Subscriber
 * with a no-op handler) with "raw" (the broker's own client doing the same job), each side a
 * {@link Side}; a broker's bench only says how to open its sides and names its rows.
 *
 * - Throughput: N messages of ~300 bytes, publish-to-ack: from the first publish until the last
 *   message is handled (publishing and consuming overlap), published in batches. Best of rounds in
 *   which the sides take turns (raw first): the broker and this machine are shared, so one slow
 *   moment should not decide the ratio.
 * - Latency: a fixed rate for a few seconds, from just before the publish call to the handler;
 *   p50 / p95 / p99. The ratio column is baseline / ours for these rows, so above 1 is still
 *   "better than the baseline".
 *
 * Every wait is bounded.
 */

const TICK_MS = 10;
/** Whatever happens, a wait gives up after this. */
const WAIT_LIMIT_MS = 120_000;
const PERCENTILES = [50, 95, 99] as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface SampleShape {
  /** How many partition keys the events spread over (`exam-<n % keys>`). */
  keys: number;
  /** One in this many events is high priority, the others normal; absent: all normal. */
  highPriorityEvery?: number;
}

/** Event `n`: ~300 bytes of JSON data, the shape of the demo's exam events. */
export function sampleEvent(n: number, shape: SampleShape): EventEnvelope {
  const exam = `exam-${n % shape.keys}`;
  return buildEnvelope({
    type: "exam.answer.recorded",
    subject: exam,
    partitionkey: exam,
    priority: shape.highPriorityEvery !== undefined && n % shape.highPriorityEvery === 0 ? "high" : "normal",
    data: { examId: exam, sheetId: `sheet-${n}`, question: n % 40, answer: "B", score: (n % 10) / 2, comment: "x".repeat(190) },
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`bench: ${what} did not happen within ${WAIT_LIMIT_MS} ms`);
    await sleep(2);
  }
}

/** The p-th percentile of ascending `sorted` (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** What a side's consumer has handled: a count, and during a latency run each message's publish-to-handler time. */
export class Tally {
  /** Messages handled so far. */
  count = 0;
  private sentAt: Map<string, number> | undefined;
  private latencies: number[] = [];

  /** One message handled: call once per message, with its id (the event id). */
  handled(id: string): void {
    this.count += 1;
    const at = this.sentAt?.get(id);
    if (at !== undefined) this.latencies.push(performance.now() - at);
  }

  /** Starts timing: record here when each message is published. */
  startTiming(): Map<string, number> {
    this.latencies = [];
    this.sentAt = new Map();
    return this.sentAt;
  }

  /** Stops timing; the latencies recorded since `startTiming`, sorted (ms). */
  stopTiming(): number[] {
    this.sentAt = undefined;
    return this.latencies.sort((a, b) => a - b);
  }
}

/** One contender, publishing and consuming on one topic. */
export interface Side {
  /** Publishes events in one batch, resolved once the broker has them. */
  publish(events: EventEnvelope[]): Promise<void>;
  /** Its consumer calls `tally.handled(id)` for each message it handles. */
  readonly tally: Tally;
  close(): Promise<void>;
}

export interface SubscriberSideOptions {
  topic: string;
  subscription: string;
  concurrency: number;
  prefetch: number;
  /** Runs after the subscriber has stopped; default: closes the driver. */
  close?(): Promise<void>;
}

/** Ours as applications use it: `driver` (connected) under the engine's Subscriber, with a no-op handler. */
export async function subscriberSide(driver: TransportDriver, options: SubscriberSideOptions): Promise<Side> {
  const { topic, subscription, concurrency, prefetch } = options;
  const tally = new Tally();
  const subscriber = await startSubscriber(driver, {
    topic,
    subscription,
    concurrency,
    prefetch,
    deadLetters: new InMemoryDeadLetterStore(),
    handler: async (event) => tally.handled(event.id),
  });
  return {
    publish: (events) => publishEvents(driver, topic, events),
    tally,
    close: async () => {
      await subscriber.stop({ timeoutMs: 10_000 });
      await (options.close ? options.close() : driver.close());
    },
  };
}

/** Publishes `total` events in batches, messages per second from the first publish until the last is handled. */
async function throughput(side: Side, total: number, batch: number, shape: SampleShape): Promise<number> {
  const events = Array.from({ length: total }, (_, n) => sampleEvent(n, shape));
  const before = side.tally.count;
  const start = performance.now();
  for (let offset = 0; offset < total; offset += batch) await side.publish(events.slice(offset, offset + batch));
  await until(() => side.tally.count - before >= total, `consuming ${total} messages`);
  return (total / (performance.now() - start)) * 1000;
}

/** Publishes at `rate`/s for `seconds` in ticks of `TICK_MS`; the sorted publish-to-handler times (ms). */
async function latency(side: Side, rate: number, seconds: number, shape: SampleShape): Promise<number[]> {
  const total = rate * seconds;
  const perTick = (rate * TICK_MS) / 1000;
  const before = side.tally.count;
  const sentAt = side.tally.startTiming();
  const start = performance.now();
  for (let tick = 0, sent = 0; sent < total; tick += 1) {
    const wait = start + tick * TICK_MS - performance.now();
    if (wait > 0) await sleep(wait);
    const events = Array.from({ length: Math.min(perTick, total - sent) }, (_, i) => sampleEvent(sent + i, shape));
    sent += events.length;
    const at = performance.now();
    for (const event of events) sentAt.set(event.id, at);
    await side.publish(events);
  }
  await until(() => side.tally.count - before >= total, `consuming the paced ${total} messages`);
  return side.tally.stopTiming();
}

/** Opens a side; `run` names the run it is opened for ("throughput-0", "latency") where sides are opened per run. */
export type OpenSide = (run: string) => Promise<Side>;

export interface TransportComparison {
  /** The events published. */
  sample: SampleShape;
  /**
   * "shared": every side is opened once, warmed up, used for every run and closed at the end;
   * "per-run": a side is opened for each run and closed after it.
   */
  sides: "shared" | "per-run";
  /** The baseline. */
  raw: OpenSide;
  /** Ours, one throughput row each (its name); the first one is also measured for latency. */
  ours: ReadonlyArray<{ open: OpenSide; throughputName: string }>;
  /** Messages per throughput run, published in batches of `batch`; best of `rounds`. */
  messages: number;
  batch: number;
  rounds: number;
  /** Messages published through each shared side before the rounds. */
  warmup?: number;
  /** Runs after each throughput round. */
  afterRound?(): Promise<void>;
  /** Latency runs: `rate` messages a second for `rateSeconds`. */
  rate: number;
  rateSeconds: number;
  /** The baseline's name in the throughput rows. */
  baselineName: string;
  /** A latency row's name (p: 50, 95, 99) and the baseline's name there. */
  latencyName(p: number): string;
  latencyBaselineName: string;
}

/** Runs a comparison: one throughput row per contender of ours, then p50 / p95 / p99 latency rows. */
export async function compareTransports(plan: TransportComparison): Promise<BenchRow[]> {
  const openers = [plan.raw, ...plan.ours.map(({ open }) => open)];
  const shared: Side[] = [];
  try {
    if (plan.sides === "shared") for (const open of openers) shared.push(await open("shared"));
    const use = async <T>(index: number, run: string, measure: (side: Side) => Promise<T>): Promise<T> => {
      const open = openers[index];
      if (!open) throw new Error(`bench: no side ${index}`);
      if (plan.sides === "shared") return measure(shared[index] as Side);
      const side = await open(run);
      try {
        return await measure(side);
      } finally {
        await side.close();
      }
    };

    const { warmup } = plan;
    if (warmup !== undefined) {
      for (let index = 0; index < openers.length; index += 1) await use(index, "warmup", (side) => throughput(side, warmup, plan.batch, plan.sample));
    }
    const rates = openers.map(() => 0);
    for (let round = 0; round < plan.rounds; round += 1) {
      for (let index = 0; index < openers.length; index += 1) {
        const rate = await use(index, `throughput-${round}`, (side) => throughput(side, plan.messages, plan.batch, plan.sample));
        rates[index] = Math.max(rates[index] ?? 0, rate);
      }
      await plan.afterRound?.();
    }
    const rawLatency = await use(0, "latency", (side) => latency(side, plan.rate, plan.rateSeconds, plan.sample));
    const oursLatency = await use(1, "latency", (side) => latency(side, plan.rate, plan.rateSeconds, plan.sample));

    const [rawRate = 0, ...oursRates] = rates;
    const rows: BenchRow[] = plan.ours.map(({ throughputName }, index) => {
      const oursRate = oursRates[index] ?? 0;
      return { name: throughputName, ours: formatRate(oursRate, "msg"), baseline: formatRate(rawRate, "msg"), baselineName: plan.baselineName, ratio: formatRatio(oursRate, rawRate) };
    });
    for (const p of PERCENTILES) {
      const oursMs = percentile(oursLatency, p);
      const rawMs = percentile(rawLatency, p);
      rows.push({
        name: plan.latencyName(p),
        ours: `${oursMs.toFixed(1)} ms`,
        baseline: `${rawMs.toFixed(1)} ms`,
        baselineName: plan.latencyBaselineName,
        ratio: formatRatio(rawMs, oursMs),
      });
    }
    return rows;
  } finally {
    await Promise.allSettled(shared.map((side) => side.close()));
  }
}
