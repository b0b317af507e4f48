import { bigint, doublePrecision, index, integer, jsonb, pgTable, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";

/**
 * Replays of the event log to a subscription (server/engine/transport/replay.ts): accepted and run
 * by one process, reported and cancelled from any. The runner writes `done`, `position` and
 * `heartbeat_at` after every batch and reads `status` back, so a cancel from anywhere stops it.
 */
export const replays = pgTable(
  "eventloom_replays",
  {
    id: uuid("id").primaryKey(),
    /** `{subscription}` (webhook endpoints later). */
    target: jsonb("target").$type<{ subscription: string }>().notNull(),
    /** The resolved range and filters: `{afterPosition, toPosition, types?, subject?, from?, to?}`. */
    filter: jsonb("filter").$type<Record<string, unknown>>().notNull(),
    /** queued | running | done | failed | cancelled */
    status: text("status").notNull(),
    total: integer("total").notNull(),
    done: integer("done").notNull().default(0),
    position: bigint("position", { mode: "number" }).notNull(),
    ratePerSecond: doublePrecision("rate_per_second"),
    error: text("error"),
    createdBy: text("created_by").notNull(),
    /** `<principal>:<Idempotency-Key>` and the request's fingerprint, when the client sent a key. */
    idempotencyKey: text("idempotency_key"),
    fingerprint: text("fingerprint"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    heartbeatAt: timestamp("heartbeat_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [
    unique("eventloom_replays_idempotency_key").on(table.idempotencyKey),
    index("eventloom_replays_created_idx").on(table.createdAt),
  ],
);
