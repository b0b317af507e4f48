import { randomBytes } from "node:crypto";
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
 * Each operation is one call of a function of migrations 0011 to 0013, where the SQL and its
 * reasons are.
 *
 * - publish (`eventloom_transport_publish`): writes a row for every group of the topic (the groups
 *   `ensureGroup` registered), ids in publish order, and NOTIFYs the topic; resolves on commit.
 * - claim (`eventloom_transport_claim`): hands the consumer up to its free prefetch slots of rows,
 *   highest priority first, then publish order, never a row another live consumer holds nor one
 *   whose key it holds (key affinity). What a consumer holds (row ids, keys) is its row in
 *   `eventloom_transport_consumers`, alive for `redeliveryAfterMs` and renewed while the consumer
 *   runs, so only a consumer that is gone (crashed, closed, cut off) loses its rows: they are
 *   handed out again, attempt counted up, once its row lapses.
 * - settle (`eventloom_transport_settle`): ack deletes the row; retry counts the delivery and
 *   makes the row due after the delay; both find the row by the TID the claim handed out. The
 *   settles made while one is in flight go out together.
 * - wake-ups: LISTEN (on a server) and an in-process signal for publishes, a timer for each retry
 *   this process made, and a poll every `pollIntervalMs` for anything else (another process's
 *   retry coming due, another consumer lapsing, a notification lost with a connection).
 */

export interface PostgresDriverOptions {
  /** An open Database (the process's own): the driver leaves it open when it closes. */
  database?: Database;
  /** Or a server URL: the driver opens a Database of its own, and closes it. */
  databaseUrl?: string;
  /** Connections of the Database opened from `databaseUrl`. Default 4. */
  poolSize?: number;
  /**
   * How long a consumer holds its deliveries without renewing: a crashed consumer's messages go
   * to another after this. Renewed every third of it. Default 30 s.
   */
  redeliveryAfterMs?: number;
  /** The fallback poll of every consumer. Default 250 ms. */
  pollIntervalMs?: number;
  /** A claim, settle or renewal failing (each reported once until it works again). Default: console.error. */
  onError?(error: unknown): void;
}

/** Also named in eventloom_transport_publish (migration 0013), as are its payloads: origin, newline, topic. */
const NOTIFY_CHANNEL = "eventloom_transport";
const DEFAULT_REDELIVERY_AFTER_MS = 30_000;
const DEFAULT_POLL_INTERVAL_MS = 250;
const DEFAULT_POOL_SIZE = 4;
/** Settle statements one consumer has in flight at most. */
const SETTLES_IN_FLIGHT = 2;
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
    // Renewed every third of this: much shorter, and renewals would be a good part of the traffic.
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
 * the NOTIFY to come back from the server (on PGlite, with no LISTEN, the only signal). The
 * NOTIFY names the Database it came from (`origin`), so that its own listeners skip it.
 */
interface LocalSignals {
  readonly origin: string;
  readonly listeners: Set<(topic: string) => void>;
}

const localSignals = new WeakMap<Database, LocalSignals>();

function signalsOf(database: Database): LocalSignals {
  let signals = localSignals.get(database);
  if (!signals) localSignals.set(database, (signals = { origin: randomBytes(8).toString("hex"), listeners: new Set() }));
  return signals;
}

function signalLocally(database: Database, topic: string): void {
  for (const listener of signalsOf(database).listeners) listener(topic);
}

interface ClaimedRow {
  id: string | number;
  /** Where the row is: a claim writes nothing to it, so this holds until it is settled. */
  tid: string;
  message_id: string;
  key: string;
  priority: number;
  headers: Record<string, string>;
  body: string;
  attempt: number;
}

/** What settling a delivery names: its row, by TID (checked against its id). */
interface DeliveryRow {
  id: string;
  tid: string;
}

/** Hand-out order: priority, then publish order (ids are int8 text, so longer is larger). */
function handOutOrder(a: ClaimedRow, b: ClaimedRow): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  const x = String(a.id);
  const y = String(b.id);
  return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
}

const NEEDS_ESCAPE = /[\\"]/;

/** An array literal (text[], bigint[], tid[]): one parameter however many values, on both drivers. */
function arrayLiteral(values: Iterable<string>): string {
  let literal = "{";
  for (const value of values) {
    if (literal.length > 1) literal += ",";
    literal += `"${NEEDS_ESCAPE.test(value) ? value.replace(/[\\"]/g, "\\$&") : value}"`;
  }
  return `${literal}}`;
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
        signalsOf(opened).listeners.add(this.onSignal);
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
    const { origin } = signalsOf(database);
    const onNotify = (payload: string): void => {
      const newline = payload.indexOf("\n");
      // Our own Database's publishes woke us already.
      if (payload.slice(0, newline) !== origin) this.onSignal(payload.slice(newline + 1));
    };
    this.listening ??= database.listen(NOTIFY_CHANNEL, onNotify).catch((error: unknown) => {
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
    const database = await this.database();
    await database.rows(sql`select eventloom_transport_publish(${topic}, ${input}::text::jsonb, ${signalsOf(database).origin})`);
    signalLocally(database, topic);
  }

  async redeliver(topic: string, group: string, message: WireMessage): Promise<void> {
    const database = await this.database();
    await database.rows(sql`
      with inserted as (
        insert into ${transportMessages} (topic, group_name, message_id, key, priority, headers, body)
        values (${topic}, ${group}, ${message.id}, ${message.key}, ${levelOf(message.priority)},
                ${JSON.stringify(message.headers)}::text::jsonb, ${message.body})
        returning 1
      )
      select pg_notify(${NOTIFY_CHANNEL}, ${signalsOf(database).origin} || chr(10) || ${topic}) from inserted`);
    signalLocally(database, topic);
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
    // In flight: the rows the live consumers list that are still there and not waiting for a
    // retry (a consumer lists the rows it settled until its next claim), each looked up on the
    // index (every priority).
    const [row] = await this.rows<{ depth: number | string; in_flight: number | string }>(sql`
      select (select count(*) from ${transportMessages} m where m.topic = ${topic} and m.group_name = ${group}) as depth,
             (select count(*) from ${transportMessages} m
               where m.topic = ${topic} and m.group_name = ${group} and m.priority = any('{0,1,2}'::smallint[])
                 and m.available_at <= now()
                 and m.id = any(array(select unnest(c.ids) from ${transportConsumers} c
                                      where c.topic = ${topic} and c.group_name = ${group} and c.expires_at > now()))) as in_flight`);
    const depth = Number(row?.depth ?? 0);
    const inFlight = Number(row?.in_flight ?? 0);
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
    signalsOf(database).listeners.delete(this.onSignal);
    const unlisten = await this.listening?.catch(() => undefined);
    await unlisten?.().catch(() => {});
    if (!this.options.database) await database.close();
  }

  /** Hands up to `limit` rows of its group to a consumer, which holds `held` already. */
  async claim(spec: ConsumeSpec, held: Iterable<{ id: string; message: WireMessage }>, limit: number): Promise<ClaimedRow[]> {
    const ids: string[] = [];
    const keys = new Set<string>();
    for (const delivery of held) {
      ids.push(delivery.id);
      keys.add(delivery.message.key);
    }
    const rows = await this.rows<ClaimedRow>(
      sql`select * from eventloom_transport_claim(${spec.topic}, ${spec.group}, ${spec.consumer}, ${arrayLiteral(keys)}::text[],
            ${arrayLiteral(ids)}::bigint[], ${limit}::integer, ${this.options.redeliveryAfterMs}::integer)`,
    );
    return rows.sort(handOutOrder);
  }

  /** Acks (`delayMs` null) and retries deliveries. */
  async settle(settles: ReadonlyArray<{ delivery: DeliveryRow; delayMs: number | null }>): Promise<void> {
    const ackTids: string[] = [];
    const ackIds: string[] = [];
    const retries: Array<{ tid: string; id: string; delay_ms: number }> = [];
    for (const { delivery, delayMs } of settles) {
      if (delayMs === null) {
        ackTids.push(delivery.tid);
        ackIds.push(delivery.id);
      } else {
        retries.push({ tid: delivery.tid, id: delivery.id, delay_ms: delayMs });
      }
    }
    await this.rows(
      sql`select eventloom_transport_settle(${arrayLiteral(ackTids)}::tid[], ${arrayLiteral(ackIds)}::bigint[], ${JSON.stringify(retries)}::text::jsonb)`,
    );
  }

  /** Keeps a consumer alive (its deliveries its own) for another `redeliveryAfterMs`. */
  async renew(spec: ConsumeSpec): Promise<void> {
    // Not once it lapsed: a claim may have handed its rows out again.
    await this.rows(sql`
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
  delivery: PostgresDelivery;
  /** null: ack; a number: retry after that long. */
  delayMs: number | null;
  /** The caller waiting for it to be written (retries; acks do not wait). */
  waiting?: { resolve(): void; reject(error: unknown): void };
}

/**
 * One consumer. Its statements:
 * - claims, one at a time: when half the prefetch slots are free (or none is held), so that under
 *   load few claims carry many rows, or when the last claim was full (more may be waiting);
 * - settles, beside claims (so an ack never waits for a claim), up to SETTLES_IN_FLIGHT at once:
 *   the acks and retries made while those are in flight go out together in the next;
 * - a renewal of its row every third of `redeliveryAfterMs` while it holds anything.
 * Deliveries whose settle failed are given back (as a retry without delay) by a later settle, so
 * that they do not stay held by a consumer that lives on.
 *
 * An ack resolves once queued, as a RabbitMQ or Kafka ack does: the Subscriber holds a handler's
 * slot until its ack resolves, and waiting for the statement made concurrency / round trip the
 * ceiling of a consumer (measured: a fifth to a quarter less throughput at concurrency 64). The delivery
 * still counts against prefetch until its row is deleted; an ack that cannot be written is
 * reported to onError and the message is given back, to be delivered again (at-least-once); and
 * the driver's close() writes the acks queued before it. A retry resolves once written.
 */
class PostgresConsumer {
  readonly topic: string;
  /** Outstanding deliveries by row id. */
  private readonly held = new Map<string, PostgresDelivery>();
  private readonly claimThreshold: number;
  private readonly claimErrors: IncidentReporter;
  private readonly settleErrors: IncidentReporter;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private pending: PendingSettle[] = [];
  /** Deliveries whose settle failed, to give back. */
  private giveBack: PostgresDelivery[] = [];
  private active = false;
  private retired = false;
  private claiming: Promise<void> | undefined;
  private claimAgain = false;
  /** The last claim took as many rows as it asked for: more may be waiting. */
  private backlog = false;
  private recordDue = false;
  private readonly settling = new Set<Promise<void>>();
  private settleScheduled = false;
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
    this.settleErrors = new IncidentReporter(driver.options.onError);
  }

  start(): void {
    this.active = true;
    this.poller = setInterval(() => {
      this.wake();
      if (this.giveBack.length > 0) this.scheduleSettles();
    }, this.driver.options.pollIntervalMs);
    unref(this.poller);
    this.renewer = setInterval(() => void this.renew(), Math.floor(this.driver.options.redeliveryAfterMs / 3));
    unref(this.renewer);
    this.wake();
  }

  /**
   * Something may be waiting: claim now, or right after the claim in flight. `record`: claim even
   * with few or no slots free, to write the consumer's row again (after a retry, so that the
   * retried row no longer counts as held).
   */
  wake(record = false): void {
    if (!this.active) return;
    this.recordDue ||= record;
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
      const free = Math.max(0, this.spec.prefetch - this.held.size);
      const worthIt = free > 0 && (free >= this.claimThreshold || this.held.size === 0);
      const record = this.recordDue;
      if (!worthIt && !record) return;
      this.recordDue = false;
      let rows: ClaimedRow[];
      try {
        rows = await this.driver.claim(this.spec, [...this.held.values(), ...this.giveBack], free);
        this.claimErrors.recovered();
      } catch (error) {
        // The poll tries again; the rows stay where they are.
        this.claimErrors.failed(error);
        this.recordDue ||= record;
        return;
      }
      for (const row of rows) this.handOut(row);
      // A full batch suggests more are waiting; a short one, that the group is drained for now
      // (what comes next is signalled).
      this.backlog = free > 0 && rows.length === free;
      if (this.backlog) this.claimAgain = true;
    } while (this.claimAgain && this.active);
  }

  private handOut(row: ClaimedRow): void {
    const delivery = new PostgresDelivery(this, row);
    this.held.set(delivery.id, delivery);
    try {
      this.onDelivery(delivery);
    } catch {
      // The consumer's callback failing is the consumer's problem; the delivery stays outstanding.
    }
  }

  /** An ack (`delayMs` null) or a retry of one of its deliveries. */
  settle(delivery: PostgresDelivery, delayMs: number | null): Promise<void> {
    if (delivery.settled) return Promise.reject(new Error(`postgres transport: delivery of message ${delivery.message.id} is already settled`));
    if (this.driver.isClosed) return Promise.reject(new Error("postgres transport: the driver is closed"));
    delivery.settled = true;
    if (delayMs === null) {
      this.pending.push({ delivery, delayMs });
      this.scheduleSettles();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ delivery, delayMs, waiting: { resolve, reject } });
      this.scheduleSettles();
    });
  }

  /**
   * Settles of one burst of handlers share a statement: the first waits a turn for the others. Up
   * to SETTLES_IN_FLIGHT statements run at once, so that a settle waits for a statement in flight
   * only when that many are (until its row is written, its delivery holds a prefetch slot).
   */
  private scheduleSettles(): void {
    if (this.settleScheduled || this.settling.size >= SETTLES_IN_FLIGHT) return;
    this.settleScheduled = true;
    setImmediate(() => {
      this.settleScheduled = false;
      this.sendSettles();
    });
  }

  private sendSettles(): void {
    const settles = this.pending;
    const givenBack = this.giveBack;
    if (settles.length === 0 && givenBack.length === 0) return;
    this.pending = [];
    this.giveBack = [];
    const statement = this.writeSettles(settles, givenBack).finally(() => {
      this.settling.delete(statement);
      if (this.pending.length > 0) this.scheduleSettles();
      this.retireIfDrained();
    });
    this.settling.add(statement);
  }

  private async writeSettles(settles: PendingSettle[], givenBack: PostgresDelivery[]): Promise<void> {
    let failure: unknown;
    try {
      await this.driver.settle([
        ...settles.map(({ delivery, delayMs }) => ({ delivery, delayMs })),
        ...givenBack.map((delivery) => ({ delivery, delayMs: 0 })),
      ]);
      this.settleErrors.recovered();
    } catch (error) {
      // Retries fail to their callers; all the rows are given back by a later settle, on the poll
      // (the message comes again: at-least-once), an ack included, as it may have committed or not.
      failure = error;
      this.settleErrors.failed(error);
      this.giveBack.push(...givenBack, ...settles.map(({ delivery }) => delivery));
    }
    for (const settle of settles) this.finish(settle, failure);
    // Retried rows stay listed as the consumer's until its next claim: make it now. Otherwise the
    // freed slots are worth a claim only if the last one found more than it could take.
    const record = failure === undefined && (givenBack.length > 0 || settles.some(({ delayMs }) => delayMs !== null));
    if (record || this.backlog) this.wake(record);
  }

  private finish(settle: PendingSettle, error: unknown): void {
    this.held.delete(settle.delivery.id);
    if (error !== undefined) {
      settle.waiting?.reject(error);
      return;
    }
    settle.waiting?.resolve();
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
    if (this.held.size === 0 && this.giveBack.length === 0) return;
    try {
      await this.driver.renew(this.spec);
      this.settleErrors.recovered();
    } catch (error) {
      this.settleErrors.failed(error);
    }
  }

  /** Claims nothing more; what it holds stays its own until settled or abandoned. */
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
    while (this.settling.size > 0 || this.settleScheduled || this.pending.length > 0) {
      if (!this.settleScheduled) this.sendSettles();
      await Promise.all([...this.settling, new Promise((resolve) => setImmediate(resolve))]);
    }
  }

  /**
   * The driver is closing: stop renewing, so unsettled deliveries lapse and go to another
   * consumer, their keys held until then, as they would be after a crash.
   */
  abandon(): void {
    if (this.held.size === 0 && this.giveBack.length === 0) return;
    this.retired = true;
    this.held.clear();
    this.giveBack = [];
    if (this.renewer) clearInterval(this.renewer);
    this.retire();
  }

  private retireIfDrained(): void {
    const busy = this.held.size > 0 || this.giveBack.length > 0 || this.pending.length > 0 || this.claiming || this.settling.size > 0;
    if (this.active || this.retired || busy) return;
    this.retired = true;
    if (this.renewer) clearInterval(this.renewer);
    this.driver.release(this.spec);
    this.retire();
  }
}

/** One delivery: a row handed to a consumer, with the attempt it was handed out at. */
class PostgresDelivery implements BrokerDelivery, DeliveryRow {
  readonly id: string;
  readonly tid: string;
  readonly attempt: number;
  readonly message: WireMessage;
  settled = false;

  constructor(
    private readonly consumer: PostgresConsumer,
    row: ClaimedRow,
  ) {
    this.id = String(row.id);
    this.tid = row.tid;
    this.attempt = row.attempt;
    this.message = { id: row.message_id, key: row.key, priority: priorities[row.priority] ?? "normal", headers: row.headers, body: row.body };
  }

  ack(): Promise<void> {
    return this.consumer.settle(this, null);
  }

  retry(delayMs: number): Promise<void> {
    return this.consumer.settle(this, Math.min(MAX_DELAY_MS, Math.max(0, Math.ceil(Number.isFinite(delayMs) ? delayMs : 0))));
  }
}
