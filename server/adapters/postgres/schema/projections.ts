import { sql } from "drizzle-orm";
import { bigint, check, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/**
 * The generations of every projection (server/engine/cqrs/read-model.ts): which one queries read
 * (`active`), which one a rebuild is filling (`building`), and the one kept for queries that
 * resolved it just before a switch-over (`retired`). `position` is the projection's checkpoint: it
 * moves in the transaction that writes the generation's tables (PostgresReadModelStore).
 */
export const projectionGenerations = pgTable(
  "eventloom_projection_generations",
  {
    projection: text("projection").notNull(),
    generation: integer("generation").notNull(),
    /** The projection version that built it. */
    version: integer("version").notNull(),
    /** Log position applied up to (inclusive). */
    position: bigint("position", { mode: "number" }).notNull().default(0),
    status: text("status").$type<"building" | "active" | "retired">().notNull(),
    /**
     * The generation's physical tables, as created: dropping them later must not depend on the
     * projection's current definition, which may have renamed or removed a table since.
     */
    tables: text("tables").array().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    activatedAt: timestamp("activated_at", { withTimezone: true, mode: "date" }),
  },
  (table) => [
    primaryKey({ name: "eventloom_projection_generations_pkey", columns: [table.projection, table.generation] }),
    check("eventloom_projection_generations_status", sql`${table.status} in ('building', 'active', 'retired')`),
    uniqueIndex("eventloom_projection_generations_one_active").on(table.projection).where(sql`${table.status} = 'active'`),
  ],
);
