import type { Redis } from "ioredis";
import type { BrokerDelivery, ConsumeSpec, WireMessage } from "@/server/engine/transport/driver";
import { bounded, whenReady } from "./connection";
import { groupKeys, isRetryStream, STREAMS_PER_GROUP, streamPriority, type GroupKeys } from "./keys";
import { fetchPlanScript, heartbeatScript, promoteScript, pruneScript, retryScript } from "./scripts";
import { fromFields, toDelayedMember } from "./stream-fields";

/** What a consumer needs from its driver. */
export interface ConsumerContext {
  readonly commands: Redis;
  readonly keyPrefix: string;
  readonly redeliveryAfterMs: number;
  readonly operationTimeoutMs: number;
  /** A new connection of the driver's kind, for this consumer's blocking reads. */
  openConnection(name: string): Redis;
  ensureGroup(topic: string, group: string): Promise<void>;
  /** Acks (and deletes, on retry streams) an entry, batched with other acks of the same moment. */
  ack(target: AckTarget, entryId: string): Promise<void>;
  /** Waits, bounded, for the command connection. */
  whenReady(): Promise<void>;
  reportError(error: unknown): void;
}

/** Where a group's entries of one stream are acked. */
export interface AckTarget {
  readonly stream: string;
  readonly group: string;
  /** Retry streams belong to one group: their entries are deleted once acked. */
  readonly deleteEntries: boolean;
}

type StreamEntry = [id: string, fields: string[]];
type FetchPlan = [
  cursors: string[],
  claimed: Array<[streamIndex: number, entries: StreamEntry[], deliveryCounts: number[]]>,
  counts: number[],
  lastDeliveredIds: string[],
];

/** Due retries moved per promoter run; more waiting means it runs again at once. */
const PROMOTE_BATCH = 500;
/** How often a consumer looks for due retries nobody scheduled a timer for (their consumer died). */
const PROMOTE_IDLE_MS = 1_000;
/** Most ids per heartbeat script call (Lua's unpack limit is about 8,000). */
const HEARTBEAT_CHUNK = 1_000;
/** Crashed consumers are forgotten after being idle (and holding nothing) this many heartbeats. */
const PRUNE_AFTER_HEARTBEATS = 30;
const MAX_RECOVERY_PAUSE_MS = 2_000;

/**
 * One consumer of one group: a loop on its own connection (blocking reads need one) that hands
 * out deliveries while fewer than `prefetch` are outstanding.
 *
 * Each turn plans a fetch with a script that walks the group's six streams in order of
 * preference (high before normal before low, each priority's retry stream first) up to the free
 * slots: it reclaims entries of dead consumers (every `redeliveryAfterMs / 4`) and counts how many
 * new entries to read from each stream; one pipeline of XREADGROUPs then reads them. When there
 * is nothing, the loop waits in XREAD BLOCK on all six streams from the group's last delivered
 * ids, and plans again when something arrives. (A blocking XREADGROUP would take entries from
 * every stream that has some, beyond the free slots and regardless of priority.) Timers renew this consumer's deliveries (so only a dead consumer's are reclaimed),
 * promote due retries and forget crashed consumers.
 */
export class StreamConsumer {
  private readonly keys: GroupKeys;
  private readonly blocking: Redis;
  private readonly cursors: string[] = Array.from({ length: STREAMS_PER_GROUP }, () => "0-0");
  private readonly claimEveryMs: number;
  private readonly blockMs: number;
  private readonly heartbeatEveryMs: number;
  /** Deliveries handed out and not settled, per stream by entry id. */
  private readonly held: Array<Map<string, RedisDelivery>> = Array.from({ length: STREAMS_PER_GROUP }, () => new Map());
  private readonly ackTargets: AckTarget[];
  private outstanding = 0;
  private running = true;
  private lastClaimAt = 0;
  private recoveryPauseMs = 0;
  private heartbeats = 0;
  private maintaining = false;
  /** The blocking connection's CLIENT ID while it is known to be current, for CLIENT UNBLOCK. */
  private blockingClientId: number | undefined;
  private blocked = false;
  private wakeLoop: (() => void) | undefined;
  private wakeScheduled = false;
  private loop: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  /** Set when the loop must end even if Redis does not answer; then every wait ends at once. */
  private abandoned = false;
  private readonly abandonWaiters = new Set<() => void>();
  private promoteTimer: NodeJS.Timeout | undefined;
  private promoteAt = Number.POSITIVE_INFINITY;
  private maintenanceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly context: ConsumerContext,
    private readonly spec: ConsumeSpec,
    private readonly onDelivery: (delivery: BrokerDelivery) => void,
  ) {
    this.keys = groupKeys(context.keyPrefix, spec.topic, spec.group);
    this.ackTargets = this.keys.streams.map((stream, index) => ({ stream, group: spec.group, deleteEntries: isRetryStream(index) }));
    const redeliveryAfterMs = context.redeliveryAfterMs;
    this.claimEveryMs = Math.min(5_000, Math.max(10, Math.round(redeliveryAfterMs / 4)));
    // The loop looks for dead consumers' entries when it wakes, so it never blocks longer.
    this.blockMs = this.claimEveryMs;
    this.heartbeatEveryMs = Math.max(10, Math.round(redeliveryAfterMs / 3));
    this.blocking = context.openConnection(`eventloom:consume:${spec.group}:${spec.consumer}`);
    this.blocking.on("close", () => {
      this.blockingClientId = undefined;
    });
  }

  async start(): Promise<void> {
    await this.blocking.connect();
    this.loop = this.run();
    this.maintenanceTimer = setInterval(() => void this.maintain(), this.heartbeatEveryMs);
    this.schedulePromote(0);
  }

  /** Stopped, with every delivery settled: nothing left to renew. */
  get finished(): boolean {
    return !this.running && this.outstanding === 0;
  }

  /** Stops fetching; resolves when nothing more will be handed out. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Stops, and also stops renewing deliveries still outstanding (the driver is closing). */
  async dispose(): Promise<void> {
    await this.stop();
    clearInterval(this.maintenanceTimer);
  }

  private async shutdown(): Promise<void> {
    this.running = false;
    clearTimeout(this.promoteTimer);
    this.wakeLoop?.();
    if (this.blocked && this.blockingClientId !== undefined) {
      await bounded(this.context.commands.client("UNBLOCK", this.blockingClientId), this.context.operationTimeoutMs, "CLIENT UNBLOCK").catch(() => undefined);
    }
    // Normally the loop ends at once (a fetch in progress still hands out what it took). If the
    // connection is down, a fetch can hang until it is back: give up after one blocking wait;
    // whatever that fetch took goes to another consumer after `redeliveryAfterMs`.
    await Promise.race([this.loop, delay(this.blockMs + 100)]);
    this.abandoned = true;
    for (const abandon of this.abandonWaiters) abandon();
    this.abandonWaiters.clear();
    await this.loop;
    this.blocking.disconnect();
    if (this.outstanding === 0) clearInterval(this.maintenanceTimer);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.turn();
        this.recoveryPauseMs = 0;
      } catch (error) {
        if (!this.running) break;
        await this.recover(error);
      }
    }
  }

  private async turn(): Promise<void> {
    const free = this.spec.prefetch - this.outstanding;
    if (free <= 0) {
      await new Promise<void>((resolve) => {
        this.wakeLoop = resolve;
      });
      this.wakeLoop = undefined;
      return;
    }
    if (this.blockingClientId === undefined) this.blockingClientId = await this.untilStopped(this.blocking.client("ID"));
    if (!this.running) return;
    const claim = Date.now() - this.lastClaimAt >= this.claimEveryMs;
    if (claim) this.lastClaimAt = Date.now();
    const lastDeliveredIds = await this.fetch(free, claim);
    if (lastDeliveredIds && this.running) await this.waitForEntries(lastDeliveredIds);
  }

  /** Takes up to `count` entries; when there were none, returns where to wait from. */
  private async fetch(count: number, claim: boolean): Promise<string[] | undefined> {
    const { group, consumer } = this.spec;
    const plan = (await this.untilStopped(
      fetchPlanScript.run(this.blocking, this.keys.streams, [group, consumer, count, claim ? this.context.redeliveryAfterMs : 0, ...this.cursors]),
    )) as FetchPlan | undefined;
    if (plan === undefined) return undefined;
    const [cursors, claimed, counts, lastDeliveredIds] = plan;
    cursors.forEach((cursor, index) => {
      this.cursors[index] = cursor;
    });
    const reading = counts.flatMap((entries, streamIndex) => (entries > 0 ? [streamIndex] : []));
    if (claimed.length === 0 && reading.length === 0) return lastDeliveredIds;

    const pipeline = this.blocking.pipeline();
    for (const streamIndex of reading) {
      pipeline.xreadgroup("GROUP", group, consumer, "COUNT", counts[streamIndex] as number, "STREAMS", this.keys.streams[streamIndex] as string, ">");
    }
    const reads = reading.length === 0 ? [] : ((await this.untilStopped(pipeline.exec())) ?? []);
    // Hand out in order of preference: per stream, reclaimed entries (older) before new ones.
    for (let streamIndex = 0; streamIndex < STREAMS_PER_GROUP; streamIndex += 1) {
      for (const [claimedFrom, entries, deliveryCounts] of claimed) {
        if (claimedFrom !== streamIndex) continue;
        entries.forEach((entry, position) => this.handOut(streamIndex, entry, deliveryCounts[position] ?? 1));
      }
      const readAt = reading.indexOf(streamIndex);
      if (readAt < 0) continue;
      const [error, reply] = reads[readAt] ?? [];
      if (error) throw error;
      const entries = (reply as Array<[key: string, entries: StreamEntry[]]> | null)?.[0]?.[1] ?? [];
      for (const entry of entries) this.handOut(streamIndex, entry, 1);
    }
    return undefined;
  }

  /** Blocks until one of the streams has an entry after the group's last delivered one, or a while passed. */
  private async waitForEntries(lastDeliveredIds: string[]): Promise<void> {
    this.blocked = true;
    try {
      await this.untilStopped(this.blocking.xread("COUNT", 1, "BLOCK", this.blockMs, "STREAMS", ...this.keys.streams, ...lastDeliveredIds));
    } finally {
      this.blocked = false;
    }
  }

  private handOut(streamIndex: number, [entryId, fields]: StreamEntry, deliveryCount: number): void {
    const held = this.held[streamIndex] as Map<string, RedisDelivery>;
    // Reclaimed from ourselves (a renewal came too late): it is still being handled here.
    if (held.has(entryId)) return;
    const { message, firstAttempt } = fromFields(fields, streamPriority(streamIndex));
    const delivery = new RedisDelivery(this, streamIndex, entryId, message, firstAttempt + deliveryCount - 1);
    held.set(entryId, delivery);
    this.outstanding += 1;
    try {
      this.onDelivery(delivery);
    } catch (error) {
      this.context.reportError(error);
    }
  }

  /** Called once per delivery when it is acked or retried. */
  settle(delivery: RedisDelivery): void {
    this.outstanding -= 1;
    this.held[delivery.streamIndex]?.delete(delivery.entryId);
    if (!this.running && this.outstanding === 0) clearInterval(this.maintenanceTimer);
    // Let the acks of the same moment land first, so the next fetch fills many slots at once.
    if (this.wakeLoop && !this.wakeScheduled) {
      this.wakeScheduled = true;
      setImmediate(() => {
        this.wakeScheduled = false;
        this.wakeLoop?.();
      });
    }
  }

  ack(delivery: RedisDelivery): Promise<void> {
    return this.context.ack(this.ackTargets[delivery.streamIndex] as AckTarget, delivery.entryId);
  }

  async retry(delivery: RedisDelivery, delayMs: number): Promise<void> {
    const waitMs = Math.max(0, Math.round(delayMs));
    const member = toDelayedMember(delivery.message, delivery.attempt + 1);
    await this.context.whenReady();
    await bounded(
      retryScript.run(
        this.context.commands,
        [this.keys.delayed, this.keys.streams[delivery.streamIndex] as string],
        [this.spec.group, delivery.entryId, waitMs, member, isRetryStream(delivery.streamIndex) ? "1" : "0"],
      ),
      this.context.operationTimeoutMs,
      "a retry",
    );
    if (this.running) this.schedulePromote(waitMs);
  }

  private schedulePromote(inMs: number): void {
    const at = Date.now() + inMs;
    if (this.promoteTimer !== undefined && at >= this.promoteAt) return;
    clearTimeout(this.promoteTimer);
    this.promoteAt = at;
    this.promoteTimer = setTimeout(() => void this.promote(), inMs);
  }

  private async promote(): Promise<void> {
    this.promoteTimer = undefined;
    this.promoteAt = Number.POSITIVE_INFINITY;
    let nextInMs = PROMOTE_IDLE_MS;
    try {
      await this.context.whenReady();
      const [moved, dueInMs] = (await bounded(
        promoteScript.run(this.context.commands, [this.keys.delayed, ...this.keys.retryStreams], [PROMOTE_BATCH]),
        this.context.operationTimeoutMs,
        "the retry promoter",
      )) as [number, number];
      if (moved === PROMOTE_BATCH) nextInMs = 0;
      else if (dueInMs >= 0) nextInMs = Math.min(dueInMs, PROMOTE_IDLE_MS);
    } catch (error) {
      this.context.reportError(error);
    }
    if (this.running) this.schedulePromote(nextInMs);
  }

  private async maintain(): Promise<void> {
    // During an outage a pass can outlast the interval: never run two at once.
    if (this.maintaining) return;
    this.maintaining = true;
    try {
      await this.renewHeld();
      this.heartbeats += 1;
      if (this.running && this.heartbeats % PRUNE_AFTER_HEARTBEATS === 0) await this.prune();
    } catch (error) {
      this.context.reportError(error);
    } finally {
      this.maintaining = false;
    }
  }

  /** Renews deliveries held longer than one heartbeat, so they are not taken for a dead consumer's. */
  private async renewHeld(): Promise<void> {
    const now = Date.now();
    const dueBefore = now - this.heartbeatEveryMs;
    const byStream = new Map<number, string[]>();
    this.held.forEach((deliveries, streamIndex) => {
      for (const delivery of deliveries.values()) {
        if (delivery.renewedAt > dueBefore) continue;
        delivery.renewedAt = now;
        const ids = byStream.get(streamIndex) ?? [];
        ids.push(delivery.entryId);
        byStream.set(streamIndex, ids);
      }
    });
    if (byStream.size === 0) return;
    await this.context.whenReady();
    const calls: Array<Promise<unknown>> = [];
    for (const [streamIndex, ids] of byStream) {
      for (let start = 0; start < ids.length; start += HEARTBEAT_CHUNK) {
        const chunk = ids.slice(start, start + HEARTBEAT_CHUNK);
        calls.push(heartbeatScript.run(this.context.commands, [this.keys.streams[streamIndex] as string], [this.spec.group, this.spec.consumer, ...chunk]));
      }
    }
    await bounded(Promise.all(calls), this.context.operationTimeoutMs, "a delivery renewal");
  }

  private async prune(): Promise<void> {
    await this.context.whenReady();
    const idleMs = this.heartbeatEveryMs * PRUNE_AFTER_HEARTBEATS;
    await bounded(
      Promise.all(this.keys.streams.map((stream) => pruneScript.run(this.context.commands, [stream], [this.spec.group, idleMs]))),
      this.context.operationTimeoutMs,
      "consumer pruning",
    );
  }

  private async recover(error: unknown): Promise<void> {
    this.blockingClientId = undefined;
    if (error instanceof Error && error.message.startsWith("NOGROUP")) {
      // The group's streams are gone (a Redis restart without persistence, a flush): recreate them.
      await this.context.ensureGroup(this.spec.topic, this.spec.group).catch((cause: unknown) => this.context.reportError(cause));
      return;
    }
    this.context.reportError(error);
    this.recoveryPauseMs = Math.min(MAX_RECOVERY_PAUSE_MS, Math.max(50, this.recoveryPauseMs * 2));
    await this.untilStopped(Promise.all([delay(this.recoveryPauseMs), whenReady(this.blocking, MAX_RECOVERY_PAUSE_MS).catch(() => undefined)]));
  }

  /**
   * The operation's result, or undefined once the loop is abandoned. (Not a race against one
   * long-lived promise: every call would leave a reaction on it until shutdown.)
   */
  private untilStopped<T>(operation: Promise<T>): Promise<T | undefined> {
    if (this.abandoned) {
      operation.catch(() => undefined);
      return Promise.resolve(undefined);
    }
    return new Promise<T | undefined>((resolve, reject) => {
      const abandon = () => resolve(undefined);
      this.abandonWaiters.add(abandon);
      operation.then(
        (value) => {
          this.abandonWaiters.delete(abandon);
          resolve(value);
        },
        (error: unknown) => {
          this.abandonWaiters.delete(abandon);
          reject(error);
        },
      );
    });
  }
}

class RedisDelivery implements BrokerDelivery {
  private settled = false;
  /** When this consumer last told Redis it still holds the entry (handing out counts). */
  renewedAt = Date.now();

  constructor(
    private readonly consumer: StreamConsumer,
    readonly streamIndex: number,
    readonly entryId: string,
    readonly message: WireMessage,
    readonly attempt: number,
  ) {}

  ack(): Promise<void> {
    this.settle();
    return this.consumer.ack(this);
  }

  retry(delayMs: number): Promise<void> {
    this.settle();
    return this.consumer.retry(this, delayMs);
  }

  /** Frees the slot once, even if a failed ack or retry is called again. */
  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.consumer.settle(this);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
