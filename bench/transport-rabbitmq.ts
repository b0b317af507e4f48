import { randomBytes } from "node:crypto";
import amqp, { type Channel, type ConfirmChannel } from "amqplib";
import { createRabbitmqDriver, DEFAULT_RETRY_TIERS_MS, type RabbitmqDriver } from "@/server/adapters/rabbitmq";
import { groupNames, MAX_PRIORITY } from "@/server/adapters/rabbitmq/topology";
import { toOutgoing, FRESH } from "@/server/adapters/rabbitmq/wire";
import { toWireMessage } from "@/server/engine/transport/codec";
import { publishEvents } from "@/server/engine/transport/subscriber";
import type { BenchRow } from "./table";
import { compareTransports, subscriberSide, Tally, type Side } from "./transport-harness";

/**
 * The RabbitMQ transport (driver + the engine's Subscriber, and the driver alone) against amqplib
 * used directly for the same job: a durable fanout exchange and a durable classic queue with the
 * same arguments, persistent messages with the same properties and headers, publisher confirms per
 * batch on a connection of its own, and a manual-ack consumer with the same prefetch on another
 * connection. Every side stays open for every run, after a warm-up; what is measured and how:
 * transport-harness.ts (for amqplib the handler is the consume callback; latency is measured
 * for the Subscriber).
 *
 * Objects are named `elbench-<random>...` and deleted at the end.
 * `BENCH_AMQP_URL` (default: the local broker of scripts/services.sh).
 */

const AMQP_URL = process.env.BENCH_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const PREFIX = `elbench-${randomBytes(4).toString("hex")}`;
const MESSAGES = 50_000;
const BATCH = 500;
const CONCURRENCY = 64;
const PREFETCH = 256;
const RATE = 5_000;
const RATE_SECONDS = 5;

async function connectedDriver(): Promise<RabbitmqDriver> {
  const driver = createRabbitmqDriver({ url: AMQP_URL, prefix: PREFIX, onError: (error, context) => console.warn(`[bench] ${context}: ${error.message}`) });
  await driver.connect();
  return driver;
}

/** The driver alone: its deliveries acked straight from the callback (where its own cost shows). */
async function driverSide(topic: string, group: string): Promise<Side> {
  const driver = await connectedDriver();
  const tally = new Tally();
  await driver.ensureGroup(topic, group);
  const consumer = await driver.consume({ topic, group, consumer: `${group}-bench`, prefetch: PREFETCH }, (delivery) => {
    JSON.parse(delivery.message.body);
    tally.handled(delivery.message.id);
    void delivery.ack();
  });
  return {
    publish: (events) => publishEvents(driver, topic, events),
    tally,
    close: async () => {
      await consumer.stop();
      await driver.close();
    },
  };
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
  const tally = new Tally();
  await channel.consume(queue, (message) => {
    if (!message) return;
    // Any real consumer decodes the body; the Subscriber's no-op handler gets it decoded too.
    JSON.parse(message.content.toString("utf8"));
    channel.ack(message);
    tally.handled(String(message.properties.messageId));
  });
  return {
    publish: async (events) => {
      for (const event of events) {
        // The same properties and headers the driver sends (wire.ts's mapping).
        const { routingKey, content, options } = toOutgoing(exchange, event.partitionkey ?? event.id, toWireMessage(event), FRESH, false);
        confirm.publish(exchange, routingKey, content, options);
      }
      await confirm.waitForConfirms();
    },
    tally,
    close: async () => {
      await publisher.close();
      await consumer.close();
    },
  };
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
  const what = `publish + consume, publish-to-ack, N=${MESSAGES.toLocaleString("en-US")} of ~300 B, batches of ${BATCH}, prefetch ${PREFETCH}`;
  try {
    return await compareTransports({
      sample: { keys: 97 },
      sides: "shared",
      raw: () => rawSide(rawExchange, rawQueue),
      ours: [
        {
          open: async () => subscriberSide(await connectedDriver(), { topic: "subscriber", subscription: "bench", concurrency: CONCURRENCY, prefetch: PREFETCH }),
          throughputName: `${what}, Subscriber (concurrency ${CONCURRENCY}, no-op handler)`,
        },
        { open: () => driverSide("driver", "bench"), throughputName: `${what}, driver alone (ack in the callback)` },
      ],
      warmup: 5_000,
      messages: MESSAGES,
      batch: BATCH,
      rounds: 2,
      rate: RATE,
      rateSeconds: RATE_SECONDS,
      baselineName: "amqplib: confirms per batch + manual-ack consume (JSON.parse of the body)",
      latencyName: (p) => `latency p${p}, publish to handler, ${RATE.toLocaleString("en-US")} msg/s for ${RATE_SECONDS} s, Subscriber (ratio: baseline/ours)`,
      latencyBaselineName: "amqplib, same pacing",
    });
  } finally {
    await cleanUp(
      [rawQueue, ...ourNames.flatMap((names) => [names.queue, ...names.delayQueues.values()])],
      [rawExchange, ...ourNames.map((names) => names.exchange)],
    );
  }
}
