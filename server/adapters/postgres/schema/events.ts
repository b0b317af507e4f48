import { sql } from "drizzle-orm";
import { bigint, boolean, check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";

/**
 * The event store's tables. Appends go through the `eventloom_append` function (migration
 * 0001_append_function.sql), never through plain INSERTs: it keeps positions gap-free in commit
 * order by locking the single `eventloom_log_head` row.
 */

/** The global log. Column names are the CloudEvents attribute names, so rows map 1:1 to envelopes. */
export const events = pgTable(
  "eventloom_events",
  {
    position: bigint("position", { mode: "number" }).primaryKey(),
    id: uuid("id").notNull().unique("eventloom_events_id_key"),
    streamId: text("stream_id").notNull(),
    streamVersion: integer("stream_version").notNull(),
    type: text("type").notNull(),
    source: text("source").notNull(),
    specversion: text("specversion").notNull(),
    time: timestamp("time", { withTimezone: true, mode: "date" }).notNull(),
    subject: text("subject"),
    datacontenttype: text("datacontenttype").notNull(),
    dataschema: text("dataschema"),
    data: jsonb("data").notNull(),
    correlationid: text("correlationid").notNull(),
    causationid: text("causationid"),
    traceparent: text("traceparent").notNull(),
    tracestate: text("tracestate"),
    priority: text("priority").notNull(),
    partitionkey: text("partitionkey"),
    schemaversion: integer("schemaversion").notNull(),
    recordedAt: timestamp("recorded_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [
    unique("eventloom_events_stream_version_key").on(table.streamId, table.streamVersion),
    // text_pattern_ops serves both `type = ANY(...)` and the `LIKE 'exam.%'` of wildcard patterns
    // whatever the database collation; position second lets a filtered page stop at its limit.
    index("eventloom_events_type_idx").using("btree", table.type.op("text_pattern_ops"), table.position),
    index("eventloom_events_subject_idx").on(table.subject, table.position).where(sql`${table.subject} is not null`),
    index("eventloom_events_correlationid_idx").on(table.correlationid, table.position),
    index("eventloom_events_time_idx").on(table.time),
  ],
);

/** Current version per stream: the expected-version check reads one row instead of max(). */
export const streams = pgTable("eventloom_streams", {
  streamId: text("stream_id").primaryKey(),
  version: integer("version").notNull(),
});

/**
 * One row holding the last assigned position. Every append locks it first, which serialises
 * appends and so assigns positions in commit order (see the append function).
 */
export const logHead = pgTable(
  "eventloom_log_head",
  {
    singleton: boolean("singleton").primaryKey().default(true),
    lastPosition: bigint("last_position", { mode: "number" }).notNull().default(0),
  },
  (table) => [check("eventloom_log_head_singleton", sql`${table.singleton}`)],
);

export const checkpoints = pgTable("eventloom_checkpoints", {
  name: text("name").primaryKey(),
  position: bigint("position", { mode: "number" }).notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/** An accepted append per idempotency key: the same key and fingerprint replays these events. */
export const idempotencyKeys = pgTable("eventloom_idempotency_keys", {
  key: text("key").primaryKey(),
  fingerprint: text("fingerprint").notNull(),
  /** In the order the append returned them (new and duplicate alike). */
  eventIds: uuid("event_ids").array().notNull(),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/** Event types registered at runtime (code-defined types live in the code). */
export const eventTypes = pgTable(
  "eventloom_event_types",
  {
    type: text("type").notNull(),
    version: integer("version").notNull(),
    description: text("description"),
    schema: jsonb("schema").notNull(),
    registeredAt: timestamp("registered_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (table) => [primaryKey({ name: "eventloom_event_types_pkey", columns: [table.type, table.version] })],
);
