import kafkajs, { type Admin, type Kafka, type KafkaConfig, type logCreator, type Producer } from "kafkajs";
import { EngineError, isEngineError } from "@/server/engine/core/errors";
import type {
  BrokerDelivery,
  ConsumeSpec,
  ConsumerHandle,
  QueueFigures,
  TransportCapabilities,
  TransportDriver,
  WireMessage,
} from "@/server/engine/transport/driver";
import { keyAffinityAssigner } from "./assigner";
import { KafkaGroupConsumer, type ConsumerHost } from "./consumer";
import { KafkaNames, type GroupTopics } from "./names";
import type { KafkaSettings } from "./options";
import { decodeProgress } from "./progress";
import { CoalescingSender } from "./sender";
import { toKafkaMessage, toRetryMessage } from "./wire";

const { Kafka: KafkaClient, Partitioners, logLevel } = kafkajs;

/**
 * Produce requests stay below this, so no partition's record batch can exceed the broker's
 * default `message.max.bytes` (1 MiB).
 */
const MAX_REQUEST_BYTES = 768 * 1024;
/** Longest close() waits for consumers to commit and leave their groups and for connections to close. */
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * The Kafka transport (kafkajs). How the contract maps onto Kafka:
 *
 * - publish: an idempotent producer (acks = all) writes each message to `{prefix}.{topic}.{priority}`,
 *   keyed by `key` (one key, one partition, publish order); concurrent publishes share produce
 *   requests. Topics are created on first use with `partitions` partitions (never by the broker's
 *   auto-creation, which would ignore that setting).
 * - ensureGroup: creates the group's topics and, for a new group, commits the topics' current end
 *   offsets, so the group sees exactly what is published from then on.
 * - consume: one Kafka consumer group per (topic, group); each `consume()` is one member, subscribed to
 *   the three priority topics and the group's retry topic. Partition p of all four goes to one
 *   member, so a key is handled by one member at a time (outside rebalances: a member that lost a
 *   partition may still be finishing records the new owner has received again).
 * - ack / at-least-once: offsets are committed only up to a partition's first unsettled record; a
 *   member that dies or leaves leaves the rest uncommitted, and the next owner reads them again.
 * - attempt: records carry no delivery count in Kafka. A retried record carries its attempt in a
 *   header; every owner of a partition writes how far it has handed records out next to its committed
 *   offset, and the next owner adds one to the attempt of every record below that mark. Marks are
 *   written at most `commitIntervalMs` after a hand-out, when a rebalance starts, and always on
 *   close(): a member killed within that window (or losing the partition in a rebalance before the
 *   write lands) has its last hand-outs not counted: their attempt repeats, it never skips.
 * - retry(delayMs): the record is copied to the group's retry topic with its due time and next
 *   attempt, then settled, so its partition moves on; the retry topic's head is handed out once due.
 *   Retried records are due in order per retry partition: one with a long delay holds back later
 *   ones of the same retry partition (never records of the priority topics).
 * - redeliver: a copy due at once, attempt 1, in the group's retry topic.
 * - figures: from committed offsets, their progress metadata and the topics' end offsets, so they
 *   cover every member of the group, in any process (as of each member's last commit).
 */
export class KafkaDriver implements TransportDriver {
  readonly kind = "kafka" as const;
  readonly capabilities: TransportCapabilities = { keyAffinity: true };

  private readonly names: KafkaNames;
  private readonly admin: Admin;
  private readonly producer: Producer;
  private readonly sender: CoalescingSender;
  private connecting: Promise<void> | undefined;
  private readonly topicsCreated = new Map<string, Promise<void>>();
  private readonly groupsReady = new Map<string, Promise<void>>();
  private readonly consumers = new Set<KafkaGroupConsumer>();
  private closed = false;

  constructor(private readonly settings: KafkaSettings) {
    this.names = new KafkaNames(settings.prefix);
    const kafka = this.client();
    this.admin = kafka.admin();
    this.producer = kafka.producer({
      idempotent: true,
      // The driver creates its topics itself, with the configured partition count; the broker's
      // auto-creation would use its own default and break key affinity across a group's topics.
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.sender = new CoalescingSender(async (topicMessages) => {
      await this.producer.sendBatch({ topicMessages, acks: -1 });
    }, MAX_REQUEST_BYTES);
  }

  connect(): Promise<void> {
    if (this.closed) return Promise.reject(new EngineError("unavailable", "The Kafka driver is closed"));
    this.connecting ??= withTimeout(
      Promise.all([this.admin.connect(), this.producer.connect()]).then(() => undefined),
      this.settings.connectTimeoutMs,
      "connecting to Kafka",
    ).catch(async (error: unknown) => {
      this.connecting = undefined;
      await Promise.allSettled([this.admin.disconnect(), this.producer.disconnect()]);
      throw new EngineError("unavailable", `Kafka brokers ${this.settings.brokers.join(",")} unreachable: ${describe(error)}`, { cause: error });
    });
    return this.connecting;
  }

  async ensureGroup(topic: string, group: string): Promise<void> {
    const names = this.names.group(topic, group);
    let ready = this.groupsReady.get(names.groupId);
    if (!ready) {
      ready = (async () => {
        await this.createTopics([...names.priorityTopics, names.retryTopic]);
        await this.startGroupAtEnd(names);
      })().catch((error: unknown) => {
        throw asUnavailable(error, `Preparing Kafka group ${names.groupId}`);
      });
      this.groupsReady.set(names.groupId, ready);
      ready.catch(() => this.groupsReady.delete(names.groupId));
    }
    return ready;
  }

  async publish(topic: string, messages: WireMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const items = messages.map((message) => ({ topic: this.names.priorityTopic(topic, message.priority), message: toKafkaMessage(message) }));
    await this.createTopics(this.names.priorityTopics(topic));
    await this.produce(items);
  }

  async consume(spec: ConsumeSpec, onDelivery: (delivery: BrokerDelivery) => void): Promise<ConsumerHandle> {
    if (!Number.isInteger(spec.prefetch) || spec.prefetch < 1) throw new EngineError("validation", `prefetch: must be a positive integer, got ${spec.prefetch}`);
    await this.ensureGroup(spec.topic, spec.group);
    const consumer = new KafkaGroupConsumer(this.consumerHost(), spec, this.names.group(spec.topic, spec.group), onDelivery);
    this.consumers.add(consumer);
    try {
      await consumer.start();
    } catch (error) {
      this.consumers.delete(consumer);
      await consumer.close();
      throw new EngineError("unavailable", `Joining Kafka group for ${spec.topic}/${spec.group} failed: ${describe(error)}`, { cause: error });
    }
    return { stop: () => consumer.stop() };
  }

  async redeliver(topic: string, group: string, message: WireMessage): Promise<void> {
    const { retryTopic } = this.names.group(topic, group);
    await this.createTopics([retryTopic]);
    await this.produce([{ topic: retryTopic, message: toRetryMessage(message, 1, Date.now()) }]);
  }

  async figures(topic: string, group: string): Promise<QueueFigures> {
    const names = this.names.group(topic, group);
    try {
      return await this.readFigures(names);
    } catch (error) {
      throw asUnavailable(error, `Reading figures of Kafka group ${names.groupId}`);
    }
  }

  private async readFigures(names: GroupTopics): Promise<QueueFigures> {
    await Promise.all([...this.consumers].filter((consumer) => consumer.belongsTo(names.groupId)).map((consumer) => consumer.flush()));
    await this.connect();
    const existing = new Set(await this.admin.listTopics());
    const topics = [...names.priorityTopics, names.retryTopic].filter((name) => existing.has(name));
    if (topics.length === 0) return { depth: 0, lag: 0, inFlight: 0 };
    const [committed, ...ends] = await Promise.all([
      this.fetchCommitted(names.groupId, topics),
      ...topics.map(async (name) => ({ topic: name, offsets: await this.endOffsets(name) })),
    ]);
    const figures: QueueFigures = { depth: 0, lag: 0, inFlight: 0 };
    for (const { topic: name, offsets } of ends) {
      for (const { partition, high, low } of offsets) {
        const end = Number(high);
        const found = committed.get(`${partition}@${name}`);
        // A partition the group never committed starts where its consumers will: the earliest record.
        const base = found && found.offset >= 0 ? found.offset : Number(low);
        const progress = decodeProgress(found?.metadata);
        const settledAbove = progress?.settledAbove ?? 0;
        const handedEnd = Math.min(end, Math.max(base, progress?.handedEnd ?? base));
        figures.depth += Math.max(0, end - base - settledAbove);
        figures.lag += Math.max(0, end - handedEnd);
        figures.inFlight += Math.max(0, handedEnd - base - settledAbove);
      }
    }
    return figures;
  }

  async ping(): Promise<void> {
    await this.connect();
    await this.admin.describeCluster().catch((error: unknown) => {
      throw asUnavailable(error, "Pinging Kafka");
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closing = [...this.consumers].map((consumer) => consumer.close());
    this.consumers.clear();
    closing.push(this.producer.disconnect(), this.admin.disconnect());
    // A broker that has gone away can keep kafkajs waiting on requests for a long time: close() does not wait for it.
    await withTimeout(Promise.allSettled(closing), CLOSE_TIMEOUT_MS, "closing the Kafka driver").catch((error: unknown) => this.settings.log("warn", describe(error)));
  }

  private client(consumerName?: string): Kafka {
    const { settings } = this;
    const config: KafkaConfig = {
      brokers: settings.brokers,
      clientId: consumerName ? `${settings.clientId}-${consumerName}` : settings.clientId,
      connectionTimeout: Math.min(settings.connectTimeoutMs, 10_000),
      logLevel: logLevel.WARN,
      logCreator: this.logCreator,
    };
    if (settings.ssl !== undefined) config.ssl = settings.ssl;
    if (settings.sasl !== undefined) config.sasl = settings.sasl;
    if (settings.socketFactory !== undefined) config.socketFactory = settings.socketFactory;
    return new KafkaClient(config);
  }

  /**
   * kafkajs logs at info level on every join, pause and resume: only warnings and errors get
   * through, minus the error it logs for every error response (e.g. "not the leader" while a new
   * topic's partitions come up): the request is retried, or its failure reaches the caller.
   */
  private readonly logCreator: logCreator = () => (entry) => {
    if (entry.level === logLevel.NOTHING || entry.level > logLevel.WARN) return;
    if (entry.namespace === "Connection" && entry.log.message.startsWith("Response ")) return;
    const { message, timestamp: _timestamp, logger: _logger, stack: _stack, ...fields } = entry.log;
    this.settings.log(entry.level === logLevel.ERROR ? "error" : "warn", `kafkajs ${entry.namespace}: ${message}`, fields);
  };

  private consumerHost(): ConsumerHost {
    return {
      settings: this.settings,
      client: (consumerName) => this.client(consumerName),
      fetchCommitted: (groupId, topics) => this.fetchCommitted(groupId, topics),
      produceRetry: (retryTopic, message, attempt, dueAt) => this.produce([{ topic: retryTopic, message: toRetryMessage(message, attempt, dueAt) }]),
    };
  }

  private async produce(items: Parameters<CoalescingSender["enqueue"]>[0]): Promise<void> {
    await this.connect();
    try {
      await withTimeout(this.sender.enqueue(items), this.settings.publishTimeoutMs, "waiting for Kafka to acknowledge a publish");
    } catch (error) {
      throw asUnavailable(error, "Publishing to Kafka");
    }
  }

  private async fetchCommitted(groupId: string, topics: string[]): Promise<Map<string, { offset: number; metadata: string | null }>> {
    await this.connect();
    const committed = new Map<string, { offset: number; metadata: string | null }>();
    for (const { topic, partitions } of await retryTransient(() => this.admin.fetchOffsets({ groupId, topics }))) {
      for (const { partition, offset, metadata } of partitions) committed.set(`${partition}@${topic}`, { offset: Number(offset), metadata });
    }
    return committed;
  }

  private endOffsets(topic: string) {
    return retryTransient(() => this.admin.fetchTopicOffsets(topic));
  }

  private async createTopics(topics: string[]): Promise<void> {
    await this.connect();
    const missing = topics.filter((topic) => !this.topicsCreated.has(topic));
    if (missing.length > 0) {
      const created = this.admin
        .createTopics({
          topics: missing.map((topic) => ({ topic, numPartitions: this.settings.partitions, replicationFactor: this.settings.replicationFactor })),
          waitForLeaders: true,
        })
        .then(() => undefined);
      for (const topic of missing) {
        this.topicsCreated.set(topic, created);
        created.catch(() => this.topicsCreated.delete(topic));
      }
    }
    await Promise.all(topics.map((topic) => this.topicsCreated.get(topic)));
  }

  /**
   * A new group starts at the topics' current end: its offsets are committed before any member
   * joins (otherwise the first member would start at the end as of its own join, missing what was
   * published in between). Kafka only takes commits from a member, so a short-lived one does it.
   * A group with members, or with offsets already, is left alone.
   */
  private async startGroupAtEnd(names: GroupTopics): Promise<void> {
    const topics = [...names.priorityTopics, names.retryTopic];
    const committed = await this.fetchCommitted(names.groupId, topics);
    const ends = await Promise.all(topics.map(async (topic) => ({ topic, offsets: await this.endOffsets(topic) })));
    const starts = ends.flatMap(({ topic, offsets }) =>
      offsets.filter(({ partition }) => (committed.get(`${partition}@${topic}`)?.offset ?? -1) < 0).map(({ partition, high }) => ({ topic, partition, offset: high })),
    );
    if (starts.length === 0) return;
    const [description] = (await this.admin.describeGroups([names.groupId])).groups;
    if (description && description.state !== "Empty" && description.state !== "Dead") return;
    const member = this.client("start").consumer({
      groupId: names.groupId,
      partitionAssigners: [keyAffinityAssigner],
      maxWaitTimeInMs: 10,
      allowAutoTopicCreation: false,
    });
    try {
      await member.connect();
      await member.subscribe({ topics, fromBeginning: true });
      await member.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
      member.pause(topics.map((topic) => ({ topic })));
      await member.commitOffsets(starts);
    } finally {
      await member.disconnect();
    }
  }
}

/**
 * Runs an admin read again on a retriable broker error: right after a topic is created, the broker
 * may answer "not the leader" until it has taken up the new partitions, and kafkajs's admin gives up
 * on that at once.
 */
async function retryTransient<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const retriable = typeof error === "object" && error !== null && (error as { retriable?: unknown }).retriable === true;
      if (!retriable || attempt >= 30) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Broker failures reach callers as `unavailable` (retry later); the engine's own errors pass as they are. */
function asUnavailable(error: unknown, what: string): EngineError {
  return isEngineError(error) ? error : new EngineError("unavailable", `${what} failed: ${describe(error)}`, { cause: error });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
