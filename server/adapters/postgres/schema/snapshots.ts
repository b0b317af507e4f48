import { integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Aggregate snapshots (server/engine/cqrs/snapshot-store.ts): one row per stream, the newest state
 * the command bus saved for it. A row of another aggregate or schema version is never loaded, and
 * the next save replaces it.
 */
export const snapshots = pgTable("eventloom_snapshots", {
  streamId: text("stream_id").primaryKey(),
  aggregate: text("aggregate").notNull(),
  schemaVersion: integer("schema_version").notNull(),
  /** Stream version the state reflects. */
  version: integer("version").notNull(),
  state: jsonb("state").notNull(),
  savedAt: timestamp("saved_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});
