import type { Channel } from "amqplib";
import type { Priority } from "@/server/engine/core/envelope";
import { ValidationError } from "@/server/engine/core/errors";

/**
 * The broker objects behind a topic and its groups, and the rules that name them.
 *
 * - Topic `t`: a durable fanout exchange `<prefix>.t`. Every group's queue is bound to it, so a
 *   publish reaches every group (pub/sub) and the consumers of one queue compete (work sharing).
 * - Group `g` of `t`: a durable classic queue `<prefix>.t:g` with `x-max-priority` 2. Classic, not
 *   quorum: a quorum queue (RabbitMQ < 4.0) ignores message priorities, and priority is part of
 *   the contract. The queue type is stated explicitly so a server whose default queue type is
 *   quorum still declares the same queue.
 * - Delayed retries of `g`: one durable classic queue per delay tier, `<prefix>.t:g:delay.<ms>`,
 *   with `x-message-ttl` = the tier and the default exchange (`""`) as dead-letter exchange,
 *   routing key = the group's queue. Every message of a tier waits the same time, so expiry
 *   order is queue order and a message never waits behind a longer one (per-message TTL only
 *   expires at the head of a queue, which is why tiers rather than one queue with `expiration`).
 *   Through the default exchange an expired message reaches only its own group's queue, never the
 *   topic's other groups. The tiers are not priority queues: the priority property travels with
 *   the message and ranks it again once it is back in the group's queue.
 *
 * `:` separates topic, group and tier, and is refused inside topic and group names, so two
 * different (topic, group) pairs never share a queue (`.` is common in topic names).
 */

/** AMQP priority per envelope priority. Smallest range that orders three levels. */
export const AMQP_PRIORITY: Readonly<Record<Priority, number>> = Object.freeze({ low: 0, normal: 1, high: 2 });
export const MAX_PRIORITY = 2;

/**
 * The envelope priority of an AMQP priority. A message without one (a plain client that set
 * none) counts as normal, as the engine treats any unknown priority; note that the broker itself
 * ranks it with `low` (RabbitMQ treats a missing priority as 0).
 */
export function priorityOf(amqpPriority: number | undefined): Priority {
  if (amqpPriority === undefined) return "normal";
  if (amqpPriority >= AMQP_PRIORITY.high) return "high";
  return amqpPriority >= AMQP_PRIORITY.normal ? "normal" : "low";
}

export interface GroupNames {
  exchange: string;
  queue: string;
  /** Delay tier (ms) -> its queue, shortest tier first. */
  delayQueues: ReadonlyMap<number, string>;
}

/** RabbitMQ's limit for exchange and queue names, in UTF-8 bytes. */
const MAX_NAME_BYTES = 255;

function checkName(kind: "topic" | "group", value: string): void {
  if (value.length === 0 || value.includes(":")) {
    throw new ValidationError(`RabbitMQ transport: a ${kind} name must be non-empty and contain no ":", got ${JSON.stringify(value)}`, [
      { path: kind, message: 'non-empty, without ":"' },
    ]);
  }
}

function checkLength(name: string): string {
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new ValidationError(`RabbitMQ transport: "${name}" is longer than ${MAX_NAME_BYTES} bytes; use shorter topic or group names`);
  }
  return name;
}

export function exchangeName(prefix: string, topic: string): string {
  checkName("topic", topic);
  return checkLength(`${prefix}.${topic}`);
}

export function groupNames(prefix: string, topic: string, group: string, tiersMs: readonly number[]): GroupNames {
  checkName("group", group);
  const exchange = exchangeName(prefix, topic);
  const queue = checkLength(`${exchange}:${group}`);
  const delayQueues = new Map(tiersMs.map((tier) => [tier, checkLength(`${queue}:delay.${tier}`)]));
  return { exchange, queue, delayQueues };
}

export function declareExchange(channel: Channel, exchange: string): Promise<unknown> {
  return channel.assertExchange(exchange, "fanout", { durable: true });
}

/** Declares (idempotently) the topic's exchange, the group's queue and binding, and its delay tiers. */
export async function declareGroup(channel: Channel, names: GroupNames): Promise<void> {
  await declareExchange(channel, names.exchange);
  await channel.assertQueue(names.queue, {
    durable: true,
    arguments: { "x-queue-type": "classic", "x-max-priority": MAX_PRIORITY },
  });
  await channel.bindQueue(names.queue, names.exchange, "");
  for (const [tier, queue] of names.delayQueues) {
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        "x-queue-type": "classic",
        "x-message-ttl": tier,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": names.queue,
      },
    });
  }
}

/**
 * The tier a message still `remainingMs` from due waits in next: the longest tier not longer than
 * the wait, else (the wait is shorter than every tier) the shortest. A message that comes back
 * before it is due waits again with what is left (see the driver), so a delay is served as a sum
 * of tiers (at most `ratio - 1` hops per tier for tiers `ratio` apart), is never shorter than
 * asked, and is longer by less than the shortest tier plus the hops' transit time. Longer delays
 * than the longest tier simply take more hops. `tiersMs` is ascending.
 */
export function delayTier(tiersMs: readonly number[], remainingMs: number): number {
  let chosen = tiersMs[0];
  if (chosen === undefined) throw new RangeError("no delay tiers");
  for (const tier of tiersMs) {
    if (tier <= remainingMs) chosen = tier;
    else break;
  }
  return chosen;
}
