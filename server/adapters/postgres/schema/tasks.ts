import { sql } from "drizzle-orm";
import { check, index, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * Status tracking of the task queue (server/engine/tasks): one row per task, written by
 * `PostgresTaskStore`. The queue itself travels on the transport; this table is what `GET
 * /api/v1/tasks` and the dashboard read.
 */
export const tasks = pgTable(
  "eventloom_tasks",
  {
    /** UUIDv7: listing newest first is `order by id desc`. */
    id: uuid("id").primaryKey(),
    type: text("type").notNull(),
    priority: text("priority").notNull(),
    key: text("key"),
    status: text("status").notNull(),
    input: jsonb("input").notNull(),
    result: jsonb("result"),
    error: jsonb("error").$type<{ type: string; message: string }>(),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    timeoutMs: integer("timeout_ms").notNull(),
    progress: jsonb("progress").$type<{ percent: number; message?: string }>(),
    /** Unique when set (NULLs never collide): a repeated submit finds the first task. */
    idempotencyKey: text("idempotency_key").unique("eventloom_tasks_idempotency_key_key"),
    fingerprint: text("fingerprint"),
    correlationid: text("correlationid").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }),
  },
  (table) => [
    check("eventloom_tasks_status_check", sql`${table.status} in ('queued', 'running', 'succeeded', 'failed', 'dead')`),
    check("eventloom_tasks_priority_check", sql`${table.priority} in ('high', 'normal', 'low')`),
    // Lists filtered by status, newest first.
    index("eventloom_tasks_status_idx").on(table.status, table.id),
    // Lists filtered by type (and status), and the counts per type and status (index-only).
    index("eventloom_tasks_type_idx").on(table.type, table.status, table.id),
  ],
);
