import type { Channel, ConfirmChannel, Message } from "amqplib";
import type {
  BrokerDelivery,
  ConsumeSpec,
  ConsumerHandle,
  QueueFigures,
  TransportCapabilities,
  TransportDriver,
  TransportKind,
  WireMessage,
} from "@/server/engine/transport/driver";
import { asError, LazyChannel, LazyConnection, unavailable } from "./connection";
import { RabbitConsumer, type CopySender } from "./consumer";
import { resolveOptions, type RabbitmqDriverOptions, type RabbitmqSettings } from "./options";
import { declareExchange, declareGroup, delayTier, exchangeName, groupNames, type GroupNames } from "./topology";
import { FRESH, toOutgoing, type CopyState, type Outgoing } from "./wire";

/**
 * The RabbitMQ transport driver (amqplib). Topology in topology.ts, message mapping in wire.ts,
 * consumers in consumer.ts. How the contract maps onto RabbitMQ:
 *
 * - publish: one confirm channel on a connection of its own (publishers never share a connection
 *   with consumers: when RabbitMQ throttles a publishing connection, acks on it would stall too).
 *   A batch is written in order (honouring the channel's write buffer) with `persistent`, and
 *   resolves when the broker has confirmed every message of it (a confirm for a persistent
 *   message on a durable queue means it is on disk or in every mirror), or rejects on a nack, a
 *   closed channel, or no confirm within `publishTimeoutMs`. Publishing to a topic with no group
 *   yet confirms and drops the messages, as the contract says (groups see what follows their
 *   creation).
 * - retry(delayMs) / redeliver: a copy published (confirmed, `mandatory`, so a missing queue is
 *   an error rather than a silent drop) through the default exchange straight to one queue of
 *   the group: a delay tier, or the group's queue itself. Never through the topic's exchange,
 *   which would reach every group. Retry acks the original only after the copy is confirmed.
 * - Order: one queue per group is FIFO per priority; with competing consumers each one sees its
 *   share in queue order, but two consumers can work on messages of one key at the same time
 *   (`keyAffinity: false`; RabbitMQ has no key-pinned consumers without a plugin).
 * - Figures: ready = the group queue's message count and delayed = its delay tiers' counts (passive
 *   declares; no management plugin needed). The unacked count is not available over AMQP, so
 *   in-flight is what this driver's own consumers hold: with consumers in several processes, each
 *   process sees its own share. depth = ready + delayed + in-flight; lag = ready + delayed.
 * - Crash: closing a channel or connection with unacked messages makes RabbitMQ requeue them at
 *   once (in their original place); a host that vanishes without closing its socket is noticed
 *   after two missed heartbeats (`heartbeatSeconds`).
 */

const NOT_FOUND = 404;

export class RabbitmqDriver implements TransportDriver, CopySender {
  readonly kind: TransportKind = "rabbitmq";
  readonly capabilities: TransportCapabilities = { keyAffinity: false };
  private readonly settings: RabbitmqSettings;
  private readonly publishConnection: LazyConnection;
  private readonly consumeConnection: LazyConnection;
  private readonly confirmChannel: LazyChannel<ConfirmChannel>;
  private readonly adminChannel: LazyChannel<Channel>;
  /** Exchanges declared on the current confirm channel (publishing to a missing one kills it). */
  private readonly declaredExchanges = new Set<string>();
  /** Group queues declared since the admin channel opened (redeliver needs the queue to exist). */
  private readonly declaredGroups = new Set<string>();
  private readonly consumers = new Set<RabbitConsumer>();
  private closed = false;

  constructor(options: RabbitmqDriverOptions) {
    this.settings = resolveOptions(options);
    const onError = this.settings.onError;
    this.publishConnection = new LazyConnection(this.settings, "publish");
    this.consumeConnection = new LazyConnection(this.settings, "consume");
    this.confirmChannel = new LazyChannel(
      this.publishConnection,
      (model) => model.createConfirmChannel(),
      (error) => onError(error, "publish channel"),
      () => this.declaredExchanges.clear(),
    );
    this.adminChannel = new LazyChannel(
      this.publishConnection,
      (model) => model.createChannel(),
      (error) => onError(error, "admin channel"),
      () => this.declaredGroups.clear(),
    );
  }

  private names(topic: string, group: string): GroupNames {
    return groupNames(this.settings.prefix, topic, group, this.settings.retryTiersMs);
  }

  private assertOpen(): void {
    if (this.closed) throw unavailable("the driver is closed");
  }

  async connect(): Promise<void> {
    this.assertOpen();
    await Promise.all([this.publishConnection.get(), this.consumeConnection.get()]);
  }

  async ensureGroup(topic: string, group: string): Promise<void> {
    this.assertOpen();
    const names = this.names(topic, group);
    await declareGroup(await this.adminChannel.get(), names);
    this.declaredGroups.add(names.queue);
  }

  async publish(topic: string, messages: WireMessage[]): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    const exchange = exchangeName(this.settings.prefix, topic);
    const channel = await this.confirmChannel.get();
    if (!this.declaredExchanges.has(exchange)) {
      await declareExchange(channel, exchange);
      this.declaredExchanges.add(exchange);
    }
    await this.send(
      channel,
      // The fanout exchange ignores the routing key; it shows the order key to operators when it fits
      // AMQP's 255-byte short string.
      messages.map((message) => toOutgoing(exchange, Buffer.byteLength(message.key) <= 255 ? message.key : "", message, FRESH, false)),
      false,
    );
  }

  async consume(spec: ConsumeSpec, onDelivery: (delivery: BrokerDelivery) => void): Promise<ConsumerHandle> {
    this.assertOpen();
    if (!Number.isInteger(spec.prefetch) || spec.prefetch < 1 || spec.prefetch > 65_535) {
      throw new RangeError(`prefetch must be an integer from 1 to 65535, got ${spec.prefetch}`);
    }
    const consumer = new RabbitConsumer(this.consumeConnection, this.settings, this, spec, this.names(spec.topic, spec.group), onDelivery, () =>
      this.consumers.delete(consumer),
    );
    await consumer.start();
    this.consumers.add(consumer);
    return {
      stop: async () => {
        await consumer.stop();
      },
    };
  }

  async redeliver(topic: string, group: string, message: WireMessage): Promise<void> {
    this.assertOpen();
    const names = this.names(topic, group);
    if (!this.declaredGroups.has(names.queue)) await this.ensureGroup(topic, group);
    await this.sendCopy(names, message, FRESH);
  }

  /** A copy straight into one of the group's queues: its own when due, else a delay tier. */
  async sendCopy(names: GroupNames, message: WireMessage, state: CopyState): Promise<void> {
    this.assertOpen();
    const remainingMs = state.notBefore - Date.now();
    const queue = remainingMs > 0 ? names.delayQueues.get(delayTier(this.settings.retryTiersMs, remainingMs)) : names.queue;
    if (queue === undefined) throw new Error(`no delay queue for ${names.queue}`);
    const channel = await this.confirmChannel.get();
    try {
      await this.send(channel, [toOutgoing("", queue, message, state, true)], true);
    } catch (error) {
      if (error instanceof MissingQueueError) this.declaredGroups.delete(names.queue);
      throw error;
    }
  }

  /**
   * Publishes in order and resolves once the broker confirmed all. With `mandatory`, a message no
   * queue took comes back (basic.return, always before its confirm) and fails the call.
   */
  private send(channel: ConfirmChannel, items: readonly Outgoing[], mandatory: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let waiting = items.length;
      let done = false;
      const returned: string[] = [];
      // The channel is shared: only returns of this call's own messages count.
      const onReturn = (message: Message): void => {
        const { routingKey } = message.fields;
        if (items.some((item) => item.routingKey === routingKey && item.options.messageId === message.properties.messageId)) returned.push(routingKey);
      };
      const finish = (error?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (mandatory) channel.off("return", onReturn);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => finish(unavailable(`the broker did not confirm ${waiting} of ${items.length} messages within ${this.settings.publishTimeoutMs} ms`)),
        this.settings.publishTimeoutMs,
      );
      const confirmed = (error: unknown): void => {
        if (error) {
          finish(unavailable(`the broker did not take the messages (${asError(error).message})`, error));
          return;
        }
        waiting -= 1;
        if (waiting > 0) return;
        finish(returned.length > 0 ? new MissingQueueError(returned) : undefined);
      };
      if (mandatory) channel.on("return", onReturn);
      const writeFrom = (start: number): void => {
        for (let index = start; index < items.length && !done; index += 1) {
          const item = items[index] as Outgoing;
          let hasRoom: boolean;
          try {
            hasRoom = channel.publish(item.exchange, item.routingKey, item.content, item.options, confirmed);
          } catch (error) {
            finish(unavailable(`cannot publish (${asError(error).message})`, error));
            return;
          }
          if (!hasRoom && index + 1 < items.length) {
            // The channel's write buffer is full: continue when it drains (a closed channel fails
            // the outstanding confirms instead, which ends the call).
            channel.once("drain", () => writeFrom(index + 1));
            return;
          }
        }
      };
      writeFrom(0);
    });
  }

  async figures(topic: string, group: string): Promise<QueueFigures> {
    this.assertOpen();
    const names = this.names(topic, group);
    // A passive declare of a missing queue closes its channel: a channel of its own per call, so
    // a missing group never breaks a concurrent call.
    const model = await this.publishConnection.get();
    let channel: Channel;
    try {
      channel = await model.createChannel();
    } catch (error) {
      throw unavailable(`cannot open a channel (${asError(error).message})`, error);
    }
    channel.on("error", () => {
      // A 404 here only means the group does not exist; the rejection below says so.
    });
    try {
      const ready = (await channel.checkQueue(names.queue)).messageCount;
      let delayed = 0;
      for (const queue of names.delayQueues.values()) delayed += (await channel.checkQueue(queue)).messageCount;
      let inFlight = 0;
      for (const consumer of this.consumers) {
        if (consumer.names.queue === names.queue) inFlight += consumer.inFlight;
      }
      const lag = ready + delayed;
      return { depth: lag + inFlight, lag, inFlight };
    } catch (error) {
      if ((error as { code?: unknown }).code === NOT_FOUND) return { depth: 0, lag: 0, inFlight: 0 };
      throw unavailable(`cannot read the figures of ${names.queue} (${asError(error).message})`, error);
    } finally {
      await channel.close().catch(() => {});
    }
  }

  async ping(): Promise<void> {
    this.assertOpen();
    const channel = await this.adminChannel.get();
    try {
      await channel.checkExchange("amq.fanout");
    } catch (error) {
      throw unavailable(`ping failed (${asError(error).message})`, error);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((consumer) => consumer.abandon()));
    this.consumers.clear();
    await Promise.all([this.publishConnection.close(), this.consumeConnection.close()]);
  }
}

/** A copy aimed at one queue found no queue (it was deleted): nothing was stored. */
class MissingQueueError extends Error {
  constructor(queues: readonly string[]) {
    super(`RabbitMQ transport: no queue ${[...new Set(queues)].join(", ")} (deleted?); the message was not stored`);
    this.name = "MissingQueueError";
  }
}

export function createRabbitmqDriver(options: RabbitmqDriverOptions): RabbitmqDriver {
  return new RabbitmqDriver(options);
}
