import { sql } from "drizzle-orm";
import { boolean, check, index, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import type { SagaErrorInfo, SagaSignalOutcome, SagaStepRecord } from "@/server/engine/sagas/saga-store";

/**
 * Saga instances (server/engine/sagas/saga-store.ts): one row per saga, rewritten by
 * `PostgresSagaStore` after every transition, steps and compensations as JSON inside it.
 */
export const sagas = pgTable(
  "eventloom_sagas",
  {
    id: uuid("id").primaryKey(),
    type: text("type").notNull(),
    kind: text("kind").notNull(),
    status: text("status").notNull(),
    subject: text("subject"),
    correlationid: text("correlationid").notNull(),
    traceparent: text("traceparent"),
    parentId: uuid("parent_id"),
    /** SQL NULL stands for JSON null in both. */
    input: jsonb("input"),
    data: jsonb("data"),
    steps: jsonb("steps").$type<SagaStepRecord[]>().notNull(),
    compensations: jsonb("compensations").$type<SagaStepRecord[]>().notNull(),
    error: jsonb("error").$type<SagaErrorInfo>(),
    cursor: integer("cursor").notNull(),
    wakeAt: timestamp("wake_at", { withTimezone: true, mode: "date" }),
    awaiting: text("awaiting").array().notNull(),
    signals: jsonb("signals").$type<Record<string, SagaSignalOutcome>>().notNull(),
    cancelRequested: boolean("cancel_requested").notNull(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
    endedAt: timestamp("ended_at", { withTimezone: true, mode: "date" }),
    revision: integer("revision").notNull(),
    leaseOwner: text("lease_owner"),
    leaseUntil: timestamp("lease_until", { withTimezone: true, mode: "date" }),
  },
  (table) => [
    check("eventloom_sagas_status_check", sql`${table.status} in ('running', 'completed', 'compensating', 'compensated', 'failed', 'cancelled')`),
    check("eventloom_sagas_kind_check", sql`${table.kind} in ('orchestrated', 'choreographed')`),
    // Due work: only active sagas are ever claimed, and they are few next to the finished ones.
    index("eventloom_sagas_due_idx").on(table.wakeAt, table.id).where(sql`${table.status} in ('running', 'compensating')`),
    // Lists, newest first (scanned backwards), unfiltered and by each filter the API offers.
    index("eventloom_sagas_started_idx").on(table.startedAt, table.id),
    index("eventloom_sagas_type_idx").on(table.type, table.startedAt, table.id),
    index("eventloom_sagas_status_idx").on(table.status, table.startedAt, table.id),
    index("eventloom_sagas_correlationid_idx").on(table.correlationid, table.startedAt, table.id),
    index("eventloom_sagas_parent_idx").on(table.parentId, table.startedAt, table.id).where(sql`${table.parentId} is not null`),
    // Signals find the sagas awaiting a key; most sagas await nothing at any moment.
    index("eventloom_sagas_awaiting_idx").using("gin", table.awaiting).where(sql`${table.awaiting} <> '{}'::text[]`),
  ],
);
