import { and, eq, gt, gte, inArray, like, lte, or, sql, type SQL } from "drizzle-orm";
import type { EventEnvelope, Priority, StoredEvent } from "@/server/engine/core/envelope";
import { isUuid } from "@/server/engine/core/ids";
import { prepareAppend, toStoredEvent } from "@/server/engine/store/append-input";
import { AppendNotifier } from "@/server/engine/store/append-notifier";
import { checkLimit, scannedUpTo, timeBoundMs } from "@/server/engine/store/event-filter";
import type {
  AppendedEvent,
  AppendOutcome,
  CheckpointStore,
  EventStore,
  IdempotencyClaim,
  ReadAllFilter,
  ReadAllPage,
  ReadStreamOptions,
  StreamAppend,
} from "@/server/engine/store/event-store";
import type { Database, EventloomDb } from "./database";
import { checkpoints, events, idempotencyKeys, logHead, streams } from "./schema";

/** The NOTIFY channel of the append function (drizzle/0001_append_function.sql). */
const APPENDED_CHANNEL = "eventloom_appended";

/**
 * A stored event as the append function's `eventloom_event_json` renders it: the drizzle schema's
 * property names, the time already RFC 3339 UTC.
 */
interface EventRow {
  position: number;
  id: string;
  streamId: string;
  streamVersion: number;
  type: string;
  source: string;
  specversion: string;
  time: string;
  subject: string | null;
  datacontenttype: string;
  dataschema: string | null;
  data: unknown;
  correlationid: string;
  causationid: string | null;
  traceparent: string;
  tracestate: string | null;
  priority: string;
  partitionkey: string | null;
  schemaversion: number;
}

/** A stored event as every read selects it: EVENT_JSON's array, an EventRow's values in its order. */
type EventTuple = [
  position: number,
  id: string,
  streamId: string,
  streamVersion: number,
  type: string,
  source: string,
  specversion: string,
  time: string,
  subject: string | null,
  datacontenttype: string,
  dataschema: string | null,
  data: unknown,
  correlationid: string,
  causationid: string | null,
  traceparent: string,
  tracestate: string | null,
  priority: string,
  partitionkey: string | null,
  schemaversion: number,
];

/**
 * Reads select each event as one `json` array, which both drivers hand back parsed. Decoding is
 * most of a page read's CPU, and one JSON value per row costs about 30% less than the 19 columns
 * decoded one by one (docs/performance.md, CQRS); an array also spares parsing 19 keys per row.
 * Rows are read raw rather than through drizzle's row mapping, which cost several times the query
 * itself on 1,000-row pages.
 */
const EVENT_JSON = sql`json_build_array(${events.position}, ${events.id}, ${events.streamId}, ${events.streamVersion},
  ${events.type}, ${events.source}, ${events.specversion},
  to_char(${events.time} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  ${events.subject}, ${events.datacontenttype}, ${events.dataschema}, ${events.data}, ${events.correlationid},
  ${events.causationid}, ${events.traceparent}, ${events.tracestate}, ${events.priority}, ${events.partitionkey},
  ${events.schemaversion})`;

type AppendResult =
  | { status: "appended"; head: number; events: Array<[position: number, streamVersion: number] | EventRow> }
  | { status: "replayed"; events: EventRow[] }
  | { status: "conflict"; streamId: string; actual: number }
  | { status: "idempotency_mismatch" };

/**
 * EventStore on drizzle, the same code on PGlite and on a Postgres server. Appends are one call of
 * the `eventloom_append` function (one round trip, positions gap-free in commit order: see the
 * migration). `close()` stops listening but leaves the Database open: its opener owns it.
 */
export class PostgresEventStore implements EventStore {
  readonly checkpoints: CheckpointStore;
  readonly #db: EventloomDb;
  readonly #notifier = new AppendNotifier();
  /** Resolves to the LISTEN's stop function, or undefined where there is no LISTEN (PGlite) or it failed. */
  #listening: Promise<(() => Promise<void>) | undefined>;

  constructor(private readonly database: Database) {
    this.#db = database.db;
    this.checkpoints = new PostgresCheckpointStore(database.db);
    // Other processes' appends arrive as NOTIFY; polling readers cover the moments it is down.
    this.#listening = (database.listen?.(APPENDED_CHANNEL, (payload) => this.#notifier.notify(Number(payload))) ?? Promise.resolve(undefined)).catch(
      (error: unknown) => {
        console.error("event store: LISTEN failed, other processes' appends are seen by polling only", error);
        return undefined;
      },
    );
  }

  /** Resolves once other processes' appends wake `onAppended` listeners (at once on PGlite). */
  async whenListening(): Promise<void> {
    await this.#listening;
  }

  async append(appends: StreamAppend[], options: { idempotency?: IdempotencyClaim } = {}): Promise<AppendOutcome> {
    const prepared = prepareAppend(appends);
    const flat = prepared.flatMap(({ streamId, events: streamEvents }) => streamEvents.map((event) => ({ streamId, event })));
    const streamsJson = JSON.stringify(prepared.map(({ streamId, expectedVersion }) => ({ stream_id: streamId, expected: String(expectedVersion) })));
    // Envelope attribute names are the recordset's column names; keys it does not name are ignored.
    const eventsJson = JSON.stringify(flat.map(({ streamId, event }) => ({ ...event, stream_id: streamId })));
    const claim = options.idempotency;
    const [row] = await this.database.rows<{ result: AppendResult }>(
      sql`select eventloom_append(${streamsJson}::text::jsonb, ${eventsJson}::text::jsonb, ${claim?.key ?? null}::text, ${claim?.fingerprint ?? null}::text) as result`,
    );
    if (!row) throw new Error("eventloom_append returned no row");
    const result = row.result;
    switch (result.status) {
      case "idempotency_mismatch":
        return { status: "idempotency_mismatch", key: claim?.key ?? "" };
      case "replayed":
        return { status: "replayed", events: result.events.map(fromRow) };
      case "conflict": {
        const expected = prepared.find((append) => append.streamId === result.streamId)?.expectedVersion ?? "any";
        return { status: "conflict", streamId: result.streamId, expected, actual: result.actual };
      }
      case "appended": {
        const stored = result.events.map((answer, index): AppendedEvent => {
          if (!Array.isArray(answer)) return { ...fromRow(answer), duplicate: true };
          const { streamId, event } = flat[index] as { streamId: string; event: EventEnvelope };
          const [position, streamversion] = answer;
          return { ...toStoredEvent(event, { position, streamid: streamId, streamversion }), duplicate: false };
        });
        if (stored.some((event) => !event.duplicate)) this.#notifier.notify(result.head);
        return { status: "appended", events: stored };
      }
    }
  }

  async lookupIdempotency(claim: IdempotencyClaim): Promise<Extract<AppendOutcome, { status: "replayed" | "idempotency_mismatch" }> | undefined> {
    const [prior] = await this.#db
      .select({ fingerprint: idempotencyKeys.fingerprint, eventIds: idempotencyKeys.eventIds })
      .from(idempotencyKeys)
      .where(eq(idempotencyKeys.key, claim.key));
    if (!prior) return undefined;
    if (prior.fingerprint !== claim.fingerprint) return { status: "idempotency_mismatch", key: claim.key };
    const rows = await this.database.rows<{ event: EventTuple }>(
      sql`select ${EVENT_JSON} as "event" from ${events} where ${inArray(events.id, prior.eventIds)}`,
    );
    const byId = new Map(rows.map(({ event }) => [event[1], fromTuple(event)]));
    return { status: "replayed", events: prior.eventIds.flatMap((id) => byId.get(id) ?? []) };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    if (options.limit !== undefined) checkLimit(options.limit);
    const limit = options.limit === undefined ? sql`` : sql` limit ${options.limit}`;
    const rows = await this.database.rows<{ event: EventTuple }>(
      sql`select ${EVENT_JSON} as "event" from ${events}
          where ${and(eq(events.streamId, streamId), gte(events.streamVersion, options.fromVersion ?? 1))}
          order by ${events.streamVersion}${limit}`,
    );
    return rows.map(({ event }) => fromTuple(event));
  }

  async streamVersion(streamId: string): Promise<number> {
    const [row] = await this.#db.select({ version: streams.version }).from(streams).where(eq(streams.streamId, streamId));
    return row?.version ?? 0;
  }

  async readAll(filter: ReadAllFilter): Promise<ReadAllPage> {
    checkLimit(filter.limit);
    const fromMs = timeBoundMs(filter.from, "from");
    const toMs = timeBoundMs(filter.to, "to");
    const where = and(
      gt(events.position, filter.after ?? 0),
      filter.toPosition === undefined ? undefined : lte(events.position, filter.toPosition),
      typeCondition(filter.types),
      filter.subject === undefined ? undefined : eq(events.subject, filter.subject),
      filter.correlationid === undefined ? undefined : eq(events.correlationid, filter.correlationid),
      fromMs === undefined ? undefined : gte(events.time, new Date(fromMs)),
      toMs === undefined ? undefined : lte(events.time, new Date(toMs)),
    );
    // The head comes from the same statement, so the same snapshot as the page: an append commits
    // its events and the head together, so everything up to this head was visible to the page's
    // scan and `lastPosition` can claim it without skipping a transaction that commits a moment
    // later. The one-row VALUES keeps a row (with a null event) when nothing matched, and gives
    // the planner an exact row count: joining the head table instead made it guess thousands of
    // rows and pay for JIT compilation on every page. The drivers disagree on int8 (string or number).
    const rows = await this.database.rows<{ head: number | string; event: EventTuple | null }>(
      sql`select (select ${logHead.lastPosition} from ${logHead}) as "head", page."event"
          from (values (1)) as one_row(x)
          left join (select ${events.position} as "position", ${EVENT_JSON} as "event" from ${events}
                     where ${where} order by ${events.position} limit ${filter.limit}) as page on true
          order by page."position"`,
    );
    const head = Number(rows[0]?.head ?? 0);
    const found: StoredEvent[] = [];
    for (const { event } of rows) if (event !== null) found.push(fromTuple(event));
    const last = found[found.length - 1];
    return {
      events: found,
      lastPosition: last && found.length === filter.limit ? last.position : scannedUpTo(filter, head),
    };
  }

  async getById(id: string): Promise<StoredEvent | undefined> {
    const normalized = id.toLowerCase();
    // Not a uuid cannot be stored (the column would reject the comparison as an error).
    if (!isUuid(normalized)) return undefined;
    const [row] = await this.database.rows<{ event: EventTuple }>(sql`select ${EVENT_JSON} as "event" from ${events} where ${eq(events.id, normalized)}`);
    return row && fromTuple(row.event);
  }

  async headPosition(): Promise<number> {
    const [row] = await this.#db.select({ head: logHead.lastPosition }).from(logHead);
    return row?.head ?? 0;
  }

  onAppended(listener: (headPosition: number) => void): () => void {
    return this.#notifier.add(listener);
  }

  async ping(): Promise<void> {
    await this.database.rows(sql`select 1`);
  }

  async close(): Promise<void> {
    const unlisten = await this.#listening;
    this.#listening = Promise.resolve(undefined);
    await unlisten?.();
  }
}

/**
 * `exam.created` matches exactly, `exam.*` by prefix (LIKE, with `_`/`%`/`\` in the name escaped:
 * `a_b.*` must not match `axb.c`), `*` or no patterns match everything.
 */
function typeCondition(patterns: string[] | undefined): SQL | undefined {
  if (!patterns || patterns.length === 0 || patterns.includes("*")) return undefined;
  const exact = patterns.filter((pattern) => !pattern.endsWith(".*"));
  const prefixes = patterns.filter((pattern) => pattern.endsWith(".*")).map((pattern) => pattern.slice(0, -1));
  return or(
    exact.length > 0 ? inArray(events.type, exact) : undefined,
    ...prefixes.map((prefix) => like(events.type, `${prefix.replace(/[\\%_]/g, "\\$&")}%`)),
  );
}

function fromRow(row: EventRow): StoredEvent {
  return fromTuple([
    row.position, row.id, row.streamId, row.streamVersion, row.type, row.source, row.specversion, row.time, row.subject,
    row.datacontenttype, row.dataschema, row.data, row.correlationid, row.causationid, row.traceparent, row.tracestate,
    row.priority, row.partitionkey, row.schemaversion,
  ]);
}

function fromTuple([
  position, id, streamId, streamVersion, type, source, specversion, time, subject, datacontenttype, dataschema, data,
  correlationid, causationid, traceparent, tracestate, priority, partitionkey, schemaversion,
]: EventTuple): StoredEvent {
  const envelope: EventEnvelope = {
    specversion: specversion as EventEnvelope["specversion"],
    id,
    type,
    source,
    time,
    subject: subject ?? undefined,
    datacontenttype,
    dataschema: dataschema ?? undefined,
    data,
    correlationid,
    causationid: causationid ?? undefined,
    traceparent,
    tracestate: tracestate ?? undefined,
    priority: priority as Priority,
    partitionkey: partitionkey ?? undefined,
    schemaversion,
  };
  return toStoredEvent(envelope, { position, streamid: streamId, streamversion: streamVersion });
}

class PostgresCheckpointStore implements CheckpointStore {
  constructor(private readonly db: EventloomDb) {}

  async load(name: string): Promise<number> {
    const [row] = await this.db.select({ position: checkpoints.position }).from(checkpoints).where(eq(checkpoints.name, name));
    return row?.position ?? 0;
  }

  async store(name: string, position: number, expected: number): Promise<boolean> {
    const moved =
      expected === 0
        ? // A missing row counts as 0, and so does a row reset to 0.
          await this.db
            .insert(checkpoints)
            .values({ name, position })
            .onConflictDoUpdate({ target: checkpoints.name, set: { position, updatedAt: sql`now()` }, setWhere: eq(checkpoints.position, 0) })
            .returning({ name: checkpoints.name })
        : await this.db
            .update(checkpoints)
            .set({ position, updatedAt: sql`now()` })
            .where(and(eq(checkpoints.name, name), eq(checkpoints.position, expected)))
            .returning({ name: checkpoints.name });
    return moved.length === 1;
  }

  async list(): Promise<Array<{ name: string; position: number; updatedAt: string }>> {
    const rows = await this.db.select().from(checkpoints).orderBy(sql`${checkpoints.name} collate "C"`);
    return rows.map((row) => ({ name: row.name, position: row.position, updatedAt: row.updatedAt.toISOString() }));
  }
}
