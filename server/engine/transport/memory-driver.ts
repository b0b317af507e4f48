import { levelOf, type Level } from "../bus/scheduler";
import { newId } from "../core/ids";
import type { DeadLetter, DeadLetterFilter, DeadLetterStore, Inbox } from "./dead-letters";
import type {
  BrokerDelivery,
  ConsumeSpec,
  ConsumerHandle,
  QueueFigures,
  TransportCapabilities,
  TransportDriver,
  TransportKind,
  WireMessage,
} from "./driver";
import { HeadQueue } from "./head-queue";

/**
 * The in-memory transport: a broker (`MemoryBroker`) that several drivers can share, so that
 * competing consumers, crashes and redelivery can be exercised in one process.
 *
 * Per topic, per group: three ready queues (high, normal, low), each ordered by publish sequence;
 * delayed retries on real timers; deliveries in flight per consumer. Hand-out is strict priority
 * (high, then normal, then low) and, within a priority, publish order, skipping a message whose
 * key is held by another consumer (key affinity: a key with deliveries outstanding belongs to
 * the consumer holding them until they are settled). A retried message steps out of line: it goes
 * to the back of its priority with a new sequence. A message returned after a crash keeps its
 * place (its original sequence).
 *
 * A "crash" is a driver closed with deliveries still unsettled: they stay in flight (their keys
 * held) for `redeliveryAfterMs`, as a lease would, and then go back to the group with the attempt
 * counted up on their next delivery. Settling a delivery of a closed driver rejects, as a call to
 * a broker that is gone would.
 */

export interface MemoryDriverOptions {
  /** How long the deliveries of a closed (crashed) driver stay in flight before they go back. Default 30 s. */
  redeliveryAfterMs?: number;
}

interface Entry {
  readonly message: WireMessage;
  seq: number;
  /** Deliveries made so far. */
  deliveries: number;
}

interface Outstanding {
  readonly entry: Entry;
  readonly consumer: MemoryConsumer;
}

interface MemoryConsumer {
  readonly name: string;
  readonly driver: MemoryDriver;
  readonly group: Group;
  readonly prefetch: number;
  readonly onDelivery: (delivery: BrokerDelivery) => void;
  active: boolean;
  outstanding: number;
}

function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}

/**
 * Entries ordered by sequence: appends and takes at the head are O(1) (a head offset, compacted
 * now and then); a take from the middle (the head's key is held by another consumer) or a crash
 * return in its old place splices.
 */
class SeqQueue extends HeadQueue<Entry> {
  insert(entry: Entry): void {
    const last = this.items[this.items.length - 1];
    if (this.length === 0 || !last || last.seq < entry.seq) {
      this.items.push(entry);
      return;
    }
    let low = this.head;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((this.items[middle] as Entry).seq < entry.seq) low = middle + 1;
      else high = middle;
    }
    this.items.splice(low, 0, entry);
  }

  /** The first entry `eligible` accepts, taken out of the queue. */
  takeFirst(eligible: (entry: Entry) => boolean): Entry | undefined {
    for (let index = this.head; index < this.items.length; index += 1) {
      const entry = this.items[index] as Entry;
      if (!eligible(entry)) continue;
      if (index === this.head) this.shift();
      else this.items.splice(index, 1);
      return entry;
    }
    return undefined;
  }
}

class Group {
  /** Ready entries per level (high, normal, low), ordered by sequence. */
  readonly ready: [SeqQueue, SeqQueue, SeqQueue] = [new SeqQueue(), new SeqQueue(), new SeqQueue()];
  readonly delayed = new Set<Entry>();
  readonly inFlight = new Map<number, Outstanding>();
  /** key -> the consumer holding it and how many of its deliveries are outstanding. */
  readonly keyOwners = new Map<string, { consumer: MemoryConsumer; count: number }>();
  consumers: MemoryConsumer[] = [];
  private cursor = 0;
  private pumpScheduled = false;

  constructor(
    readonly broker: MemoryBroker,
    readonly topic: string,
    readonly name: string,
  ) {}

  get readyCount(): number {
    return this.ready[0].length + this.ready[1].length + this.ready[2].length;
  }

  enqueue(entry: Entry): void {
    // Appends are the common case; a crash return goes back to its place by sequence.
    this.ready[levelOf(entry.message.priority)].insert(entry);
    this.schedulePump();
  }

  schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private take(consumer: MemoryConsumer): Entry | undefined {
    const eligible = (entry: Entry): boolean => {
      const owner = this.keyOwners.get(entry.message.key);
      return !owner || owner.consumer === consumer;
    };
    for (let level = 0 as Level; level <= 2; level = (level + 1) as Level) {
      const entry = this.ready[level].takeFirst(eligible);
      if (entry) return entry;
    }
    return undefined;
  }

  private pump(): void {
    const handouts: Array<{ consumer: MemoryConsumer; delivery: BrokerDelivery }> = [];
    let progress = true;
    while (progress && this.readyCount > 0 && this.consumers.length > 0) {
      progress = false;
      // Round robin over consumers, one message each per turn, so competing consumers share work.
      for (let turn = 0; turn < this.consumers.length; turn += 1) {
        const consumer = this.consumers[(this.cursor + turn) % this.consumers.length] as MemoryConsumer;
        if (!consumer.active || consumer.outstanding >= consumer.prefetch) continue;
        const entry = this.take(consumer);
        if (!entry) continue;
        handouts.push({ consumer, delivery: this.handOut(consumer, entry) });
        progress = true;
      }
      this.cursor = (this.cursor + 1) % Math.max(1, this.consumers.length);
    }
    for (const { consumer, delivery } of handouts) {
      try {
        consumer.onDelivery(delivery);
      } catch {
        // A consumer's callback failing is the consumer's problem; the delivery stays in flight.
      }
    }
  }

  private handOut(consumer: MemoryConsumer, entry: Entry): BrokerDelivery {
    entry.deliveries += 1;
    const token = this.broker.nextToken();
    this.inFlight.set(token, { entry, consumer });
    consumer.outstanding += 1;
    const owner = this.keyOwners.get(entry.message.key);
    if (owner) owner.count += 1;
    else this.keyOwners.set(entry.message.key, { consumer, count: 1 });
    const settle = (): Outstanding => {
      if (consumer.driver.closed) throw new Error("memory transport: the driver is closed");
      const outstanding = this.inFlight.get(token);
      if (!outstanding) throw new Error(`memory transport: delivery of message ${entry.message.id} is already settled`);
      this.release(token, outstanding);
      return outstanding;
    };
    return {
      message: { ...entry.message, headers: { ...entry.message.headers } },
      attempt: entry.deliveries,
      ack: async () => {
        settle();
        this.schedulePump();
      },
      retry: async (delayMs: number) => {
        settle();
        this.broker.requeue(this, entry, delayMs);
        this.schedulePump();
      },
    };
  }

  /** Takes a delivery out of flight and frees its consumer slot and key. */
  release(token: number, outstanding: Outstanding): void {
    this.inFlight.delete(token);
    outstanding.consumer.outstanding -= 1;
    const key = outstanding.entry.message.key;
    const owner = this.keyOwners.get(key);
    if (owner && owner.consumer === outstanding.consumer) {
      owner.count -= 1;
      if (owner.count <= 0) this.keyOwners.delete(key);
    }
  }

  /** A crashed consumer's deliveries: after the lease, back to the group in their old places. */
  returnAfterCrash(consumer: MemoryConsumer, afterMs: number): void {
    const tokens = [...this.inFlight].filter(([, outstanding]) => outstanding.consumer === consumer).map(([token]) => token);
    if (tokens.length === 0) return;
    this.broker.later(afterMs, () => {
      for (const token of tokens) {
        const outstanding = this.inFlight.get(token);
        if (!outstanding) continue;
        this.release(token, outstanding);
        this.enqueue(outstanding.entry);
      }
      this.schedulePump();
    });
  }

  figures(): QueueFigures {
    const lag = this.readyCount + this.delayed.size;
    return { depth: lag + this.inFlight.size, lag, inFlight: this.inFlight.size };
  }
}

export class MemoryBroker {
  private readonly topics = new Map<string, Map<string, Group>>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private seq = 0;
  private token = 0;

  /** A new driver (client) on this broker. */
  driver(options: MemoryDriverOptions = {}): MemoryDriver {
    return new MemoryDriver(this, options);
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  nextToken(): number {
    this.token += 1;
    return this.token;
  }

  group(topic: string, name: string, create: boolean): Group | undefined {
    let groups = this.topics.get(topic);
    if (!groups) {
      if (!create) return undefined;
      groups = new Map();
      this.topics.set(topic, groups);
    }
    let group = groups.get(name);
    if (!group && create) {
      group = new Group(this, topic, name);
      groups.set(name, group);
    }
    return group;
  }

  publish(topic: string, messages: readonly WireMessage[]): void {
    const groups = [...(this.topics.get(topic)?.values() ?? [])];
    for (const message of messages) {
      const seq = this.nextSeq();
      for (const group of groups) group.enqueue({ message: copyMessage(message), seq, deliveries: 0 });
    }
  }

  requeue(group: Group, entry: Entry, delayMs: number): void {
    entry.seq = this.nextSeq();
    if (!(delayMs > 0)) {
      group.enqueue(entry);
      return;
    }
    group.delayed.add(entry);
    this.later(delayMs, () => {
      group.delayed.delete(entry);
      group.enqueue(entry);
    });
  }

  later(delayMs: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, Math.max(0, delayMs));
    unrefTimer(timer);
    this.timers.add(timer);
  }

  /** Drops every pending timer (tests that throw the broker away). */
  dispose(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.topics.clear();
  }
}

function copyMessage(message: WireMessage): WireMessage {
  return { id: message.id, key: message.key, priority: message.priority, headers: { ...message.headers }, body: message.body };
}

export class MemoryDriver implements TransportDriver {
  readonly kind: TransportKind = "memory";
  readonly capabilities: TransportCapabilities = { keyAffinity: true };
  readonly broker: MemoryBroker;
  private readonly redeliveryAfterMs: number;
  private readonly consumers = new Set<MemoryConsumer>();
  closed = false;

  constructor(broker: MemoryBroker = new MemoryBroker(), options: MemoryDriverOptions = {}) {
    this.broker = broker;
    this.redeliveryAfterMs = options.redeliveryAfterMs ?? 30_000;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("memory transport: the driver is closed");
  }

  async connect(): Promise<void> {
    this.assertOpen();
  }

  async ensureGroup(topic: string, group: string): Promise<void> {
    this.assertOpen();
    this.broker.group(topic, group, true);
  }

  async publish(topic: string, messages: WireMessage[]): Promise<void> {
    this.assertOpen();
    for (const message of messages) {
      if (typeof message.id !== "string" || typeof message.key !== "string" || typeof message.body !== "string") {
        throw new TypeError("memory transport: a WireMessage needs a string id, key and body");
      }
    }
    this.broker.publish(topic, messages);
  }

  async consume(spec: ConsumeSpec, onDelivery: (delivery: BrokerDelivery) => void): Promise<ConsumerHandle> {
    this.assertOpen();
    if (!Number.isInteger(spec.prefetch) || spec.prefetch < 1) throw new RangeError(`prefetch must be a positive integer, got ${spec.prefetch}`);
    const group = this.broker.group(spec.topic, spec.group, true) as Group;
    const consumer: MemoryConsumer = {
      name: spec.consumer,
      driver: this,
      group,
      prefetch: spec.prefetch,
      onDelivery,
      active: true,
      outstanding: 0,
    };
    this.consumers.add(consumer);
    group.consumers.push(consumer);
    group.schedulePump();
    return {
      stop: async () => {
        this.detach(consumer);
      },
    };
  }

  private detach(consumer: MemoryConsumer): void {
    consumer.active = false;
    consumer.group.consumers = consumer.group.consumers.filter((other) => other !== consumer);
  }

  async redeliver(topic: string, group: string, message: WireMessage): Promise<void> {
    this.assertOpen();
    const target = this.broker.group(topic, group, true) as Group;
    target.enqueue({ message: copyMessage(message), seq: this.broker.nextSeq(), deliveries: 0 });
  }

  async figures(topic: string, group: string): Promise<QueueFigures> {
    this.assertOpen();
    return this.broker.group(topic, group, false)?.figures() ?? { depth: 0, lag: 0, inFlight: 0 };
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const consumer of this.consumers) {
      this.detach(consumer);
      consumer.group.returnAfterCrash(consumer, this.redeliveryAfterMs);
      consumer.group.schedulePump();
    }
    this.consumers.clear();
  }
}

/** Dead letters kept in memory (tests, the embedded default). Ids are UUIDv7, so they sort by time. */
export class InMemoryDeadLetterStore implements DeadLetterStore {
  private readonly entries = new Map<string, DeadLetter>();

  async add(entry: Omit<DeadLetter, "id">): Promise<DeadLetter> {
    const existing = [...this.entries.values()].find(
      (letter) => letter.subscription === entry.subscription && letter.message.id === entry.message.id,
    );
    if (existing) {
      const updated: DeadLetter = {
        ...structuredClone(entry),
        id: existing.id,
        firstFailedAt: existing.firstFailedAt < entry.firstFailedAt ? existing.firstFailedAt : entry.firstFailedAt,
      };
      this.entries.set(existing.id, updated);
      return structuredClone(updated);
    }
    const letter: DeadLetter = { ...structuredClone(entry), id: newId() };
    this.entries.set(letter.id, letter);
    return structuredClone(letter);
  }

  async list(filter: DeadLetterFilter): Promise<{ items: DeadLetter[]; next: string | null }> {
    const matching = [...this.entries.values()]
      .filter((letter) => filter.subscription === undefined || letter.subscription === filter.subscription)
      .filter((letter) => filter.errorType === undefined || letter.error.type === filter.errorType)
      .filter((letter) => filter.after === undefined || letter.id > filter.after)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const limit = Math.max(0, filter.limit);
    const items = matching.slice(0, limit);
    const last = items[items.length - 1];
    return { items: items.map((letter) => structuredClone(letter)), next: matching.length > limit && last ? last.id : null };
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const letter = this.entries.get(id);
    return letter ? structuredClone(letter) : undefined;
  }

  async remove(id: string): Promise<boolean> {
    return this.entries.delete(id);
  }

  async summary(): Promise<Array<{ subscription: string; errorType: string; count: number }>> {
    const counts = new Map<string, { subscription: string; errorType: string; count: number }>();
    for (const letter of this.entries.values()) {
      const key = JSON.stringify([letter.subscription, letter.error.type]);
      const row = counts.get(key);
      if (row) row.count += 1;
      else counts.set(key, { subscription: letter.subscription, errorType: letter.error.type, count: 1 });
    }
    return [...counts.values()].sort((a, b) => a.subscription.localeCompare(b.subscription) || a.errorType.localeCompare(b.errorType));
  }
}

/** An inbox kept in memory (tests, the embedded default). */
export class InMemoryInbox implements Inbox {
  private readonly seen = new Map<string, Set<string>>();

  async has(subscription: string, messageId: string): Promise<boolean> {
    return this.seen.get(subscription)?.has(messageId) ?? false;
  }

  async record(subscription: string, messageId: string): Promise<void> {
    let ids = this.seen.get(subscription);
    if (!ids) {
      ids = new Set();
      this.seen.set(subscription, ids);
    }
    ids.add(messageId);
  }
}
