import { EventEmitter } from "node:events";
import { buildEnvelope, type EventEnvelope } from "@/server/engine/core/envelope";
import { EventBus } from "@/server/engine/bus/event-bus";
import { formatRate, formatRatio, type BenchRow } from "./table";

/**
 * EventBus against node:events EventEmitter with the same listeners. Each figure is the best of a
 * few rounds after a warm-up, and every round stops at its time budget even if N is not reached.
 */

const SYNC_EVENTS = 1_000_000;
const ASYNC_EVENTS = 200_000;
const ROUNDS = 3;
const ROUND_BUDGET_MS = 4_000;
const CHUNK = 10_000;

interface Measurement {
  events: number;
  ms: number;
}

const rate = (m: Measurement) => (m.events / m.ms) * 1000;

function bestOf(rounds: number, run: () => Measurement): number {
  let best = 0;
  for (let round = 0; round < rounds; round += 1) best = Math.max(best, rate(run()));
  return best;
}

async function bestOfAsync(rounds: number, run: () => Promise<Measurement>): Promise<number> {
  let best = 0;
  for (let round = 0; round < rounds; round += 1) best = Math.max(best, rate(await run()));
  return best;
}

/** Publishes `total` events in chunks, stopping early when the budget is spent. */
function timedLoop(total: number, emitOne: () => void): Measurement {
  const start = performance.now();
  let done = 0;
  while (done < total && performance.now() - start < ROUND_BUDGET_MS) {
    const end = Math.min(total, done + CHUNK);
    for (; done < end; done += 1) emitOne();
  }
  return { events: done, ms: performance.now() - start };
}

function syncRow(name: string, pattern: string, event: EventEnvelope): BenchRow {
  let sink = 0;
  const listeners = [
    (e: EventEnvelope) => { sink += e.schemaversion; },
    (e: EventEnvelope) => { sink += e.type.length; },
    (e: EventEnvelope) => { sink ^= e.priority.length; },
  ];
  const bus = new EventBus();
  for (const listener of listeners) bus.subscribe(pattern, listener, { mode: "sync" });
  const emitter = new EventEmitter();
  for (const listener of listeners) emitter.on(event.type, listener);

  const ours = () => timedLoop(SYNC_EVENTS, () => bus.publish(event));
  const baseline = () => timedLoop(SYNC_EVENTS, () => emitter.emit(event.type, event));
  timedLoop(SYNC_EVENTS / 5, () => bus.publish(event));
  timedLoop(SYNC_EVENTS / 5, () => emitter.emit(event.type, event));
  const oursRate = bestOf(ROUNDS, ours);
  const baselineRate = bestOf(ROUNDS, baseline);
  if (sink === Number.MIN_SAFE_INTEGER) console.log(sink); // keeps the listeners' work observable
  return {
    name,
    ours: formatRate(oursRate, "events"),
    baseline: formatRate(baselineRate, "events"),
    baselineName: pattern === event.type ? "EventEmitter, same 3 listeners" : "EventEmitter, same 3 listeners on the exact type (no wildcards)",
    ratio: formatRatio(oursRate, baselineRate),
  };
}

async function asyncRow(event: EventEnvelope): Promise<BenchRow> {
  const listenerCount = 3;
  let handled = 0;

  const bus = new EventBus();
  for (let i = 0; i < listenerCount; i += 1) bus.subscribe(event.type, async () => { handled += 1; });
  const ours = async (events: number): Promise<Measurement> => {
    handled = 0;
    const start = performance.now();
    for (let i = 0; i < events; i += 1) bus.publish(event);
    await bus.drain();
    if (handled !== events * listenerCount) throw new Error(`bus handled ${handled} of ${events * listenerCount}`);
    return { events, ms: performance.now() - start };
  };

  // The naive alternative: defer every listener call to a microtask, unbounded and unprioritised.
  const emitter = new EventEmitter();
  let expected = 0;
  let finished: (() => void) | undefined;
  const work = async () => {
    handled += 1;
    if (handled === expected) finished?.();
  };
  for (let i = 0; i < listenerCount; i += 1) emitter.on(event.type, () => queueMicrotask(work));
  const baseline = async (events: number): Promise<Measurement> => {
    handled = 0;
    expected = events * listenerCount;
    const start = performance.now();
    const done = new Promise<void>((resolve) => { finished = resolve; });
    for (let i = 0; i < events; i += 1) emitter.emit(event.type, event);
    await done;
    return { events, ms: performance.now() - start };
  };

  await ours(ASYNC_EVENTS / 5);
  await baseline(ASYNC_EVENTS / 5);
  const oursRate = await bestOfAsync(ROUNDS, () => ours(ASYNC_EVENTS));
  const baselineRate = await bestOfAsync(ROUNDS, () => baseline(ASYNC_EVENTS));
  await bus.close();
  return {
    name: `async dispatch, ${listenerCount} async listeners, ${ASYNC_EVENTS.toLocaleString("en-US")} events, until all handled`,
    ours: formatRate(oursRate, "events"),
    baseline: formatRate(baselineRate, "events"),
    baselineName: "EventEmitter + queueMicrotask per listener",
    ratio: formatRatio(oursRate, baselineRate),
  };
}

export async function benchBus(): Promise<BenchRow[]> {
  const event = buildEnvelope({ type: "exam.created", data: { examId: "e-1", title: "Algebra" }, priority: "normal" });
  const events = SYNC_EVENTS.toLocaleString("en-US");
  return [
    syncRow(`sync dispatch, 3 listeners on exact type, ${events} events`, "exam.created", event),
    syncRow(`sync dispatch, 3 listeners on exam.*, ${events} events`, "exam.*", event),
    await asyncRow(event),
  ];
}
