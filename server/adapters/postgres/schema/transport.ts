import { bigint, bigserial, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";

/**
 * The Postgres transport (server/adapters/postgres/transport): a work queue with one row per
 * (group, message), claimed with leases by `eventloom_transport_settle_and_claim` (migration
 * 0006_transport_claim.sql); plus the dead-letter store and the inbox, which every transport uses.
 */

/** The consumer groups of each topic: `publish` writes one row per group listed here. */
export const transportGroups = pgTable(
  "eventloom_transport_groups",
  {
    topic: text("topic").notNull(),
    groupName: text("group_name").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ name: "eventloom_transport_groups_pkey", columns: [table.topic, table.groupName] })],
);

/**
 * A message waiting for, or held by, one group. `attempt` counts the deliveries made so far (a
 * claim adds one); a row is claimable once `available_at` has passed and it has no live lease.
 * Settling deletes the row (ack) or clears the lease and moves `available_at` (retry).
 */
export const transportMessages = pgTable(
  "eventloom_transport_messages",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    topic: text("topic").notNull(),
    groupName: text("group_name").notNull(),
    messageId: text("message_id").notNull(),
    key: text("key").notNull(),
    /** 0 high, 1 normal, 2 low: claims take the lowest first. */
    priority: smallint("priority").notNull(),
    /** The `ce_*` attributes, readable by any SQL client as `headers->>'ce_type'`. */
    headers: jsonb("headers").$type<Record<string, string>>().notNull(),
    body: text("body").notNull(),
    attempt: integer("attempt").notNull().default(0),
    availableAt: timestamp("available_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: timestamp("lease_expires_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [
    // The claim walks this in hand-out order. Nothing a claim, retry or renewal changes is indexed
    // (and the table leaves room on its pages: migration 0006), so those updates are HOT: no index
    // entries, and only the changed bytes in the WAL. That is why key affinity reads the keys
    // consumers hold from eventloom_transport_consumers rather than from an index of leased rows.
    index("eventloom_transport_messages_claim_idx").on(table.topic, table.groupName, table.priority, table.id),
  ],
);

/**
 * The live consumers of each group: the keys they hold (the distinct keys of their outstanding
 * deliveries, written by each claim), which claims read to keep key affinity; and how many
 * deliveries they were handed and have settled, counted up by claims and by settles respectively
 * (so the two never overwrite each other), which figures subtract for in-flight. A consumer that
 * stops renewing expires with its leases, and its row is deleted by the next claim.
 */
export const transportConsumers = pgTable(
  "eventloom_transport_consumers",
  {
    topic: text("topic").notNull(),
    groupName: text("group_name").notNull(),
    consumer: text("consumer").notNull(),
    keys: text("keys").array().notNull(),
    claimed: bigint("claimed", { mode: "number" }).notNull(),
    settled: bigint("settled", { mode: "number" }).notNull().default(0),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (table) => [primaryKey({ name: "eventloom_transport_consumers_pkey", columns: [table.topic, table.groupName, table.consumer] })],
);

/** Dead letters of every transport (see server/engine/transport/dead-letters.ts). Ids are UUIDv7. */
export const deadLetters = pgTable(
  "eventloom_dead_letters",
  {
    id: uuid("id").primaryKey(),
    subscription: text("subscription").notNull(),
    topic: text("topic").notNull(),
    messageId: text("message_id").notNull(),
    messageKey: text("message_key").notNull(),
    priority: text("priority").notNull(),
    headers: jsonb("headers").$type<Record<string, string>>().notNull(),
    body: text("body").notNull(),
    errorType: text("error_type").notNull(),
    errorMessage: text("error_message").notNull(),
    attempts: integer("attempts").notNull(),
    firstFailedAt: timestamp("first_failed_at", { withTimezone: true, mode: "date" }).notNull(),
    lastFailedAt: timestamp("last_failed_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (table) => [
    unique("eventloom_dead_letters_subscription_message_key").on(table.subscription, table.messageId),
    index("eventloom_dead_letters_error_idx").on(table.subscription, table.errorType, table.id),
  ],
);

/** Messages a subscription has applied, written in the transaction of the effect (`withInbox`). */
export const inbox = pgTable(
  "eventloom_inbox",
  {
    subscription: text("subscription").notNull(),
    messageId: text("message_id").notNull(),
    processedAt: timestamp("processed_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ name: "eventloom_inbox_pkey", columns: [table.subscription, table.messageId] })],
);
