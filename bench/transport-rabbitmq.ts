import { randomBytes } from "node:crypto";
import amqp, { type Channel, type ConfirmChannel } from "amqplib";
import { createRabbitmqDriver, DEFAULT_RETRY_TIERS_MS, type RabbitmqDriver } from "@/server/adapters/rabbitmq";
import { groupNames, MAX_PRIORITY } from "@/server/adapters/rabbitmq/topology";
import { toOutgoing, FRESH } from "@/server/adapters/rabbitmq/wire";
import { buildEnvelope, type EventEnvelope } from "@/server/engine/core/envelope";
import { toWireMessage } from "@/server/engine/transport/codec";
import { InMemoryDeadLetterStore } from "@/server/engine/transport/memory-driver";
import { publishEvents, startSubscriber, type DeliveredEvent } from "@/server/engine/transport/subscriber";
import { formatRate, formatRatio, type BenchRow } from "./table";

/**
 * The RabbitMQ transport (driver + the engine's Subscriber) against amqplib used directly for the
 * same job: a durable fanout exchange and a durable classic queue with the same arguments,
 * persistent messages with the same properties and headers, publisher confirms per batch on a
 * connection of its own, and a manual-ack consumer with the same prefetch on another connection.
 *
 * - Throughput: N messages of ~300 bytes, publish-to-ack: the clock runs from the first publish
 *   until the consumer has acked the last one (publishing and consuming overlap). Best of
 *   alternating rounds.
 * - Latency: a fixed rate for a few seconds, from just before the publish call to the handler
 *   (for amqplib: to the consume callback); p50 / p95 / p99. The ratio column is
 *   baseline / ours for these rows, so above 1 is still "better than the baseline".
 *
 * Every wait is bounded; objects are named `elbench-<random>...` and deleted at the end.
 * `BENCH_AMQP_URL` (default: the local broker of scripts/services.sh).
 */

const AMQP_URL = process.env.BENCH_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const PREFIX = `elbench-${randomBytes(4).toString("hex")}`;
const MESSAGES = 50_000;
const WARMUP = 5_000;
const ROUNDS = 2;
const BATCH = 500;
const CONCURRENCY = 64;
const PREFETCH = 256;
const RATE = 5_000;
const RATE_SECONDS = 5;
const TICK_MS = 10;
const WAIT_LIMIT_MS = 90_000;

/** ~300 bytes of JSON body, with a slot for the send time (latency runs). */
function sampleEvent(n: number, sentAt = 0): EventEnvelope {
  return buildEnvelope({
    type: "exam.answer.recorded",
    subject: `exam-${n % 97}`,
    partitionkey: `exam-${n % 97}`,
    data: { examId: `exam-${n % 97}`, sheetId: `sheet-${n}`, question: n % 40, answer: "B", score: (n % 10) / 2, sentAt, comment: "x".repeat(170) },
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`bench: ${what} did not happen within ${WAIT_LIMIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Publishes `total` events at `RATE`/s in ticks, through `publish`; returns when all are out. */
async function paced(total: number, publish: (events: EventEnvelope[]) => Promise<void>): Promise<void> {
  const perTick = (RATE * TICK_MS) / 1000;
  const start = performance.now();
  for (let tick = 0, sent = 0; sent < total; tick += 1) {
    const wait = start + tick * TICK_MS - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const events = Array.from({ length: Math.min(perTick, total - sent) }, (_, i) => sampleEvent(sent + i, performance.now()));
    sent += events.length;
    await publish(events);
  }
}

interface Side {
  /** Publishes events in one batch, resolved once confirmed. */
  publish(events: EventEnvelope[]): Promise<void>;
  /** Messages handled so far, and the latencies recorded while `timing` is on. */
  handled(): number;
  latencies: number[];
  timing: boolean;
  close(): Promise<void>;
}

async function throughput(side: Side, total: number): Promise<number> {
  const events = Array.from({ length: total }, (_, n) => sampleEvent(n));
  const before = side.handled();
  const start = performance.now();
  for (let offset = 0; offset < total; offset += BATCH) await side.publish(events.slice(offset, offset + BATCH));
  await until(() => side.handled() - before >= total, `consuming ${total} messages`);
  return (total / (performance.now() - start)) * 1000;
}

async function latency(side: Side): Promise<number[]> {
  const total = RATE * RATE_SECONDS;
  const before = side.handled();
  side.latencies = [];
  side.timing = true;
  await paced(total, (events) => side.publish(events));
  await until(() => side.handled() - before >= total, `consuming the paced ${total} messages`);
  side.timing = false;
  return [...side.latencies].sort((a, b) => a - b);
}

async function connectedDriver(): Promise<RabbitmqDriver> {
  const driver = createRabbitmqDriver({ url: AMQP_URL, prefix: PREFIX, onError: (error, context) => console.warn(`[bench] ${context}: ${error.message}`) });
  await driver.connect();
  return driver;
}

/** The transport as applications use it: the driver under the engine's Subscriber. */
async function subscriberSide(topic: string, group: string): Promise<Side> {
  const driver = await connectedDriver();
  const side: Side = {
    publish: (events) => publishEvents(driver, topic, events),
    handled: () => subscriber.stats().processed,
    latencies: [],
    timing: false,
    close: async () => {
      await subscriber.stop({ timeoutMs: 5_000 });
      await driver.close();
    },
  };
  const subscriber = await startSubscriber(driver, {
    topic,
    subscription: group,
    concurrency: CONCURRENCY,
    prefetch: PREFETCH,
    deadLetters: new InMemoryDeadLetterStore(),
    handler: async (event: DeliveredEvent) => {
      if (side.timing) side.latencies.push(performance.now() - (event.data as { sentAt: number }).sentAt);
    },
  });
  return side;
}

/** The driver alone: its deliveries acked straight from the callback (where its own cost shows). */
async function driverSide(topic: string, group: string): Promise<Side> {
  const driver = await connectedDriver();
  let handled = 0;
  const side: Side = {
    publish: (events) => publishEvents(driver, topic, events),
    handled: () => handled,
    latencies: [],
    timing: false,
    close: async () => {
      await consumer.stop();
      await driver.close();
    },
  };
  await driver.ensureGroup(topic, group);
  const consumer = await driver.consume({ topic, group, consumer: `${group}-bench`, prefetch: PREFETCH }, (delivery) => {
    JSON.parse(delivery.message.body);
    handled += 1;
    void delivery.ack();
  });
  return side;
}

async function rawSide(exchange: string, queue: string): Promise<Side> {
  const publisher = await amqp.connect(AMQP_URL);
  const consumer = await amqp.connect(AMQP_URL);
  const confirm: ConfirmChannel = await publisher.createConfirmChannel();
  const channel: Channel = await consumer.createChannel();
  await channel.assertExchange(exchange, "fanout", { durable: true });
  await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic", "x-max-priority": MAX_PRIORITY } });
  await channel.bindQueue(queue, exchange, "");
  await channel.prefetch(PREFETCH);
  let handled = 0;
  const side: Side = {
    publish: async (events) => {
      for (const event of events) {
        // The same properties and headers the driver sends (wire.ts's mapping).
        const { routingKey, content, options } = toOutgoing(exchange, event.partitionkey ?? event.id, toWireMessage(event), FRESH, false);
        confirm.publish(exchange, routingKey, content, options);
      }
      await confirm.waitForConfirms();
    },
    handled: () => handled,
    latencies: [],
    timing: false,
    close: async () => {
      await publisher.close();
      await consumer.close();
    },
  };
  await channel.consume(queue, (message) => {
    if (!message) return;
    // Any real consumer decodes the body; the Subscriber's no-op handler gets it decoded too.
    const data = JSON.parse(message.content.toString("utf8")) as { sentAt: number };
    if (side.timing) side.latencies.push(performance.now() - data.sentAt);
    channel.ack(message);
    handled += 1;
  });
  return side;
}

async function cleanUp(queues: readonly string[], exchanges: readonly string[]): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  for (const queue of queues) await channel.deleteQueue(queue);
  for (const exchange of exchanges) await channel.deleteExchange(exchange);
  await connection.close();
}

export async function benchRabbitmqTransport(): Promise<BenchRow[]> {
  const ourNames = [groupNames(PREFIX, "subscriber", "bench", DEFAULT_RETRY_TIERS_MS), groupNames(PREFIX, "driver", "bench", DEFAULT_RETRY_TIERS_MS)];
  const rawExchange = `${PREFIX}.raw`;
  const rawQueue = `${rawExchange}:bench`;
  const sides = { subscriber: await subscriberSide("subscriber", "bench"), driver: await driverSide("driver", "bench"), raw: await rawSide(rawExchange, rawQueue) };
  try {
    const rates = { subscriber: 0, driver: 0, raw: 0 };
    for (const side of Object.values(sides)) await throughput(side, WARMUP);
    // Alternating rounds, best of each: the broker and this machine are shared, so one slow
    // moment should not decide the ratio.
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const name of ["raw", "subscriber", "driver"] as const) rates[name] = Math.max(rates[name], await throughput(sides[name], MESSAGES));
    }
    const rawLatency = await latency(sides.raw);
    const oursLatency = await latency(sides.subscriber);

    const what = `publish + consume, publish-to-ack, N=${MESSAGES.toLocaleString("en-US")} of ~300 B, batches of ${BATCH}, prefetch ${PREFETCH}`;
    const baselineName = "amqplib: confirms per batch + manual-ack consume (JSON.parse of the body)";
    const rows: BenchRow[] = [
      { name: `${what}, Subscriber (concurrency ${CONCURRENCY}, no-op handler)`, ours: formatRate(rates.subscriber, "msg"), baseline: formatRate(rates.raw, "msg"), baselineName, ratio: formatRatio(rates.subscriber, rates.raw) },
      { name: `${what}, driver alone (ack in the callback)`, ours: formatRate(rates.driver, "msg"), baseline: formatRate(rates.raw, "msg"), baselineName, ratio: formatRatio(rates.driver, rates.raw) },
    ];
    for (const p of [50, 95, 99]) {
      const oursMs = percentile(oursLatency, p);
      const rawMs = percentile(rawLatency, p);
      rows.push({
        name: `latency p${p}, publish to handler, ${RATE.toLocaleString("en-US")} msg/s for ${RATE_SECONDS} s, Subscriber (ratio: baseline/ours)`,
        ours: `${oursMs.toFixed(1)} ms`,
        baseline: `${rawMs.toFixed(1)} ms`,
        baselineName: "amqplib, same pacing",
        ratio: formatRatio(rawMs, oursMs),
      });
    }
    return rows;
  } finally {
    await Promise.allSettled(Object.values(sides).map((side) => side.close()));
    await cleanUp(
      [rawQueue, ...ourNames.flatMap((names) => [names.queue, ...names.delayQueues.values()])],
      [rawExchange, ...ourNames.map((names) => names.exchange)],
    );
  }
}
