import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { HIGH, LOW, levelOf, RingQueue, type Level } from "../bus/scheduler";
import { systemClock, type Clock } from "../core/clock";
import type { EventEnvelope, StoredEvent } from "../core/envelope";
import { describeError, NotFoundError } from "../core/errors";
import { fromWireMessage, orderKeyOf, REPLAY_ID_HEADER, toWireMessage } from "./codec";
import { HeadQueue } from "./head-queue";
import type { DeadLetter, DeadLetterFilter, DeadLetterStore, Inbox } from "./dead-letters";
import type { BrokerDelivery, ConsumerHandle, TransportDriver } from "./driver";
import { backoffDelayMs, decideAfterFailure, resolveRetryPolicy, type RetryPolicy } from "./retry-policy";

/**
 * The Subscriber: the delivery semantics users rely on, the same on every broker. The driver
 * hands out raw deliveries; the Subscriber
 * - decodes them (a malformed message is dead-lettered with its DecodeError and acked at once:
 *   never a crash loop),
 * - skips (acks) a message its inbox already recorded (duplicate delivery -> one effect); a
 *   replayed delivery (header `ce_replayid`) is recorded under `<event id>/replay/<replay id>`, so
 *   it is processed again once per replay, while a duplicate of the replayed delivery is still skipped,
 * - runs the deliveries of one key one at a time in arrival order, and different keys in
 *   parallel up to `concurrency`; among the ready keys, the one whose next delivery has the
 *   higher priority goes first (FIFO within a priority),
 * - on success records the message in the inbox, then acks,
 * - on failure applies the retry policy: `retry(delay)` (the message steps out of line; later
 *   messages of its key keep flowing) or, after the last attempt or a non-retryable error, adds a
 *   dead letter and acks,
 * - survives a broker that is gone: a failed ack / retry is reported to `onError`; the broker
 *   redelivers the message later (at-least-once), and the inbox absorbs the repeat.
 *
 * `stop()` is a graceful drain: the driver stops handing out, every delivery already handed out
 * (running or waiting in this process) is handled and settled, then it resolves. Nothing is handed
 * back unsettled, so per-key order and attempt counts survive a restart.
 */

export type DeliveredEvent = EventEnvelope | StoredEvent;

export interface DeliveryContext {
  /** 1 on the first delivery; every delivery counts, including those after a crash. */
  attempt: number;
  subscription: string;
  messageId: string;
  /** Set when this delivery comes from a replay: the replay's id (the event keeps its own id). */
  replayId?: string;
}

export type SubscriberErrorStage = "handler" | "decode" | "inbox" | "ack" | "retry" | "dead_letter" | "stop";

export interface SubscriberErrorInfo {
  stage: SubscriberErrorStage;
  error: unknown;
  topic: string;
  subscription: string;
  messageId?: string;
  attempt?: number;
}

export interface SubscriberOptions {
  topic: string;
  /** The subscription name; one consumer group per subscription. */
  subscription: string;
  /** Unique per consumer instance. Default: `<host>-<pid>-<random>`. */
  consumer?: string;
  /** Handlers running at once (across keys). Default 16. */
  concurrency?: number;
  /** Deliveries outstanding from the broker. Default 2 x concurrency. */
  prefetch?: number;
  retry?: Partial<RetryPolicy>;
  deadLetters: DeadLetterStore;
  inbox?: Inbox;
  handler(event: DeliveredEvent, context: DeliveryContext): Promise<void>;
  /** Failures that do not stop the subscriber (handler errors, a broker gone during ack...). */
  onError?(info: SubscriberErrorInfo): void;
  clock?: Clock;
  /** In [0, 1), for the retry jitter. */
  random?: () => number;
}

export interface SubscriberStats {
  /** Handed out by the broker and not yet settled (running or waiting in this process). */
  inFlight: number;
  /** Handlers running now. */
  running: number;
  /** Handled successfully (acked after the effect). */
  processed: number;
  /** Handler failures (each failed attempt). */
  failed: number;
  /** Failures handed back for a later attempt. */
  retried: number;
  deadLettered: number;
  /** Deliveries skipped because the inbox had recorded them. */
  duplicates: number;
  /** Processed per second over the last 10 seconds. */
  ratePerSecond: number;
}

export interface StopOptions {
  /**
   * Give up waiting for running handlers after this long and resolve anyway (their deliveries
   * stay unsettled: the broker redelivers them). Default: wait for as long as they take.
   */
  timeoutMs?: number;
}

export interface RunningSubscriber {
  readonly topic: string;
  readonly subscription: string;
  readonly consumer: string;
  stop(options?: StopOptions): Promise<void>;
  stats(): SubscriberStats;
}

interface Pending {
  readonly delivery: BrokerDelivery;
  readonly event: DeliveredEvent;
  readonly level: Level;
}

interface Lane {
  readonly key: string;
  /** Its deliveries in order (usually a handful). */
  readonly queue: HeadQueue<Pending>;
  running: boolean;
  queued: boolean;
}

const RATE_WINDOW_SECONDS = 10;
/** Remembered first-failure times (for dead letters), bounded. */
const FIRST_FAILURE_MEMORY = 10_000;

export function defaultConsumerName(): string {
  let host = "host";
  try {
    host = hostname() || host;
  } catch {
    // Some sandboxes refuse os calls; the random part keeps the name unique anyway.
  }
  return `${host}-${process.pid}-${randomBytes(4).toString("hex")}`;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export async function startSubscriber(driver: TransportDriver, options: SubscriberOptions): Promise<RunningSubscriber> {
  const { topic, subscription, deadLetters, inbox, handler } = options;
  const consumer = options.consumer ?? defaultConsumerName();
  const concurrency = positiveInteger("concurrency", options.concurrency ?? 16);
  const prefetch = positiveInteger("prefetch", options.prefetch ?? 2 * concurrency);
  const policy = resolveRetryPolicy(options.retry);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;

  const lanes = new Map<string, Lane>();
  const ready: [RingQueue<Lane>, RingQueue<Lane>, RingQueue<Lane>] = [new RingQueue(), new RingQueue(), new RingQueue()];
  const settling = new Set<Promise<void>>();
  const firstFailures = new Map<string, string>();
  const rateBuckets = new Map<number, number>();
  const counters = { processed: 0, failed: 0, retried: 0, deadLettered: 0, duplicates: 0 };
  let inFlight = 0;
  let running = 0;
  let stopped = false;
  let stopPromise: Promise<void> | undefined;
  let idleWaiters: Array<() => void> = [];

  const report = (info: Omit<SubscriberErrorInfo, "topic" | "subscription">): void => {
    try {
      options.onError?.({ topic, subscription, ...info });
    } catch {
      // A failing error reporter must not take the subscriber down.
    }
  };
  const nowIso = (): string => new Date(clock.now()).toISOString();

  const countProcessed = (): void => {
    counters.processed += 1;
    const second = Math.floor(clock.now() / 1000);
    rateBuckets.set(second, (rateBuckets.get(second) ?? 0) + 1);
    for (const bucket of rateBuckets.keys()) if (bucket <= second - RATE_WINDOW_SECONDS) rateBuckets.delete(bucket);
  };

  const rememberFirstFailure = (messageId: string, at: string): string => {
    const known = firstFailures.get(messageId);
    if (known) return known;
    if (firstFailures.size >= FIRST_FAILURE_MEMORY) {
      const oldest = firstFailures.keys().next();
      if (!oldest.done) firstFailures.delete(oldest.value);
    }
    firstFailures.set(messageId, at);
    return at;
  };

  const checkIdle = (): void => {
    if (inFlight > 0 || settling.size > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const track = (work: Promise<void>): void => {
    const tracked = work.finally(() => {
      settling.delete(tracked);
      inFlight -= 1;
      checkIdle();
    });
    settling.add(tracked);
  };

  const ack = async (delivery: BrokerDelivery, messageId: string): Promise<void> => {
    try {
      await delivery.ack();
    } catch (error) {
      report({ stage: "ack", error, messageId, attempt: delivery.attempt });
    }
  };

  const deadLetter = async (delivery: BrokerDelivery, error: unknown, messageId: string): Promise<void> => {
    const lastFailedAt = nowIso();
    const firstFailedAt = firstFailures.get(messageId) ?? lastFailedAt;
    try {
      await deadLetters.add({
        subscription,
        topic,
        message: delivery.message,
        error: describeError(error),
        attempts: delivery.attempt,
        firstFailedAt,
        lastFailedAt,
      });
    } catch (storeError) {
      // Nowhere to keep it: do not ack (it would be lost); hand it back for a later try.
      report({ stage: "dead_letter", error: storeError, messageId, attempt: delivery.attempt });
      try {
        await delivery.retry(backoffDelayMs(delivery.attempt, policy, random));
      } catch (retryError) {
        report({ stage: "retry", error: retryError, messageId, attempt: delivery.attempt });
      }
      return;
    }
    firstFailures.delete(messageId);
    counters.deadLettered += 1;
    await ack(delivery, messageId);
  };

  const onFailure = async (delivery: BrokerDelivery, error: unknown, messageId: string): Promise<void> => {
    counters.failed += 1;
    report({ stage: "handler", error, messageId, attempt: delivery.attempt });
    const decision = decideAfterFailure(error, delivery.attempt, policy, random);
    if (decision.action === "dead_letter") {
      await deadLetter(delivery, error, messageId);
      return;
    }
    rememberFirstFailure(messageId, nowIso());
    try {
      await delivery.retry(decision.delayMs);
      counters.retried += 1;
    } catch (retryError) {
      report({ stage: "retry", error: retryError, messageId, attempt: delivery.attempt });
    }
  };

  const run = async ({ delivery, event }: Pending): Promise<void> => {
    const messageId = event.id;
    const replayId = delivery.message.headers[REPLAY_ID_HEADER] || undefined;
    const inboxKey = replayId === undefined ? messageId : `${messageId}/replay/${replayId}`;
    try {
      if (inbox && (await inbox.has(subscription, inboxKey))) {
        counters.duplicates += 1;
        await ack(delivery, messageId);
        return;
      }
      await handler(event, { attempt: delivery.attempt, subscription, messageId, ...(replayId === undefined ? {} : { replayId }) });
    } catch (error) {
      await onFailure(delivery, error, messageId);
      return;
    }
    if (inbox) {
      try {
        await inbox.record(subscription, inboxKey);
      } catch (error) {
        // The effect is done: acking keeps it from being repeated by a redelivery; only a later
        // duplicate publish could slip through the inbox.
        report({ stage: "inbox", error, messageId, attempt: delivery.attempt });
      }
    }
    firstFailures.delete(messageId);
    countProcessed();
    await ack(delivery, messageId);
  };

  const enqueueLane = (lane: Lane): void => {
    const head = lane.queue.peek();
    if (!head) return;
    lane.queued = true;
    ready[head.level].push(lane);
  };

  const nextLane = (): Lane | undefined => {
    for (let level: Level = HIGH; level <= LOW; level = (level + 1) as Level) {
      const lane = ready[level].shift();
      if (lane) return lane;
    }
    return undefined;
  };

  const pump = (): void => {
    while (running < concurrency) {
      const lane = nextLane();
      if (!lane) return;
      lane.queued = false;
      const pending = lane.queue.shift();
      if (!pending) continue;
      lane.running = true;
      running += 1;
      const work = run(pending).finally(() => {
        running -= 1;
        lane.running = false;
        if (lane.queue.length > 0) enqueueLane(lane);
        else lanes.delete(lane.key);
        pump();
      });
      track(work);
    }
  };

  const onDelivery = (delivery: BrokerDelivery): void => {
    if (stopped) {
      // Handed out after the drain finished: leave it unsettled; the broker redelivers it.
      report({ stage: "stop", error: new Error("delivery after stop; left unsettled"), messageId: delivery.message?.id, attempt: delivery.attempt });
      return;
    }
    inFlight += 1;
    let event: DeliveredEvent;
    try {
      event = fromWireMessage(delivery.message);
    } catch (error) {
      const messageId = delivery.message?.id ?? "(unknown)";
      report({ stage: "decode", error, messageId, attempt: delivery.attempt });
      track(deadLetter(delivery, error, messageId));
      return;
    }
    const key = typeof delivery.message.key === "string" ? delivery.message.key : orderKeyOf(event);
    let lane = lanes.get(key);
    if (!lane) {
      lane = { key, queue: new HeadQueue<Pending>(), running: false, queued: false };
      lanes.set(key, lane);
    }
    lane.queue.push({ delivery, event, level: levelOf(event.priority) });
    if (!lane.running && !lane.queued) enqueueLane(lane);
    pump();
  };

  await driver.ensureGroup(topic, subscription);
  const handle: ConsumerHandle = await driver.consume({ topic, group: subscription, consumer, prefetch }, onDelivery);

  const drained = (): Promise<void> =>
    new Promise<void>((resolve) => {
      idleWaiters.push(resolve);
      checkIdle();
    });

  return {
    topic,
    subscription,
    consumer,
    stop(stopOptions: StopOptions = {}): Promise<void> {
      if (stopPromise) return stopPromise;
      stopPromise = (async () => {
        try {
          await handle.stop();
        } catch (error) {
          report({ stage: "stop", error });
        }
        const timeoutMs = stopOptions.timeoutMs;
        if (timeoutMs === undefined) {
          await drained();
        } else {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const timedOut = new Promise<"timeout">((resolve) => {
            timer = setTimeout(() => resolve("timeout"), timeoutMs);
          });
          const outcome = await Promise.race([drained().then(() => "drained" as const), timedOut]);
          if (timer) clearTimeout(timer);
          if (outcome === "timeout") {
            report({ stage: "stop", error: new Error(`stopped with ${inFlight} deliveries still unsettled after ${timeoutMs} ms`) });
          }
        }
        stopped = true;
      })();
      return stopPromise;
    },
    stats(): SubscriberStats {
      const second = Math.floor(clock.now() / 1000);
      let recent = 0;
      for (const [bucket, count] of rateBuckets) if (bucket > second - RATE_WINDOW_SECONDS) recent += count;
      return { inFlight, running, ...counters, ratePerSecond: recent / RATE_WINDOW_SECONDS };
    },
  };
}

/** Encodes envelopes and publishes them in one `driver.publish` call (in order per key). */
export async function publishEvents(
  driver: TransportDriver,
  topic: string,
  events: DeliveredEvent | readonly DeliveredEvent[],
): Promise<void> {
  const list = Array.isArray(events) ? (events as readonly DeliveredEvent[]) : [events as DeliveredEvent];
  if (list.length === 0) return;
  await driver.publish(topic, list.map(toWireMessage));
}

/** Publishes envelopes to one topic. */
export class TransportPublisher {
  constructor(
    readonly driver: TransportDriver,
    readonly topic: string,
  ) {}

  publish(events: DeliveredEvent | readonly DeliveredEvent[]): Promise<void> {
    return publishEvents(this.driver, this.topic, events);
  }
}

/** Puts one dead letter back into its subscription's input (attempt 1) and removes it. */
export async function redrive(driver: TransportDriver, deadLetters: DeadLetterStore, id: string): Promise<DeadLetter> {
  const letter = await deadLetters.get(id);
  if (!letter) throw new NotFoundError(`dead letter ${id} not found`);
  await driver.redeliver(letter.topic, letter.subscription, letter.message);
  await deadLetters.remove(id);
  return letter;
}

export type RedriveFilter = Omit<DeadLetterFilter, "after" | "limit"> & {
  /** Count what would be redriven, change nothing. */
  dryRun?: boolean;
  /** Spread the redrive out (a burst of old failures can overload a recovering dependency). */
  ratePerSecond?: number;
  /** Most dead letters to redrive. Default: all that match. */
  limit?: number;
};

/**
 * Redrives every dead letter matching the filter (those present when it starts: letters added
 * meanwhile, e.g. a redriven message failing again, wait for the next call).
 */
export async function redriveMatching(
  driver: TransportDriver,
  deadLetters: DeadLetterStore,
  filter: RedriveFilter,
): Promise<{ matched: number; redriven: number }> {
  const { dryRun = false, ratePerSecond, limit = Number.POSITIVE_INFINITY, ...match } = filter;
  if (ratePerSecond !== undefined && !(ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be > 0, got ${ratePerSecond}`);
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await deadLetters.list({ ...match, limit: 500, ...(after === undefined ? {} : { after }) });
    for (const letter of page.items) {
      if (ids.length >= limit) break;
      ids.push(letter.id);
    }
    if (page.next === null || ids.length >= limit || page.items.length === 0) break;
    after = page.next;
  }
  if (dryRun) return { matched: ids.length, redriven: 0 };
  const gapMs = ratePerSecond === undefined ? 0 : 1000 / ratePerSecond;
  let redriven = 0;
  for (const id of ids) {
    if (redriven > 0 && gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    const letter = await deadLetters.get(id);
    if (!letter) continue;
    await driver.redeliver(letter.topic, letter.subscription, letter.message);
    await deadLetters.remove(id);
    redriven += 1;
  }
  return { matched: ids.length, redriven };
}
