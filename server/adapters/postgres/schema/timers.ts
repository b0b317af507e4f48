import { sql } from "drizzle-orm";
import { check, index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Durable timers (server/engine/sagas/timer-store.ts), written by `PostgresTimerStore`: one row per
 * timer, kept after it fired or was cancelled (so scheduling its id again stays a no-op) until pruned.
 */
export const timers = pgTable(
  "eventloom_timers",
  {
    /** Chosen by the scheduler (`saga-deadline:<sagaId>`). */
    id: text("id").primaryKey(),
    kind: text("kind").notNull(),
    key: text("key").notNull(),
    status: text("status").notNull(),
    dueAt: timestamp("due_at", { withTimezone: true, mode: "date" }).notNull(),
    payload: jsonb("payload").notNull(),
    attempts: integer("attempts").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    firedAt: timestamp("fired_at", { withTimezone: true, mode: "date" }),
    lastError: text("last_error"),
    claimedBy: text("claimed_by"),
    claimedUntil: timestamp("claimed_until", { withTimezone: true, mode: "date" }),
  },
  (table) => [
    check("eventloom_timers_status_check", sql`${table.status} in ('scheduled', 'fired', 'cancelled')`),
    // Claiming (scheduled and due, soonest first) and lists by status.
    index("eventloom_timers_status_due_idx").on(table.status, table.dueAt),
    // cancelByKey when a saga ends, and lists by key.
    index("eventloom_timers_key_idx").on(table.key),
  ],
);
