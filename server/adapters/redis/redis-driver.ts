import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { ConsumeSpec, ConsumerHandle, BrokerDelivery, QueueFigures, TransportDriver, WireMessage } from "@/server/engine/transport/driver";
import { priorities } from "@/server/engine/core/envelope";
import { assertRedisVersion, bounded, openConnection, unavailable, whenReady } from "./connection";
import { StreamConsumer, type AckTarget, type ConsumerContext } from "./consumer";
import { groupKeys, isRetryStream, topicStreamKey } from "./keys";
import type { ResolvedRedisDriverOptions } from "./options";
import { trimScript } from "./scripts";
import { toFields } from "./stream-fields";

/** A topic's streams are trimmed (by whoever publishes to it) at most this often. */
const TRIM_EVERY_MS = 5_000;

/**
 * The Transport port on Redis Streams (Redis 7, standalone).
 *
 * Layout (see keys.ts): one stream per topic and priority, shared by every group of the topic
 * (XADD fields: the `ce_*` headers under their own names, then `id`, `key` and `body`), and per
 * group three retry streams and a sorted set of delayed retries. A group is a consumer group of
 * the same name on all six streams.
 *
 * - publish: pipelined XADD to the priority's stream, resolved on Redis' replies. Durability is
 *   the server's: a Redis without AOF (`appendonly no`, as on the loopback test server) loses
 *   acknowledged messages when it restarts. `minReplicas` adds WAIT for replicas.
 * - ensureGroup: XGROUP CREATE ... MKSTREAM, at `$` on topic streams (a new group sees messages
 *   published from then on) and at `0` on its own retry streams.
 * - consume: see {@link StreamConsumer}; a delivery's attempt is its entry's delivery count
 *   (plus the attempt carried by a retried entry), so deliveries after a crash count.
 * - ack: XACK, batched: acks of the same moment go in one pipeline, one XACK per stream (plus XDEL
 *   on retry streams, which only this group reads); resolved once queued (see AckBatcher). Topic
 *   streams are trimmed instead, below the oldest entry any group still needs: a group that is
 *   no longer consumed keeps everything after its position, so a removed subscription's group
 *   should be destroyed (XGROUP DESTROY on the topic's streams).
 * - retry(delayMs): one script acks the entry and adds the message, attempt + 1, to the group's
 *   delayed set scored by due time (Redis' clock); a promoter script moves due messages into the
 *   group's retry stream of their priority. Nothing waits in line behind a retried message.
 * - redeliver: XADD to the group's retry stream, attempt 1.
 * - figures, in one round trip: inFlight = the group's pending entries (XINFO GROUPS `pending`
 *   on the six streams); lag = entries not yet handed out: XINFO GROUPS `lag` on the topic
 *   streams, XLEN minus pending on the retry streams, plus the delayed retries (ZCARD), which are
 *   not handed out either; depth = lag + inFlight.
 *
 * Not natural in Redis Streams, so `keyAffinity` is false: entries of one stream go to whichever
 * consumer of the group reads next, so two consumers may handle messages of one key at the same
 * time. Within one consumer, messages of a key are handed out in stream order (and the engine's
 * Subscriber handles them one at a time). Where per-key order across consumers matters, run one
 * consumer per group or use the Kafka or Postgres transport.
 *
 * Connection loss: ioredis reconnects by itself; the consume loops resume on the new connection;
 * operations wait for the connection up to `operationTimeoutMs`, then reject with `unavailable`
 * (nothing queues in memory during an outage). A Redis restart without persistence loses the
 * streams and groups: consumers recreate their groups (NOGROUP) and carry on with new messages.
 */
export class RedisStreamsDriver implements TransportDriver, ConsumerContext {
  readonly kind = "redis" as const;
  readonly capabilities = { keyAffinity: false };
  readonly commands: Redis;
  readonly keyPrefix: string;
  readonly redeliveryAfterMs: number;
  readonly operationTimeoutMs: number;
  private readonly consumers = new Set<StreamConsumer>();
  private readonly acks: AckBatcher;
  private readonly lastTrimAt = new Map<string, number>();
  private readonly instance = randomUUID().slice(0, 8);
  private connecting: Promise<void> | undefined;
  private versionChecked = false;
  private closed = false;

  constructor(private readonly options: ResolvedRedisDriverOptions) {
    this.keyPrefix = options.keyPrefix;
    this.redeliveryAfterMs = options.redeliveryAfterMs;
    this.operationTimeoutMs = options.operationTimeoutMs;
    this.commands = this.openConnection(`eventloom:commands:${this.instance}`);
    this.acks = new AckBatcher(this);
  }

  openConnection(name: string): Redis {
    const connection = openConnection(this.options.url, name);
    connection.on("error", (error: unknown) => this.reportError(error));
    return connection;
  }

  reportError(error: unknown): void {
    this.options.onError(error);
  }

  connect(): Promise<void> {
    if (this.closed) return Promise.reject(unavailable("The Redis driver is closed"));
    if (this.commands.status === "ready" && this.versionChecked) return Promise.resolve();
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    if (this.commands.status === "wait") {
      await this.commands.connect().catch((error: unknown) => {
        throw unavailable(`Redis is unreachable: ${error instanceof Error ? error.message : String(error)}`, error);
      });
    } else {
      await whenReady(this.commands, this.operationTimeoutMs);
    }
    if (!this.versionChecked) {
      await assertRedisVersion(this.commands);
      this.versionChecked = true;
    }
  }

  whenReady(): Promise<void> {
    return this.connect();
  }

  async ensureGroup(topic: string, group: string): Promise<void> {
    await this.whenReady();
    const pipeline = this.commands.pipeline();
    groupKeys(this.keyPrefix, topic, group).streams.forEach((stream, index) => {
      pipeline.xgroup("CREATE", stream, group, isRetryStream(index) ? "0" : "$", "MKSTREAM");
    });
    const results = await bounded(pipeline.exec(), this.operationTimeoutMs, "XGROUP CREATE");
    for (const [error] of results ?? []) {
      if (error && !error.message.startsWith("BUSYGROUP")) throw error;
    }
  }

  async publish(topic: string, messages: WireMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.whenReady();
    const pipeline = this.commands.pipeline();
    for (const message of messages) pipeline.xadd(topicStreamKey(this.keyPrefix, topic, message.priority), "*", ...toFields(message));
    if (this.options.minReplicas > 0) pipeline.wait(this.options.minReplicas, this.operationTimeoutMs);
    const results = (await bounded(pipeline.exec(), this.operationTimeoutMs + 1_000, "a publish")) ?? [];
    for (const [error] of results) if (error) throw unavailable(`Redis refused a publish: ${error.message}`, error);
    if (this.options.minReplicas > 0) {
      const replicas = Number(results.at(-1)?.[1] ?? 0);
      if (replicas < this.options.minReplicas) {
        throw unavailable(`Only ${replicas} of ${this.options.minReplicas} Redis replicas confirmed the publish within ${this.operationTimeoutMs} ms`);
      }
    }
    this.trimSometimes(topic);
  }

  /** Publishers trim each topic now and then, so a topic nobody consumes is trimmed too. */
  private trimSometimes(topic: string): void {
    const now = Date.now();
    if (now - (this.lastTrimAt.get(topic) ?? 0) < TRIM_EVERY_MS) return;
    this.lastTrimAt.set(topic, now);
    this.trimTopic(topic).catch((error: unknown) => this.reportError(error));
  }

  /**
   * Removes the topic's entries that every group has settled (all of them if the topic has no
   * group: a new group starts at the end). Returns how many went.
   */
  async trimTopic(topic: string): Promise<number> {
    await this.whenReady();
    const trims = priorities.map((priority) => trimScript.run(this.commands, [topicStreamKey(this.keyPrefix, topic, priority)], []));
    const removed = await bounded(Promise.all(trims), this.operationTimeoutMs, "a trim");
    return removed.reduce<number>((sum, count) => sum + Number(count), 0);
  }

  async consume(spec: ConsumeSpec, onDelivery: (delivery: BrokerDelivery) => void): Promise<ConsumerHandle> {
    if (!Number.isInteger(spec.prefetch) || spec.prefetch < 1) throw new RangeError(`prefetch must be a positive integer (got ${spec.prefetch})`);
    await this.whenReady();
    for (const done of [...this.consumers].filter((consumer) => consumer.finished)) this.consumers.delete(done);
    const consumer = new StreamConsumer(this, spec, onDelivery);
    this.consumers.add(consumer);
    try {
      await consumer.start();
    } catch (error) {
      this.consumers.delete(consumer);
      await consumer.dispose();
      throw unavailable(`Could not start consuming ${spec.topic} as ${spec.group}`, error);
    }
    return { stop: () => consumer.stop() };
  }

  async redeliver(topic: string, group: string, message: WireMessage): Promise<void> {
    await this.whenReady();
    const stream = groupKeys(this.keyPrefix, topic, group).retryStreams[priorities.indexOf(message.priority)] as string;
    await bounded(this.commands.xadd(stream, "*", ...toFields(message, 1)), this.operationTimeoutMs, "a redelivery");
  }

  async figures(topic: string, group: string): Promise<QueueFigures> {
    await this.whenReady();
    const keys = groupKeys(this.keyPrefix, topic, group);
    const pipeline = this.commands.pipeline();
    for (const stream of keys.streams) pipeline.xinfo("GROUPS", stream);
    for (const stream of keys.retryStreams) pipeline.xlen(stream);
    pipeline.zcard(keys.delayed);
    const results = (await bounded(pipeline.exec(), this.operationTimeoutMs, "figures")) ?? [];
    let pending = 0;
    let lag = 0;
    keys.streams.forEach((_, index) => {
      const [error, groups] = results[index] ?? [];
      // A stream that does not exist yet ("no such key") holds nothing for anyone.
      if (error) return;
      const info = findGroup(groups, group);
      if (!info) return;
      pending += info.pending;
      if (isRetryStream(index)) {
        // Acked retry entries are deleted, so everything else in the stream is still to hand out.
        // (XINFO cannot compute lag across deletions.)
        const length = Number(results[keys.streams.length + (index >> 1)]?.[1] ?? 0);
        lag += Math.max(0, length - info.pending);
      } else {
        lag += info.lag ?? 0;
      }
    });
    lag += Number(results.at(-1)?.[1] ?? 0);
    return { depth: lag + pending, lag, inFlight: pending };
  }

  async ping(): Promise<void> {
    await this.whenReady();
    await bounded(this.commands.ping(), this.operationTimeoutMs, "PING");
  }

  ack(target: AckTarget, entryId: string): Promise<void> {
    return this.acks.add(target, entryId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((consumer) => consumer.dispose()));
    this.consumers.clear();
    await this.acks.drain();
    await bounded(this.commands.quit(), this.operationTimeoutMs, "QUIT").catch(() => this.commands.disconnect());
  }
}

interface GroupInfo {
  pending: number;
  lag: number | null;
}

/** XINFO GROUPS replies with one flat [field, value, ...] array per group. */
function findGroup(groups: unknown, name: string): GroupInfo | undefined {
  if (!Array.isArray(groups)) return undefined;
  for (const flat of groups as unknown[][]) {
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]);
    if (fields.get("name") !== name) continue;
    const lag = fields.get("lag");
    return { pending: Number(fields.get("pending") ?? 0), lag: lag === null || lag === undefined ? null : Number(lag) };
  }
  return undefined;
}

/**
 * Acks made in the same moment (one turn of the event loop) go to Redis together: one pipeline,
 * one XACK per stream with every id (plus XDEL on retry streams).
 *
 * An ack resolves as soon as it is queued while the connection is up, without waiting for the
 * pipeline or Redis' reply, as AMQP's basic.ack (which has no reply at all): the Subscriber keeps
 * a key's next message and a handler slot until the ack resolves, so waiting would cap throughput
 * at `concurrency` messages per event-loop turn or round trip. Should an XACK still be lost, the
 * entry stays pending and goes back to the group after `redeliveryAfterMs` (at-least-once);
 * failures go to `onError`. While the connection is down, an ack waits for it up to
 * `operationTimeoutMs`, then rejects.
 */
class AckBatcher {
  private batches = new Map<AckTarget, string[]>();
  private flushing: Promise<void> | undefined;
  private readonly replies = new Set<Promise<unknown>>();

  constructor(private readonly driver: RedisStreamsDriver) {}

  add(target: AckTarget, entryId: string): Promise<void> {
    if (this.driver.commands.status !== "ready") return this.driver.whenReady().then(() => this.add(target, entryId));
    const ids = this.batches.get(target);
    if (ids) ids.push(entryId);
    else this.batches.set(target, [entryId]);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
    return QUEUED;
  }

  /** Sends what is queued and waits (bounded) for the replies of everything sent. */
  async drain(): Promise<void> {
    await this.flushing;
    await bounded(Promise.allSettled([...this.replies]), this.driver.operationTimeoutMs, "acks").catch(() => undefined);
  }

  private async flush(): Promise<void> {
    const batches = this.batches;
    this.batches = new Map();
    this.flushing = undefined;
    try {
      // The connection may have dropped since the acks were queued: wait for it, bounded. (Not
      // the driver's connect(): acks queued before close() still go out while it closes.)
      await whenReady(this.driver.commands, this.driver.operationTimeoutMs);
    } catch (error) {
      this.driver.reportError(error);
      return;
    }
    const pipeline = this.driver.commands.pipeline();
    for (const [{ stream, group, deleteEntries }, ids] of batches) {
      pipeline.xack(stream, group, ...ids);
      if (deleteEntries) pipeline.xdel(stream, ...ids);
    }
    const replies = pipeline.exec().then(
      (results) => {
        for (const [error] of results ?? []) if (error) this.driver.reportError(error);
      },
      (error: unknown) => this.driver.reportError(error),
    );
    this.replies.add(replies);
    void replies.finally(() => this.replies.delete(replies));
  }
}

const QUEUED = Promise.resolve();
