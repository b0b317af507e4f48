import type { Consumer, EachBatchPayload, Kafka, TopicPartitionOffsetAndMetadata } from "kafkajs";
import { priorities, type Priority } from "@/server/engine/core/envelope";
import { EngineError } from "@/server/engine/core/errors";
import type { BrokerDelivery, ConsumeSpec } from "@/server/engine/transport/driver";
import { keyAffinityAssigner } from "./assigner";
import type { GroupTopics } from "./names";
import type { KafkaSettings } from "./options";
import { addDelivery, decodeProgress, earlierDeliveries, encodeProgress, pruneRuns, takeOver, type Run } from "./progress";
import { fromKafkaRecord, type ReceivedRecord } from "./wire";

/** What a consumer needs from its driver. */
export interface ConsumerHost {
  settings: KafkaSettings;
  /** A kafkajs client for one consumer (its own connections, its instance name in the client id). */
  client(consumerName: string): Kafka;
  /** Committed offsets and their metadata, per topic and partition. */
  fetchCommitted(groupId: string, topics: string[]): Promise<Map<string, { offset: number; metadata: string | null }>>;
  /** Produces the retry topic's copy of a message; resolves once the broker has it. */
  produceRetry(retryTopic: string, record: ReceivedRecord["message"], attempt: number, dueAt: number): Promise<void>;
}

interface Entry {
  offset: number;
  record: ReceivedRecord;
  rank: number;
  settled: boolean;
}

const partitionKey = (topic: string, partition: number) => `${partition}@${topic}`;

/**
 * One assigned partition: the records fetched from it in offset order, which of them are handed out
 * and settled, and the progress written to the group. Records are handed out in offset order (a
 * retry topic's head waits until it is due), so the handed-out records are always a prefix and one
 * offset (`handedEnd`) says which.
 */
class PartitionState {
  alive = true;
  paused = false;
  /** entries[first] is the first unsettled record; entries[handIndex] the next to hand out. */
  entries: Entry[] = [];
  first = 0;
  handIndex = 0;
  /** Settled entries at or after `first`: settled, but not committable yet. */
  settledAbove = 0;
  /** Offset after the last record taken from a fetch; earlier offsets fetched again are skipped. */
  next = 0;
  handedEnd = 0;
  runs: Run[] = [];
  ready: Promise<void> = Promise.resolve();

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** The priority of a priority topic; undefined for the retry topic (each record names its own). */
    readonly priority: Priority | undefined,
  ) {}

  get buffered(): number {
    return this.entries.length - this.handIndex;
  }

  /** The offset to commit: everything below it is settled. */
  commitPoint(): number {
    return this.entries[this.first]?.offset ?? this.next;
  }

  /** Call after marking an entry settled. */
  settle(): void {
    this.settledAbove += 1;
    while (this.entries[this.first]?.settled) {
      this.first += 1;
      this.settledAbove -= 1;
    }
    // Settled records below `first` are of no further use; drop them in chunks, not one by one.
    if (this.first >= 1024 && this.first * 2 >= this.entries.length) {
      this.entries.splice(0, this.first);
      this.handIndex -= this.first;
      this.first = 0;
    }
  }

  /** The committed offset and metadata that describe this partition now, or as its owner leaves. */
  progressCommit(leaving: boolean): TopicPartitionOffsetAndMetadata {
    const offset = this.commitPoint();
    const progress = leaving
      ? { handedEnd: offset, settledAbove: 0, runs: pruneRuns(addDelivery(this.runs, this.handedEnd), offset) }
      : { handedEnd: this.handedEnd, settledAbove: this.settledAbove, runs: this.runs };
    return { topic: this.topic, partition: this.partition, offset: String(offset), metadata: encodeProgress(progress, offset) };
  }
}

/**
 * A member of a Kafka consumer group feeding one `consume()` call. Fetched records are buffered per
 * partition (up to `bufferPerPartition`, then the partition is paused) and handed out, highest
 * priority first, while fewer than `prefetch` are outstanding. Offsets are committed only up to the
 * first unsettled record of each partition (ack, or moved to the retry topic), so whatever this
 * member leaves unsettled when it goes away is read again by the member that takes over.
 */
export class KafkaGroupConsumer {
  private readonly consumer: Consumer;
  private readonly states = new Map<string, PartitionState>();
  private stateList: PartitionState[] = [];
  private roundRobin = 0;
  private outstanding = 0;
  private stopped = false;
  private closed = false;
  private finishing: Promise<void> | undefined;
  private dispatchQueued = false;
  private dueTimer: { at: number; timer: ReturnType<typeof setTimeout> } | undefined;
  private leaveTimer: ReturnType<typeof setTimeout> | undefined;
  // Progress writer: one OffsetCommit in flight, at most one per commitIntervalMs.
  private readonly dirty = new Set<PartitionState>();
  private writeTimer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> | undefined;
  private lastWrite = 0;
  private writeFailing = false;

  constructor(
    private readonly host: ConsumerHost,
    private readonly spec: ConsumeSpec,
    private readonly names: GroupTopics,
    private readonly onDelivery: (delivery: BrokerDelivery) => void,
  ) {
    const { settings } = host;
    this.consumer = host.client(spec.consumer).consumer({
      groupId: names.groupId,
      partitionAssigners: [keyAffinityAssigner],
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      maxWaitTimeInMs: settings.maxWaitMs,
      allowAutoTopicCreation: false,
    });
    const { GROUP_JOIN, FETCH_START, CRASH, REBALANCING } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, ({ payload }) => this.onAssignment(payload.memberAssignment));
    // Partitions may move to another member, which starts from the committed offsets: commit what
    // is settled now rather than at the next interval, so it is not handed out again there.
    this.consumer.on(REBALANCING, () => void this.flush());
    // The fetcher starts a fetch once every batch of the previous one is buffered: the moment to
    // hand out, with all partitions' records in view, so priorities are compared across them.
    this.consumer.on(FETCH_START, () => this.queueDispatch());
    this.consumer.on(CRASH, ({ payload }) => {
      host.settings.log("error", `consumer of ${names.groupId} crashed${payload.restart ? "; kafkajs restarts it" : " for good"}`, { error: payload.error.message });
      // A restarted consumer rejoins from the committed offsets; whatever this one had taken is
      // anyone's again, and settling it later must not move offsets of partitions it may not get back.
      this.dropAll();
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.names.priorityTopics, this.names.retryTopic], fromBeginning: true });
    // run() resolves once the consumer has joined the group and has its partitions.
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: true, eachBatch: (payload) => this.onBatch(payload) });
  }

  belongsTo(groupId: string): boolean {
    return this.names.groupId === groupId;
  }

  /**
   * Stops handing out. The member stays in the group (its partitions paused) while deliveries are
   * being settled, and leaves once they all are, or after redeliveryAfterMs: deliveries still
   * unsettled then go to the other members, as if this one had died, and settling them rejects.
   */
  stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.pauseAll();
      this.clearDueTimer();
      if (this.outstanding === 0) void this.finish();
      else this.leaveTimer = setTimeout(() => void this.finish(), this.host.settings.redeliveryAfterMs);
    }
    return Promise.resolve();
  }

  /** Leaves the group now: unsettled deliveries stay uncommitted, for the next member to read. */
  async close(): Promise<void> {
    await this.stop();
    await this.finish();
  }

  /** Writes pending progress now (figures read it from the broker). */
  async flush(): Promise<void> {
    if (this.writeTimer) {
      clearTimeout(this.writeTimer);
      this.writeTimer = undefined;
    }
    await this.writing;
    if (this.dirty.size > 0) await this.write(false);
  }

  private finish(): Promise<void> {
    this.finishing ??= (async () => {
      this.closed = true;
      clearTimeout(this.leaveTimer);
      if (this.writeTimer) clearTimeout(this.writeTimer);
      this.writeTimer = undefined;
      await this.writing;
      for (const state of this.stateList) this.dirty.add(state);
      await this.write(true);
      this.dropAll();
      await this.consumer.disconnect().catch((error: unknown) => this.host.settings.log("warn", `leaving ${this.names.groupId} failed`, { error: String(error) }));
    })();
    return this.finishing;
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    const assigned = new Set<string>();
    const fresh: PartitionState[] = [];
    for (const [topic, partitions] of Object.entries(assignment)) {
      const priority = priorities[this.names.priorityTopics.indexOf(topic)];
      for (const partition of partitions) {
        const key = partitionKey(topic, partition);
        assigned.add(key);
        if (!this.states.has(key)) {
          const state = new PartitionState(topic, partition, priority);
          this.states.set(key, state);
          fresh.push(state);
        }
      }
    }
    for (const [key, state] of this.states) {
      if (assigned.has(key)) continue;
      state.alive = false;
      this.states.delete(key);
      this.dirty.delete(state);
    }
    this.stateList = [...this.states.values()];
    if (fresh.length > 0) {
      const ready = this.takeOver(fresh);
      for (const state of fresh) state.ready = ready;
    }
    // kafkajs keeps pause flags across rebalances but not across a restart: state them again.
    const paused = this.stateList.filter((state) => this.stopped || state.paused);
    const running = this.stateList.filter((state) => !(this.stopped || state.paused));
    this.setPaused(paused, true);
    this.setPaused(running, false);
  }

  /** Reads the committed offsets and progress of newly assigned partitions: deliveries made by earlier owners. */
  private async takeOver(fresh: PartitionState[]): Promise<void> {
    let committed: Map<string, { offset: number; metadata: string | null }>;
    try {
      committed = await this.host.fetchCommitted(this.names.groupId, [...new Set(fresh.map((state) => state.topic))]);
    } catch (error) {
      // Without them, attempts of redelivered records start from their headers' values again.
      this.host.settings.log("warn", `reading the progress of ${this.names.groupId} failed; attempts restart from the records' headers`, { error: String(error) });
      return;
    }
    for (const state of fresh) {
      const found = committed.get(partitionKey(state.topic, state.partition));
      const offset = found && found.offset >= 0 ? found.offset : 0;
      const previous = decodeProgress(found?.metadata);
      const progress = takeOver(previous, offset);
      state.next = Math.max(state.next, offset);
      state.handedEnd = Math.max(state.handedEnd, offset);
      state.runs = progress.runs;
      // Rewrite a predecessor's hand-out mark as counted deliveries, so figures stop calling its records in flight.
      if (previous && (previous.handedEnd > offset || previous.settledAbove > 0)) this.markDirty(state);
    }
  }

  private async onBatch({ batch }: EachBatchPayload): Promise<void> {
    const state = this.states.get(partitionKey(batch.topic, batch.partition));
    if (!state || this.stopped) return;
    await state.ready;
    if (!state.alive) return;
    for (const record of batch.messages) {
      const offset = Number(record.offset);
      // After a rebalance kafkajs fetches again from the committed offset; records still buffered
      // or in flight here are not taken twice.
      if (offset < state.next) continue;
      state.next = offset + 1;
      const received = fromKafkaRecord(record, batch, state.priority);
      state.entries.push({ offset, record: received, rank: priorities.indexOf(received.message.priority), settled: false });
    }
    if (!state.paused && state.buffered >= this.host.settings.bufferPerPartition) {
      state.paused = true;
      this.setPaused([state], true);
    }
  }

  private queueDispatch(): void {
    if (this.dispatchQueued) return;
    this.dispatchQueued = true;
    queueMicrotask(() => {
      this.dispatchQueued = false;
      this.dispatch();
    });
  }

  /**
   * Hands out records while slots are free: the highest priority among the partitions' heads
   * first, one record per partition in turn, so the slots spread over partitions (and keys) rather
   * than filling up with one partition's run of a single key.
   */
  private dispatch(): void {
    if (this.stopped) return;
    const now = Date.now();
    const states = this.stateList;
    let nextDue = Infinity;
    while (this.outstanding < this.spec.prefetch) {
      let best: PartitionState | undefined;
      let bestIndex = 0;
      let bestRank = Infinity;
      nextDue = Infinity;
      for (let i = 0; i < states.length; i++) {
        const index = (this.roundRobin + i) % states.length;
        const state = states[index]!;
        const head = state.entries[state.handIndex];
        if (!head) continue;
        if (head.record.dueAt > now) {
          nextDue = Math.min(nextDue, head.record.dueAt);
        } else if (head.rank < bestRank) {
          best = state;
          bestIndex = index;
          bestRank = head.rank;
        }
      }
      if (!best) break;
      this.roundRobin = (bestIndex + 1) % states.length;
      this.handOut(best, best.entries[best.handIndex]!);
    }
    if (this.outstanding < this.spec.prefetch && nextDue < Infinity) this.wakeAt(nextDue);
    const resume = states.filter((state) => state.paused && state.buffered <= this.host.settings.bufferPerPartition / 2);
    if (resume.length > 0) {
      for (const state of resume) state.paused = false;
      this.setPaused(resume, false);
    }
  }

  private handOut(state: PartitionState, entry: Entry): void {
    state.handIndex += 1;
    state.handedEnd = entry.offset + 1;
    this.outstanding += 1;
    this.markDirty(state);
    const attempt = entry.record.attempt + earlierDeliveries(state.runs, entry.offset);
    const delivery: BrokerDelivery = {
      message: entry.record.message,
      attempt,
      ack: async () => this.settle(state, entry),
      retry: (delayMs) => this.retryLater(state, entry, attempt, delayMs),
    };
    try {
      this.onDelivery(delivery);
    } catch (error) {
      this.host.settings.log("error", `delivery handler of ${this.names.groupId} threw; the message stays unsettled`, { error: String(error) });
    }
  }

  private async retryLater(state: PartitionState, entry: Entry, attempt: number, delayMs: number): Promise<void> {
    this.checkSettleable(entry);
    await this.host.produceRetry(this.names.retryTopic, entry.record.message, attempt + 1, Date.now() + Math.max(0, delayMs));
    this.settle(state, entry);
  }

  /**
   * Settling after close() rejects: the record was left uncommitted and the group delivers it
   * again, as after a crash.
   */
  private checkSettleable(entry: Entry): void {
    if (this.closed) throw new EngineError("unavailable", `Kafka consumer of ${this.names.groupId} is closed: message ${entry.record.message.id} stays uncommitted and is delivered again`);
    if (entry.settled) throw new Error(`Kafka transport: delivery of message ${entry.record.message.id} is already settled`);
  }

  private settle(state: PartitionState, entry: Entry): void {
    this.checkSettleable(entry);
    entry.settled = true;
    this.outstanding -= 1;
    if (state.alive) {
      state.settle();
      this.markDirty(state);
    }
    if (this.stopped) {
      if (this.outstanding === 0) void this.finish();
    } else {
      this.queueDispatch();
    }
  }

  private wakeAt(at: number): void {
    if (this.dueTimer && this.dueTimer.at <= at) return;
    this.clearDueTimer();
    const timer = setTimeout(() => {
      this.dueTimer = undefined;
      this.dispatch();
    }, Math.max(1, at - Date.now()));
    this.dueTimer = { at, timer };
  }

  private clearDueTimer(): void {
    if (this.dueTimer) clearTimeout(this.dueTimer.timer);
    this.dueTimer = undefined;
  }

  private markDirty(state: PartitionState): void {
    this.dirty.add(state);
    if (this.writeTimer || this.writing || this.finishing) return;
    this.writeTimer = setTimeout(() => {
      this.writeTimer = undefined;
      void this.write(false);
    }, Math.max(0, this.lastWrite + this.host.settings.commitIntervalMs - Date.now()));
  }

  /** Commits the dirty partitions' offsets and progress in one request. */
  private write(leaving: boolean): Promise<void> {
    if (this.writing) return this.writing;
    const states = [...this.dirty].filter((state) => state.alive);
    this.dirty.clear();
    if (states.length === 0) return Promise.resolve();
    const attempt = this.consumer
      .commitOffsets(states.map((state) => state.progressCommit(leaving)))
      .then(() => {
        if (this.writeFailing) this.host.settings.log("warn", `committing offsets of ${this.names.groupId} works again`);
        this.writeFailing = false;
      })
      .catch((error: unknown) => {
        for (const state of states) if (state.alive && !this.dirty.has(state)) this.dirty.add(state);
        if (!this.writeFailing) this.host.settings.log("warn", `committing offsets of ${this.names.groupId} failed; retrying`, { error: String(error) });
        this.writeFailing = true;
      })
      .finally(() => {
        this.lastWrite = Date.now();
        this.writing = undefined;
        const next = [...this.dirty][0];
        if (next && !this.finishing) this.markDirty(next);
      });
    this.writing = attempt;
    return attempt;
  }

  private setPaused(states: PartitionState[], paused: boolean): void {
    if (states.length === 0) return;
    const byTopic = new Map<string, number[]>();
    for (const state of states) byTopic.set(state.topic, [...(byTopic.get(state.topic) ?? []), state.partition]);
    const topicPartitions = [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
    try {
      if (paused) this.consumer.pause(topicPartitions);
      else this.consumer.resume(topicPartitions);
    } catch (error) {
      // Only while kafkajs restarts a crashed consumer; the next assignment states pauses again.
      this.host.settings.log("warn", `${paused ? "pausing" : "resuming"} partitions of ${this.names.groupId} failed`, { error: String(error) });
    }
  }

  private pauseAll(): void {
    try {
      this.consumer.pause([...this.names.priorityTopics, this.names.retryTopic].map((topic) => ({ topic })));
    } catch {
      // Not running (yet or any more): nothing is fetched either way.
    }
  }

  private dropAll(): void {
    for (const state of this.states.values()) state.alive = false;
    this.states.clear();
    this.stateList = [];
    this.dirty.clear();
  }
}
