import type { Priority } from "../core/envelope";

/**
 * The Transport port: what every broker adapter (memory, postgres, redis, kafka, rabbitmq)
 * provides. Adapters are thin drivers of broker primitives; the delivery semantics users rely on
 * (decoding, retry policy with backoff and jitter, dead-lettering, per-key ordering, priorities,
 * idempotent consume, draining) live once in the engine's `Subscriber`, so they are the same on
 * every broker. Every driver passes `describeTransportContract` against its real broker.
 *
 * IN the contract (a driver must):
 * - Topics and groups: `publish(topic)` reaches every group of the topic (pub/sub); consumers of
 *   one group compete, each message goes to one of them at a time (work sharing). A group sees
 *   messages published after `ensureGroup` first created it; history comes from the event store.
 * - Durability: `publish` resolves only when the broker has the messages durably (publisher
 *   confirms, acks=all, XADD reply, committed row). It rejects if it cannot be sure.
 * - At-least-once: a delivery not settled (ack / retry) before its consumer dies is delivered
 *   again to the group (pending-entry reclaim, uncommitted offset, unacked requeue, lease expiry),
 *   with `attempt` counting every delivery.
 * - `retry(delayMs)` hands the message back to this group only, to be delivered again no sooner
 *   than `delayMs`, without holding back other messages (including later messages of the same
 *   key: a message in retry steps out of line, so a poison message never stops its partition).
 * - Order: messages of one `key` and one priority are handed out in publish order; across
 *   competing consumers, a driver that can pin keys to consumers (Kafka partitions, the Postgres
 *   key-aware claim) does so, and documents it in `capabilities.keyAffinity`.
 * - Priority: under backlog, `high` is handed out before `normal` before `low`.
 * - Flow control: at most `prefetch` deliveries are outstanding (handed out, not settled) per
 *   consumer.
 * - Figures: depth (published, not yet settled, for the group), lag (not yet handed out), and
 *   in-flight (handed out, not settled).
 *
 * NOT in the contract:
 * - Exactly-once delivery (no broker gives it): effects are made exactly-once by the inbox.
 * - Replaying history from the broker: the event store's global log is the source of truth.
 * - Order across keys, or across priorities of one key.
 */

export type TransportKind = "memory" | "postgres" | "redis" | "kafka" | "rabbitmq";

/** A message on the wire: the envelope in CloudEvents binary content mode (see codec.ts). */
export interface WireMessage {
  /** The event id; the broker-level message id where the broker has one. */
  id: string;
  /** Order key: the event's `partitionkey`, else its subject, else its id. */
  key: string;
  priority: Priority;
  /** `ce_*` attributes and Eventloom headers, all strings, so plain broker clients can read them. */
  headers: Record<string, string>;
  /** The event's `data`, as JSON text. */
  body: string;
}

export interface ConsumeSpec {
  topic: string;
  /** The subscription name: one consumer group per subscription. */
  group: string;
  /** Unique per consumer instance (process + random), for pending-entry ownership and figures. */
  consumer: string;
  /** Most deliveries this consumer may have outstanding (handed out, not settled). */
  prefetch: number;
}

export interface BrokerDelivery {
  message: WireMessage;
  /** 1 on the first delivery; every delivery counts, including those after a crash. */
  attempt: number;
  /** The message is done for this group. */
  ack(): Promise<void>;
  /** Deliver again to this group, not before `delayMs`, with the attempt counted up. */
  retry(delayMs: number): Promise<void>;
}

export interface ConsumerHandle {
  /**
   * Stops fetching. Resolves when the driver will hand out nothing more; deliveries already
   * handed out may still be settled afterwards (the Subscriber drains them before it closes).
   */
  stop(): Promise<void>;
}

export interface QueueFigures {
  /** Messages published to the topic and not yet settled by the group. */
  depth: number;
  /** Messages not yet handed out to any consumer of the group. */
  lag: number;
  /** Handed out and not yet settled, across the group's consumers. */
  inFlight: number;
}

export interface TransportCapabilities {
  /** Competing consumers never handle two messages of one key at the same time. */
  keyAffinity: boolean;
}

export interface TransportDriver {
  readonly kind: TransportKind;
  readonly capabilities: TransportCapabilities;
  /** Connects; safe to call again. Rejects (the caller retries with backoff) if unreachable. */
  connect(): Promise<void>;
  /** Creates the topic's structures for a group if missing; safe to call again. */
  ensureGroup(topic: string, group: string): Promise<void>;
  /** Resolves once every message is durable on the broker, in order per key. */
  publish(topic: string, messages: WireMessage[]): Promise<void>;
  consume(spec: ConsumeSpec, onDelivery: (delivery: BrokerDelivery) => void): Promise<ConsumerHandle>;
  /** Puts a message straight back into one group's input (dead-letter redrive), attempt 1. */
  redeliver(topic: string, group: string, message: WireMessage): Promise<void>;
  figures(topic: string, group: string): Promise<QueueFigures>;
  /** Round trip to the broker, for health checks. */
  ping(): Promise<void>;
  /** Stops every consumer and closes connections. */
  close(): Promise<void>;
}
