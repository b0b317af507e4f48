import { bigint, bigserial, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";

/**
 * The Postgres transport (server/adapters/postgres/transport): a work queue with one row per
 * (group, message), handed out by `eventloom_transport_claim` (migration 0011) to the consumers
 * recorded here; plus the dead-letter store and the inbox, which every transport uses.
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
 * A message waiting for, or held by, one group. `attempt` counts the deliveries made before the
 * one in progress; a row is claimable once `available_at` has passed and no live consumer holds
 * it (see eventloom_transport_consumers). Acks delete the row; a retry counts the delivery and
 * moves `available_at`. A claim writes nothing here.
 */
export const transportMessages = pgTable(
  "eventloom_transport_messages",
  {
    id: bigserial("id", { mode: "number" }).notNull(),
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
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  // The one index: claims walk it in hand-out order, settles find their rows by it (a delivery
  // carries its priority). A second index on id alone cost every publish a fifth more.
  (table) => [primaryKey({ name: "eventloom_transport_messages_pkey", columns: [table.topic, table.groupName, table.priority, table.id] })],
);

/**
 * The live consumers of each group and what they hold: the rows of their outstanding deliveries
 * (added by claims, removed by settles) and those rows' keys (written by claims), which claims
 * read to hand out neither again. A consumer that stops renewing expires, and the next claim
 * deletes its row, which makes what it held claimable again.
 */
export const transportConsumers = pgTable(
  "eventloom_transport_consumers",
  {
    topic: text("topic").notNull(),
    groupName: text("group_name").notNull(),
    consumer: text("consumer").notNull(),
    /** Ids of the rows it holds (its outstanding deliveries). */
    ids: bigint("ids", { mode: "number" }).array().notNull(),
    keys: text("keys").array().notNull(),
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
