import { sql } from "drizzle-orm";
import { bigint, boolean, check, doublePrecision, index, integer, jsonb, pgTable, smallint, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";
import type { WebhookAttempt } from "@/server/engine/webhooks/webhook-store";

/**
 * Webhooks (server/engine/webhooks/webhook-store.ts), written by `PostgresWebhookStore`:
 * endpoints, one delivery per endpoint and event, and the log of every attempt.
 */

/** A signing secret at rest: AES-256-GCM ciphertext (webhooks/secret-box.ts), never the secret itself. */
export interface StoredWebhookSecret {
  ciphertext: string;
  createdAt: string;
  expiresAt: string | null;
}

export const webhookEndpoints = pgTable(
  "eventloom_webhook_endpoints",
  {
    id: uuid("id").primaryKey(),
    url: text("url").notNull(),
    description: text("description").notNull(),
    eventTypes: text("event_types").array().notNull(),
    filter: text("filter"),
    headers: jsonb("headers").$type<Record<string, string>>().notNull(),
    rateLimitPerSecond: integer("rate_limit_per_second"),
    orderedByKey: boolean("ordered_by_key").notNull(),
    status: text("status").notNull(),
    disabledReason: text("disabled_reason"),
    disabledAt: timestamp("disabled_at", { withTimezone: true, mode: "date" }),
    failingSince: timestamp("failing_since", { withTimezone: true, mode: "date" }),
    secrets: jsonb("secrets").$type<StoredWebhookSecret[]>().notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
    version: integer("version").notNull(),
  },
  (table) => [
    check("eventloom_webhook_endpoints_status_check", sql`${table.status} in ('enabled', 'disabled')`),
    check("eventloom_webhook_endpoints_disabled_reason_check", sql`${table.disabledReason} in ('manual', 'gone', 'failing')`),
    // The list, newest first (scanned backwards).
    index("eventloom_webhook_endpoints_created_idx").on(table.createdAt, table.id),
  ],
);

/**
 * One row, bumped in the same statement as every endpoint write: dispatchers compare it to reload
 * their routing table. A sequence would move before the write commits, and a dispatcher reading
 * the table in between would keep the old routes for good.
 */
export const webhookEndpointsRevision = pgTable(
  "eventloom_webhook_endpoints_revision",
  {
    id: smallint("id").primaryKey(),
    revision: bigint("revision", { mode: "number" }).notNull(),
  },
  (table) => [check("eventloom_webhook_endpoints_revision_single_row", sql`${table.id} = 1`)],
);

export const webhookDeliveries = pgTable(
  "eventloom_webhook_deliveries",
  {
    id: uuid("id").primaryKey(),
    endpointId: uuid("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    position: bigint("position", { mode: "number" }).notNull(),
    partitionKey: text("partition_key"),
    status: text("status").notNull(),
    attempts: integer("attempts").notNull(),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }),
    lastAttemptAt: timestamp("last_attempt_at", { withTimezone: true, mode: "date" }),
    lastResponseStatus: integer("last_response_status"),
    lastError: text("last_error"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
    leaseOwner: text("lease_owner"),
    leaseUntil: timestamp("lease_until", { withTimezone: true, mode: "date" }),
  },
  (table) => [
    check("eventloom_webhook_deliveries_status_check", sql`${table.status} in ('pending', 'succeeded', 'failed', 'skipped')`),
    // One delivery per endpoint per event: a redelivered event adds none.
    unique("eventloom_webhook_deliveries_event_key").on(table.endpointId, table.eventId),
    // Due work: only pending deliveries are ever claimed, and they are few next to the finished ones.
    index("eventloom_webhook_deliveries_due_idx").on(table.nextAttemptAt, table.id).where(sql`${table.status} = 'pending'`),
    // Queue figures per endpoint and status, and recover's range of creation times.
    index("eventloom_webhook_deliveries_endpoint_status_idx").on(table.endpointId, table.status, table.createdAt),
    // Order per key: is there an unfinished delivery of this endpoint and key at a lower position?
    index("eventloom_webhook_deliveries_ordered_idx")
      .on(table.endpointId, table.partitionKey, table.position)
      .where(sql`${table.status} in ('pending', 'skipped') and ${table.partitionKey} is not null`),
    // The catch-up after enabling takes the lowest positions first, batch after batch.
    index("eventloom_webhook_deliveries_skipped_idx").on(table.endpointId, table.position).where(sql`${table.status} = 'skipped'`),
  ],
);

export const webhookAttempts = pgTable(
  "eventloom_webhook_attempts",
  {
    id: uuid("id").primaryKey(),
    deliveryId: uuid("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    endpointId: uuid("endpoint_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    attempt: integer("attempt").notNull(),
    status: text("status").notNull(),
    trigger: text("trigger").notNull(),
    request: jsonb("request").$type<WebhookAttempt["request"]>().notNull(),
    response: jsonb("response").$type<WebhookAttempt["response"]>(),
    /** Fractional milliseconds, as the sender measures them. */
    durationMs: doublePrecision("duration_ms").notNull(),
    error: text("error"),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (table) => [
    check("eventloom_webhook_attempts_status_check", sql`${table.status} in ('succeeded', 'failed')`),
    check("eventloom_webhook_attempts_trigger_check", sql`${table.trigger} in ('scheduled', 'manual', 'recover', 'test')`),
    // The log, newest first (scanned backwards): per endpoint (and its health window), per delivery, all.
    index("eventloom_webhook_attempts_endpoint_idx").on(table.endpointId, table.createdAt, table.id),
    index("eventloom_webhook_attempts_delivery_idx").on(table.deliveryId, table.createdAt, table.id),
    // Retention prunes by age.
    index("eventloom_webhook_attempts_created_idx").on(table.createdAt, table.id),
  ],
);
