import { sql, type SQL } from "drizzle-orm";
import { levelOf } from "@/server/engine/bus/scheduler";
import { priorities } from "@/server/engine/core/envelope";
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
import { openDatabase, type Database } from "../database";
import { transportConsumers, transportGroups, transportMessages } from "../schema";

/**
 * The Postgres transport: a work queue in `eventloom_transport_messages`, one row per (group,
 * message), the same code on PGlite (the embedded default) and on a server shared by processes.
 * Each operation is one call of a function of migration 0006, where the SQL and its reasons are.
 *
 * - publish (`eventloom_transport_publish`): writes a row for every group of the topic (the groups
 *   `ensureGroup` registered), ids in publish order, and NOTIFYs the topic; resolves on commit.
 * - claim (`eventloom_transport_claim`): leases up to the consumer's free prefetch slots, highest
 *   priority first, then publish order, never a row whose key another live consumer holds (key
 *   affinity: each claim records the keys its consumer holds in `eventloom_transport_consumers`).
 *   A lease lasts `redeliveryAfterMs` and is renewed while the delivery is outstanding, so only a
 *   consumer that is gone (crashed, closed, cut off) loses its rows: they are claimed again,
 *   attempt counted up, once the lease lapses.
 * - settle (`eventloom_transport_settle`): ack deletes the row; retry clears the lease and makes
 *   the row due after the delay. The settles made while one is in flight go out together next.
 * - wake-ups: LISTEN (on a server) and an in-process signal for publishes, a timer for each retry
 *   this process made, and a poll every `pollIntervalMs` for anything else (another process's
 *   retry coming due, another consumer's lease lapsing, a notification lost with a connection).
 */

export interface PostgresDriverOptions {
  /** An open Database (the process's own): the driver leaves it open when it closes. */
  database?: Database;
  /** Or a server URL: the driver opens a Database of its own, and closes it. */
  databaseUrl?: string;
  /** Connections of the Database opened from `databaseUrl`. Default 4. */
  poolSize?: number;
  /**
   * How long a delivery stays leased to its consumer without a renewal: a crashed consumer's
   * messages go to another after this. Renewed every third of it. Default 30 s.
   */
  redeliveryAfterMs?: number;
  /** The fallback poll of every consumer. Default 250 ms. */
  pollIntervalMs?: number;
  /** A claim, lease renewal or LISTEN failing (each reported once until it works again). Default: console.error. */
  onError?(error: unknown): void;
}

/** Also named in eventloom_transport_publish (migration 0006). */
const NOTIFY_CHANNEL = "eventloom_transport";
const DEFAULT_REDELIVERY_AFTER_MS = 30_000;
const DEFAULT_POLL_INTERVAL_MS = 250;
const DEFAULT_POOL_SIZE = 4;
/** Longest delay a retry can take: `available_at` arithmetic is done in int4 milliseconds. */
const MAX_DELAY_MS = 2_147_483_647;

interface Resolved {
  database: Database | undefined;
  databaseUrl: string | undefined;
  poolSize: number;
  redeliveryAfterMs: number;
  pollIntervalMs: number;
  onError(error: unknown): void;
}

function resolveOptions(options: PostgresDriverOptions): Resolved {
  const fail = (option: string, rule: string, value: unknown): never => {
    throw new RangeError(`postgres transport: option ${option} must be ${rule}, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
  };
  const integer = (option: keyof PostgresDriverOptions, value: number | undefined, fallback: number, min: number, max = MAX_DELAY_MS): number => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < min || value > max) fail(option, `an integer from ${min} to ${max}`, value);
    return value;
  };
  if ((options.database === undefined) === (options.databaseUrl === undefined)) {
    throw new RangeError("postgres transport: give exactly one of the options database and databaseUrl");
  }
  if (options.databaseUrl !== undefined && !/^postgres(ql)?:\/\/./.test(options.databaseUrl)) {
    fail("databaseUrl", "a postgres:// or postgresql:// URL", options.databaseUrl);
  }
  if (options.poolSize !== undefined && options.databaseUrl === undefined) {
    throw new RangeError("postgres transport: option poolSize applies only with databaseUrl (a given database has its own pool)");
  }
  if (options.onError !== undefined && typeof options.onError !== "function") fail("onError", "a function", options.onError);
  return {
    database: options.database,
    databaseUrl: options.databaseUrl,
    poolSize: integer("poolSize", options.poolSize, DEFAULT_POOL_SIZE, 1, 100),
    // Leases are renewed every third of this, and at least one renewal must fit in a poll or two.
    redeliveryAfterMs: integer("redeliveryAfterMs", options.redeliveryAfterMs, DEFAULT_REDELIVERY_AFTER_MS, 100),
    pollIntervalMs: integer("pollIntervalMs", options.pollIntervalMs, DEFAULT_POLL_INTERVAL_MS, 10, 60_000),
    onError: options.onError ?? ((error) => console.error("postgres transport:", error)),
  };
}

export function createPostgresDriver(options: PostgresDriverOptions): PostgresDriver {
  return new PostgresDriver(resolveOptions(options));
}

/**
 * Publishes on one Database wake the consumers of every driver on it at once, without waiting for
 * the NOTIFY to come back from the server; on PGlite (no LISTEN) this is the only signal.
 */
const localSignals = new WeakMap<Database, Set<(topic: string) => void>>();

function signalLocally(database: Database, topic: string): void {
  for (const listener of localSignals.get(database) ?? []) listener(topic);
}

interface ClaimedRow {
  id: string | number;
  message_id: string;
  key: string;
  priority: number;
  headers: Record<string, string>;
  body: string;
  attempt: number;
}

/** Identifies one delivery of a row: a stale delivery (its lease lapsed and the row was claimed again) settles nothing. */
interface DeliveryRef {
  id: string;
  attempt: number;
}

/** A delivery this consumer holds. */
interface HeldDelivery extends DeliveryRef {
  key: string;
}

function countKey(counts: Map<string, number>, key: string, by: 1 | -1): void {
  const count = (counts.get(key) ?? 0) + by;
  if (count > 0) counts.set(key, count);
  else counts.delete(key);
}

/** A text[] literal: one parameter however many keys, on both drivers. */
function textArray(values: Iterable<string>): string {
  return `{${Array.from(values, (value) => `"${value.replace(/[\\"]/g, "\\$&")}"`).join(",")}}`;
}

/** Reports an error once, then stays quiet until `recovered()`: a poll failing every 250 ms is one incident. */
class IncidentReporter {
  private failing = false;
  constructor(private readonly report: (error: unknown) => void) {}

  failed(error: unknown): void {
    if (this.failing) return;
    this.failing = true;
    try {
      this.report(error);
    } catch {
      // A failing reporter must not take the consumer down.
    }
  }

  recovered(): void {
    this.failing = false;
  }
}

function unref(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}


export class PostgresDriver implements TransportDriver {
  readonly kind: TransportKind = "postgres";
  readonly capabilities: TransportCapabilities = { keyAffinity: true };
  private readonly consumers = new Set<PostgresConsumer>();
  private readonly onSignal = (topic: string): void => {
    for (const consumer of this.consumers) if (consumer.topic === topic) consumer.wake();
  };
  private opening: Promise<Database> | undefined;
  private listening: Promise<(() => Promise<void>) | undefined> | undefined;
  private closing: Promise<void> | undefined;
  private closed = false;
  /** Consumers' rows being deleted as they retire: the database stays open until they are. */
  private readonly releasing = new Set<Promise<unknown>>();

  constructor(readonly options: Resolved) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** The Database, opened on first use when the driver owns it (from `databaseUrl`). */
  private database(): Promise<Database> {
    if (this.closed) return Promise.reject(new Error("postgres transport: the driver is closed"));
    if (!this.opening) {
      const { database, databaseUrl, poolSize } = this.options;
      this.opening = (database ? Promise.resolve(database) : openDatabase({ databaseUrl, poolSize })).then((opened) => {
        let listeners = localSignals.get(opened);
        if (!listeners) localSignals.set(opened, (listeners = new Set()));
        listeners.add(this.onSignal);
        return opened;
      });
    }
    return this.opening;
  }

  private async rows<T>(query: SQL): Promise<T[]> {
    return (await this.database()).rows<T>(query);
  }

  async connect(): Promise<void> {
    const database = await this.database();
    await database.rows(sql`select 1`);
    if (!database.listen) return;
    this.listening ??= database.listen(NOTIFY_CHANNEL, this.onSignal).catch((error: unknown) => {
      // Not listening yet: the next connect() tries again; meanwhile consumers poll.
      this.listening = undefined;
      throw error;
    });
    await this.listening;
  }

  async ensureGroup(topic: string, group: string): Promise<void> {
    await this.rows(sql`insert into ${transportGroups} (topic, group_name) values (${topic}, ${group}) on conflict do nothing`);
  }

  async publish(topic: string, messages: WireMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const input = JSON.stringify(
      messages.map((message) => ({
        message_id: message.id,
        key: message.key,
        priority: levelOf(message.priority),
        headers: message.headers,
        body: message.body,
      })),
    );
    await this.rows(sql`select eventloom_transport_publish(${topic}, ${input}::text::jsonb)`);
    signalLocally(await this.database(), topic);
  }

  async redeliver(topic: string, group: string, message: WireMessage): Promise<void> {
    await this.rows(sql`
      with inserted as (
        insert into ${transportMessages} (topic, group_name, message_id, key, priority, headers, body)
        values (${topic}, ${group}, ${message.id}, ${message.key}, ${levelOf(message.priority)},
                ${JSON.stringify(message.headers)}::text::jsonb, ${message.body})
        returning 1
      )
      select pg_notify(${NOTIFY_CHANNEL}, ${topic}) from inserted`);
    signalLocally(await this.database(), topic);
  }

  async consume(spec: ConsumeSpec, onDelivery: (delivery: BrokerDelivery) => void): Promise<ConsumerHandle> {
    if (!Number.isInteger(spec.prefetch) || spec.prefetch < 1) throw new RangeError(`prefetch must be a positive integer, got ${spec.prefetch}`);
    await this.connect();
    const consumer = new PostgresConsumer(this, spec, onDelivery, () => this.consumers.delete(consumer));
    this.consumers.add(consumer);
    consumer.start();
    return {
      stop: async () => {
        await consumer.stop();
      },
    };
  }

  async figures(topic: string, group: string): Promise<QueueFigures> {
    // In flight is what the live consumers were handed and have not settled: counting leased rows
    // would read every row of the backlog, as nothing about leases is indexed.
    const [row] = await this.rows<{ depth: number | string; in_flight: number | string }>(sql`
      select (select count(*) from ${transportMessages} m where m.topic = ${topic} and m.group_name = ${group}) as depth,
             (select coalesce(sum(c.claimed - c.settled), 0) from ${transportConsumers} c
               where c.topic = ${topic} and c.group_name = ${group} and c.expires_at > now()) as in_flight`);
    const depth = Number(row?.depth ?? 0);
    // A delivery whose lease lapsed counts for its old consumer until that one settles or drops
    // it, and for its new one: never report more in flight than there is.
    const inFlight = Math.min(depth, Number(row?.in_flight ?? 0));
    return { depth, lag: depth - inFlight, inFlight };
  }

  async ping(): Promise<void> {
    await this.rows(sql`select 1`);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const consumers = [...this.consumers];
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    // Settles already made still go out; what is not settled by now lapses to another consumer.
    await Promise.all(consumers.map((consumer) => consumer.flushSettles()));
    for (const consumer of consumers) consumer.abandon();
    await Promise.allSettled(this.releasing);
    this.closed = true;
    if (!this.opening) return;
    const database = await this.opening.catch(() => undefined);
    if (!database) return;
    localSignals.get(database)?.delete(this.onSignal);
    const unlisten = await this.listening?.catch(() => undefined);
    await unlisten?.().catch(() => {});
    if (!this.options.database) await database.close();
  }

  /** Leases up to `limit` rows of its group to a consumer, recording the keys and count it holds. */
  claim(spec: ConsumeSpec, keys: Iterable<string>, held: number, limit: number): Promise<ClaimedRow[]> {
    return this.rows<ClaimedRow>(
      sql`select * from eventloom_transport_claim(${spec.topic}, ${spec.group}, ${spec.consumer}, ${textArray(keys)}::text[],
            ${held}::integer, ${limit}::integer, ${this.options.redeliveryAfterMs}::integer)`,
    );
  }

  /**
   * Acks and retries a consumer's deliveries, and counts them settled with `dropped` (see
   * eventloom_transport_settle in migration 0006).
   */
  async settle(spec: ConsumeSpec, settles: readonly PendingSettle[], dropped: number): Promise<void> {
    const input = JSON.stringify(settles.map(({ ref, delayMs }) => ({ id: ref.id, attempt: ref.attempt, delay_ms: delayMs })));
    await this.rows(
      sql`select eventloom_transport_settle(${spec.topic}, ${spec.group}, ${spec.consumer}, ${input}::text::jsonb, ${dropped}::integer)`,
    );
  }

  /** Extends the leases of the deliveries a consumer still holds, and its own. */
  async renew(spec: ConsumeSpec, refs: DeliveryRef[]): Promise<void> {
    await this.rows(sql`
      with renewed as (
        update ${transportMessages} m set lease_expires_at = now() + ${this.options.redeliveryAfterMs}::integer * interval '1 millisecond'
          from jsonb_to_recordset(${JSON.stringify(refs)}::text::jsonb) as r(id bigint, attempt integer)
         where m.id = r.id and m.attempt = r.attempt and m.lease_expires_at > now()
      )
      update ${transportConsumers} c set expires_at = now() + ${this.options.redeliveryAfterMs}::integer * interval '1 millisecond'
       where c.topic = ${spec.topic} and c.group_name = ${spec.group} and c.consumer = ${spec.consumer} and c.expires_at > now()`);
  }

  /** A consumer stopped and holding nothing: its keys are free at once. */
  release(spec: ConsumeSpec): void {
    // Closed: the row expires by itself.
    if (this.closed) return;
    const deleting = this.rows(
      sql`delete from ${transportConsumers} c where c.topic = ${spec.topic} and c.group_name = ${spec.group} and c.consumer = ${spec.consumer}`,
    ).catch((error: unknown) => this.options.onError(error));
    this.releasing.add(deleting);
    void deleting.finally(() => this.releasing.delete(deleting));
  }
}

interface PendingSettle {
  ref: HeldDelivery;
  /** null: ack; a number: retry after that long. */
  delayMs: number | null;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * One consumer, with two lanes of statements, each one statement at a time:
 * - claims: when half the prefetch slots are free (or none is held), so that under load few
 *   claims carry many rows; each records the keys the consumer holds (see migration 0006);
 * - settles and lease renewals: the acks and retries made while one statement is in flight go out
 *   together in the next. They run beside claims (they touch only rows this consumer holds, which
 *   no claim takes), so an ack never waits for a claim; they run in turn with each other, as a
 *   renewal beside a settle would lock the same rows in another order.
 */
class PostgresConsumer {
  readonly topic: string;
  /** Outstanding deliveries: row id -> attempt. */
  private readonly held = new Map<string, number>();
  /** How many outstanding deliveries each key has. */
  private readonly heldKeys = new Map<string, number>();
  private readonly claimThreshold: number;
  private readonly claimErrors: IncidentReporter;
  private readonly renewErrors: IncidentReporter;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private pending: PendingSettle[] = [];
  /** Deliveries given up on after a failed settle, not yet counted as settled in the consumer's row. */
  private dropped = 0;
  private active = false;
  private retired = false;
  private claiming: Promise<void> | undefined;
  private claimAgain = false;
  private settling: Promise<void> | undefined;
  private settleScheduled = false;
  private renewDue = false;
  private poller: ReturnType<typeof setInterval> | undefined;
  private renewer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly driver: PostgresDriver,
    private readonly spec: ConsumeSpec,
    private readonly onDelivery: (delivery: BrokerDelivery) => void,
    /** Called once the consumer is stopped and holds nothing, or is abandoned: the driver forgets it. */
    private readonly retire: () => void,
  ) {
    this.topic = spec.topic;
    this.claimThreshold = Math.ceil(spec.prefetch / 2);
    this.claimErrors = new IncidentReporter(driver.options.onError);
    this.renewErrors = new IncidentReporter(driver.options.onError);
  }

  start(): void {
    this.active = true;
    this.poller = setInterval(() => this.wake(), this.driver.options.pollIntervalMs);
    unref(this.poller);
    this.renewer = setInterval(() => {
      this.renewDue = true;
      this.scheduleSettles();
    }, Math.floor(this.driver.options.redeliveryAfterMs / 3));
    unref(this.renewer);
    this.wake();
  }

  /** Something may be waiting: claim now, or right after the claim in flight. */
  wake(): void {
    if (!this.active) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claiming = this.claimWhileFree().finally(() => {
      this.claiming = undefined;
      this.retireIfDrained();
    });
  }

  private async claimWhileFree(): Promise<void> {
    do {
      this.claimAgain = false;
      const free = this.spec.prefetch - this.held.size;
      if (free <= 0 || (free < this.claimThreshold && this.held.size > 0)) return;
      let rows: ClaimedRow[];
      try {
        rows = await this.driver.claim(this.spec, this.heldKeys.keys(), this.held.size, free);
        this.claimErrors.recovered();
      } catch (error) {
        // The poll tries again; the rows stay where they are.
        this.claimErrors.failed(error);
        return;
      }
      for (const row of rows) this.handOut(row);
      // A full batch suggests more are waiting.
      if (rows.length === free) this.claimAgain = true;
    } while (this.claimAgain && this.active);
  }

  private handOut(row: ClaimedRow): void {
    const ref: HeldDelivery = { id: String(row.id), attempt: row.attempt, key: row.key };
    this.held.set(ref.id, ref.attempt);
    countKey(this.heldKeys, ref.key, 1);
    let settled = false;
    const settle = (delayMs: number | null): Promise<void> => {
      if (settled) return Promise.reject(new Error(`postgres transport: delivery of message ${row.message_id} is already settled`));
      if (this.driver.isClosed) return Promise.reject(new Error("postgres transport: the driver is closed"));
      settled = true;
      return new Promise<void>((resolve, reject) => {
        this.pending.push({ ref, delayMs, resolve, reject });
        this.scheduleSettles();
      });
    };
    const delivery: BrokerDelivery = {
      message: { id: row.message_id, key: row.key, priority: priorities[row.priority] ?? "normal", headers: row.headers, body: row.body },
      attempt: row.attempt,
      ack: () => settle(null),
      retry: (delayMs: number) => settle(Math.min(MAX_DELAY_MS, Math.max(0, Math.ceil(Number.isFinite(delayMs) ? delayMs : 0)))),
    };
    try {
      this.onDelivery(delivery);
    } catch {
      // The consumer's callback failing is the consumer's problem; the delivery stays outstanding.
    }
  }

  /** Settles of one burst of handlers share a statement: the first waits a turn for the others. */
  private scheduleSettles(): void {
    if (this.settling || this.settleScheduled) return;
    this.settleScheduled = true;
    setImmediate(() => {
      this.settleScheduled = false;
      this.settling ??= this.settleWhilePending().finally(() => {
        this.settling = undefined;
        this.retireIfDrained();
      });
    });
  }

  private async settleWhilePending(): Promise<void> {
    while (this.pending.length > 0 || this.renewDue) {
      if (this.renewDue) await this.renew();
      const settles = this.pending;
      this.pending = [];
      if (settles.length === 0) continue;
      let failure: unknown;
      const dropped = this.dropped;
      try {
        await this.driver.settle(this.spec, settles, dropped);
        this.dropped -= dropped;
      } catch (error) {
        // They fail to their callers, and are no longer renewed: their leases lapse and the
        // messages come again (at-least-once). The next settle counts them settled.
        failure = error;
        this.dropped += settles.length;
      }
      for (const settle of settles) this.finish(settle, failure);
      this.wake();
    }
  }

  private finish(settle: PendingSettle, error: unknown): void {
    if (this.held.get(settle.ref.id) === settle.ref.attempt) {
      this.held.delete(settle.ref.id);
      countKey(this.heldKeys, settle.ref.key, -1);
    }
    if (error !== undefined) {
      settle.reject(error);
      return;
    }
    settle.resolve();
    if (settle.delayMs !== null) this.wakeAfter(settle.delayMs);
  }

  /** A retry this consumer made comes due: look for it then (others find it by polling). */
  private wakeAfter(delayMs: number): void {
    if (!this.active) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.wake();
    }, delayMs);
    unref(timer);
    this.timers.add(timer);
  }

  private async renew(): Promise<void> {
    this.renewDue = false;
    if (this.held.size === 0) return;
    try {
      await this.driver.renew(this.spec, [...this.held].map(([id, attempt]) => ({ id, attempt })));
      this.renewErrors.recovered();
    } catch (error) {
      this.renewErrors.failed(error);
    }
  }

  /** Claims nothing more; what it holds keeps its leases until settled or abandoned. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.poller) clearInterval(this.poller);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.claiming;
    this.retireIfDrained();
  }

  /** Resolves once every settle made so far has gone out. */
  async flushSettles(): Promise<void> {
    while (this.settling || this.settleScheduled || this.pending.length > 0) {
      this.scheduleSettles();
      await (this.settling ?? new Promise((resolve) => setImmediate(resolve)));
    }
  }

  /**
   * The driver is closing: stop renewing, so unsettled deliveries lapse and go to another consumer,
   * their keys held until then as they would be after a crash.
   */
  abandon(): void {
    if (this.held.size === 0) return;
    this.retired = true;
    this.held.clear();
    this.heldKeys.clear();
    if (this.renewer) clearInterval(this.renewer);
    this.retire();
  }

  private retireIfDrained(): void {
    if (this.active || this.retired || this.held.size > 0 || this.pending.length > 0 || this.claiming || this.settling) return;
    this.retired = true;
    if (this.renewer) clearInterval(this.renewer);
    this.driver.release(this.spec);
    this.retire();
  }
}
