import type { Channel, ConsumeMessage } from "amqplib";
import type { BrokerDelivery, ConsumeSpec, WireMessage } from "@/server/engine/transport/driver";
import { asError, unavailable, type LazyConnection } from "./connection";
import type { RabbitmqSettings } from "./options";
import { declareGroup, type GroupNames } from "./topology";
import { fromDelivery, type CopyState } from "./wire";

/** What a consumer needs from its driver: publishing copies straight into one of its queues. */
export interface CopySender {
  /** Publishes a copy of `message` to the group's queue (due now) or to a delay tier (due later). */
  sendCopy(names: GroupNames, message: WireMessage, state: CopyState): Promise<void>;
}

/** One channel's life: its deliveries die with it (the broker requeues them when it closes). */
interface Session {
  readonly channel: Channel;
  consumerTag: string | undefined;
  closed: boolean;
  /** Handed out, not settled, by delivery tag. */
  readonly outstanding: Map<number, RabbitDelivery>;
  /** Early arrivals being put back into a delay tier (not handed out). */
  parking: number;
  readonly acks: AckBatcher;
}

/**
 * The acks of one channel, sent once per turn of the event loop: the run of settled deliveries at
 * the head (lowest delivery tags) as one `multiple` ack, settled ones behind an unsettled delivery
 * one by one. A multiple ack never covers an unsettled delivery (handed out, or being parked),
 * since it only spans the settled head. Under load this replaces hundreds of ack frames with a
 * few, for the broker and for this process. An ack queued when the channel dies is lost, as one
 * written to a dying socket would be: the broker redelivers the message.
 */
class AckBatcher {
  /** Every delivery not yet acked or nacked to the broker, in delivery-tag order. */
  private readonly unacked = new Map<number, { delivery: ConsumeMessage; settled: boolean }>();
  private settledSinceFlush: number[] = [];
  private scheduled = false;

  constructor(private readonly channel: Channel) {}

  track(delivery: ConsumeMessage): void {
    this.unacked.set(delivery.fields.deliveryTag, { delivery, settled: false });
  }

  ack(tag: number): void {
    const entry = this.unacked.get(tag);
    if (!entry) return;
    entry.settled = true;
    this.settledSinceFlush.push(tag);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Nacks one delivery at once (it leaves the batch). */
  nack(tag: number, requeue: boolean): void {
    const entry = this.unacked.get(tag);
    if (!entry) return;
    this.unacked.delete(tag);
    this.channel.nack(entry.delivery, false, requeue);
  }

  flush(): void {
    this.scheduled = false;
    const settled = this.settledSinceFlush;
    this.settledSinceFlush = [];
    let head: ConsumeMessage | undefined;
    for (const [tag, entry] of this.unacked) {
      if (!entry.settled) break;
      head = entry.delivery;
      this.unacked.delete(tag);
    }
    try {
      if (head) this.channel.ack(head, true);
      for (const tag of settled) {
        const entry = this.unacked.get(tag);
        if (!entry) continue;
        this.unacked.delete(tag);
        this.channel.ack(entry.delivery);
      }
    } catch {
      // The channel closed: the broker has requeued whatever these acks were for.
    }
  }
}

/**
 * A consumer of one group's queue: its own channel on the driver's consume connection, `prefetch`
 * unacked messages at most (basic.qos per consumer), manual acks.
 *
 * - Attempt: `x-eventloom-attempt` (deliveries before this copy) + 1, + 1 more when the broker
 *   flags the delivery `redelivered` (it went back to the queue after its consumer's channel or
 *   connection closed unsettled). Classic queues keep no delivery count (quorum queues do, but
 *   ignore priorities before RabbitMQ 4.0), so a message requeued by several crashes in a row
 *   counts as attempt + 1, not + n: a message that kills every consumer it reaches is never
 *   dead-lettered by the attempt limit. Retries (the Subscriber's path for failures) count exactly.
 * - Early arrivals: a retried copy comes back from its delay tier when the tier expires; if its
 *   `x-eventloom-not-before` is still ahead it is put into the next tier (publish, confirm, ack)
 *   instead of being handed out.
 * - Lost channel or connection: outstanding deliveries become unsettleable (the broker has requeued
 *   them) and the consumer subscribes again with backoff (reconnecting the connection if needed,
 *   re-declaring its group) until it succeeds or is stopped.
 */
export class RabbitConsumer {
  private session: Session | undefined;
  private stopped = false;
  private recovering = false;

  constructor(
    private readonly connection: LazyConnection,
    private readonly settings: RabbitmqSettings,
    readonly sender: CopySender,
    readonly spec: ConsumeSpec,
    readonly names: GroupNames,
    private readonly onDelivery: (delivery: BrokerDelivery) => void,
    /** Called once a stopped consumer has closed its channel. */
    private readonly onFinished: () => void,
  ) {}

  /** Handed out and not settled, on the live channel. */
  get inFlight(): number {
    return this.session && !this.session.closed ? this.session.outstanding.size : 0;
  }

  /** Subscribes; rejects if the broker cannot be reached or refuses (nothing retried then). */
  async start(): Promise<void> {
    const model = await this.connection.get();
    let channel: Channel;
    try {
      channel = await model.createChannel();
    } catch (error) {
      throw unavailable(`cannot open a channel (${asError(error).message})`, error);
    }
    const session: Session = { channel, consumerTag: undefined, closed: false, outstanding: new Map(), parking: 0, acks: new AckBatcher(channel) };
    channel.on("error", (error: unknown) => this.settings.onError(asError(error), `consumer channel of ${this.names.queue}`));
    channel.on("close", () => this.onClosed(session));
    try {
      await declareGroup(channel, this.names);
      await channel.prefetch(this.spec.prefetch);
      const { consumerTag } = await channel.consume(this.names.queue, (delivery) => this.onMessage(session, delivery), { noAck: false });
      session.consumerTag = consumerTag;
    } catch (error) {
      session.closed = true;
      await channel.close().catch(() => {});
      throw unavailable(`cannot consume ${this.names.queue} (${asError(error).message})`, error);
    }
    if (session.closed) throw unavailable(`the channel for ${this.names.queue} closed while subscribing`);
    this.session = session;
  }

  /** No more deliveries; settling those handed out stays possible until they are all settled. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const session = this.session;
    if (!session || session.closed) {
      this.onFinished();
      return;
    }
    const consumerTag = session.consumerTag;
    if (consumerTag === undefined) return;
    try {
      // Deliveries sent before the cancel are dispatched before its reply: after this, none come.
      await session.channel.cancel(consumerTag);
    } catch (error) {
      this.settings.onError(asError(error), `cancelling the consumer of ${this.names.queue}`);
    } finally {
      session.consumerTag = undefined;
    }
    this.closeIfIdle(session);
  }

  /** Stops at once: acks already given go out, the broker requeues everything still unsettled. */
  async abandon(): Promise<void> {
    this.stopped = true;
    const session = this.session;
    if (!session || session.closed) return;
    session.acks.flush();
    session.closed = true;
    // Closing the channel (not just the connection) sends the close behind the acks on the
    // channel's own stream; a connection close can overtake them and the broker drops them.
    await session.channel.close().catch(() => {});
  }

  private onClosed(session: Session): void {
    session.closed = true;
    if (session !== this.session) return;
    if (this.stopped) {
      this.onFinished();
      return;
    }
    this.session = undefined;
    void this.recover();
  }

  private async recover(): Promise<void> {
    if (this.recovering) return;
    this.recovering = true;
    let delay = this.settings.reconnectInitialDelayMs;
    try {
      while (!this.stopped && this.session === undefined) {
        await sleep(delay);
        if (this.stopped) return;
        try {
          await this.start();
          if (this.stopped) this.abandonSession();
        } catch (error) {
          this.settings.onError(asError(error), `resubscribing to ${this.names.queue}`);
          delay = Math.min(delay * 2, this.settings.reconnectMaxDelayMs);
        }
      }
    } finally {
      this.recovering = false;
    }
  }

  /** A subscription that completed after `stop()`: close it, nothing was handed out yet worth keeping. */
  private abandonSession(): void {
    const session = this.session;
    if (!session) return;
    session.closed = true;
    session.channel.close().catch(() => {});
    this.onFinished();
  }

  private onMessage(session: Session, delivery: ConsumeMessage | null): void {
    if (delivery === null) {
      // The broker cancelled the subscription (its queue was deleted): subscribe again, which
      // re-declares the queue.
      this.settings.onError(new Error(`the broker cancelled the consumer of ${this.names.queue}`), "consumer");
      session.closed = true;
      session.channel.close().catch(() => {});
      return;
    }
    session.acks.track(delivery);
    const { message, state } = fromDelivery(delivery);
    const remainingMs = state.notBefore - Date.now();
    if (remainingMs > 0) {
      void this.park(session, delivery, message, state);
      return;
    }
    const handedOut = new RabbitDelivery(this, session, delivery.fields.deliveryTag, message, state.attemptsBefore + (delivery.fields.redelivered ? 2 : 1));
    session.outstanding.set(handedOut.tag, handedOut);
    try {
      this.onDelivery(handedOut);
    } catch (error) {
      this.settings.onError(asError(error), `delivery callback of ${this.names.queue}`);
    }
  }

  /** Puts an early arrival back into the delay tier matching what is left of its wait. */
  private async park(session: Session, delivery: ConsumeMessage, message: WireMessage, state: CopyState): Promise<void> {
    session.parking += 1;
    const tag = delivery.fields.deliveryTag;
    try {
      await this.sender.sendCopy(this.names, message, state);
      session.acks.ack(tag);
    } catch (error) {
      this.settings.onError(asError(error), `putting message ${message.id} back into a delay queue of ${this.names.queue}`);
      // Back to the queue after a pause (not at once: that would spin while the broker is away).
      await sleep(this.settings.reconnectInitialDelayMs);
      if (!session.closed) {
        try {
          session.acks.nack(tag, true);
        } catch {
          // Closed meanwhile: the broker has it back anyway.
        }
      }
    } finally {
      session.parking -= 1;
      this.closeIfIdle(session);
    }
  }

  /** A stopped consumer's channel closes once nothing of it is left to settle. */
  closeIfIdle(session: Session): void {
    // Not while the cancel is under way: closing then would fail it.
    if (!this.stopped || session.closed || session.consumerTag !== undefined || session.outstanding.size > 0 || session.parking > 0) return;
    session.acks.flush();
    session.closed = true;
    session.channel.close().catch(() => {});
    this.onFinished();
  }
}

/**
 * A message handed out (a class, not closures: one allocation per delivery on the hot path).
 * Settling acks it through the channel's batcher; `retry` first publishes the copy (confirmed)
 * and acks only then.
 */
class RabbitDelivery implements BrokerDelivery {
  private settling = false;

  constructor(
    private readonly consumer: RabbitConsumer,
    private readonly session: Session,
    readonly tag: number,
    readonly message: WireMessage,
    readonly attempt: number,
  ) {}

  ack(): Promise<void> {
    try {
      this.begin();
      this.finish();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async retry(delayMs: number): Promise<void> {
    if (!Number.isFinite(delayMs)) throw new RangeError(`retry delay must be a finite number, got ${delayMs}`);
    this.begin();
    try {
      const copy: CopyState = { attemptsBefore: this.attempt, notBefore: delayMs > 0 ? Date.now() + delayMs : 0 };
      await this.consumer.sender.sendCopy(this.consumer.names, this.message, copy);
    } catch (error) {
      this.settling = false;
      throw error;
    }
    // The copy is out; if the original can no longer be acked it comes back too (a duplicate
    // the inbox absorbs), which beats losing it.
    this.finish();
  }

  private begin(): void {
    if (this.session.outstanding.get(this.tag) !== this || this.settling) {
      throw new Error(`RabbitMQ transport: the delivery of message ${this.message.id} is already settled`);
    }
    if (this.session.closed) throw lostChannel(this.message.id);
    this.settling = true;
  }

  private finish(): void {
    if (this.session.closed) throw lostChannel(this.message.id);
    this.session.acks.ack(this.tag);
    this.session.outstanding.delete(this.tag);
    this.consumer.closeIfIdle(this.session);
  }
}

function lostChannel(messageId: string): Error {
  return unavailable(`the channel of the delivery of message ${messageId} closed; the broker delivers it again`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
