import { sql } from "drizzle-orm";
import { bigint, integer, pgTable, text } from "drizzle-orm/pg-core";
import { buildEnvelope, type EventEnvelope, type StoredEvent } from "@/server/engine/core/envelope";
import { defineTable, defineTableProjection, type ProjectionDefinition } from "@/server/engine/cqrs/read-model";
import type { EventStore } from "@/server/engine/store/event-store";
import type { Database } from "../database";
import { templateTableName, type ReadModelTableFactories } from "./postgres-read-model-store";

/**
 * The projection of the projection integration tests (crash, blue/green): per key, how many events
 * it saw, the sum of their values and of their positions, and the last position. A missed event
 * lowers the count and the sums, a doubled one raises them, and one applied out of place shows in
 * the position sum, so comparing every row with {@link expectedTotals} finds either.
 */

export type KeyTotalsRow = { key: string; events: number; valueSum: number; positionSum: number; lastPosition: number };

export const keyTotals = defineTable<KeyTotalsRow>("test_key_totals", "key");

export const keyTotalsTables: ReadModelTableFactories = {
  [keyTotals.name]: (name) =>
    pgTable(name, {
      key: text("key").primaryKey(),
      events: integer("events").notNull(),
      valueSum: bigint("value_sum", { mode: "number" }).notNull(),
      positionSum: bigint("position_sum", { mode: "number" }).notNull(),
      lastPosition: bigint("last_position", { mode: "number" }).notNull(),
    }),
};

/** What a migration creates for a domain projection's table. */
export async function createKeyTotalsTemplate(database: Database): Promise<void> {
  await database.rows(
    sql`create table ${sql.identifier(templateTableName(keyTotals.name))} (
          key text primary key, events integer not null, value_sum bigint not null, position_sum bigint not null, last_position bigint not null)`,
  );
}

const VALUE_ADDED = "test.value_added";

type ValueAdded = { key: string; value: number };

export const keyTotalsProjection: ProjectionDefinition = {
  name: "test_key_totals",
  description: "per key: events, sums of values and positions (projection integration tests)",
  version: 1,
  eventTypes: ["test.*"],
  tables: [
    defineTableProjection({
      table: keyTotals,
      keysOf: (event) => (event.type === VALUE_ADDED ? [(event.data as ValueAdded).key] : []),
      evolve: (row, event, key) => ({
        key,
        events: (row?.events ?? 0) + 1,
        valueSum: (row?.valueSum ?? 0) + (event.data as ValueAdded).value,
        positionSum: (row?.positionSum ?? 0) + event.position,
        lastPosition: event.position,
      }),
    }),
  ],
};

/**
 * Appends `total` events in appends of `perAppend`: every tenth of another type (the projection
 * skips it, so its positions leave gaps), the rest spread over `keys` keys. Answers the stored
 * events, positions assigned.
 */
export async function seedEvents(store: EventStore, options: { total: number; keys: number; perAppend: number }): Promise<StoredEvent[]> {
  const stored: StoredEvent[] = [];
  for (let first = 0; first < options.total; first += options.perAppend) {
    const count = Math.min(options.perAppend, options.total - first);
    const events = Array.from({ length: count }, (_, offset): EventEnvelope => {
      const n = first + offset;
      if (n % 10 === 9) return buildEnvelope({ type: "noise.tick", data: { n } });
      return buildEnvelope<ValueAdded>({ type: VALUE_ADDED, data: { key: `key-${(n * 7919) % options.keys}`, value: (n * 31) % 1000 } });
    });
    const outcome = await store.append([{ streamId: `seed-${first}`, expectedVersion: "no_stream", events }]);
    if (outcome.status !== "appended") throw new Error(`seeding failed: ${JSON.stringify(outcome)}`);
    stored.push(...outcome.events);
  }
  return stored;
}

/** The rows the projection must hold after all of `events`, folded here without the projection's code. */
export function expectedTotals(events: readonly StoredEvent[]): Map<string, KeyTotalsRow> {
  const rows = new Map<string, KeyTotalsRow>();
  for (const event of events) {
    if (event.type !== VALUE_ADDED) continue;
    const { key, value } = event.data as ValueAdded;
    const row = rows.get(key) ?? { key, events: 0, valueSum: 0, positionSum: 0, lastPosition: 0 };
    rows.set(key, {
      key,
      events: row.events + 1,
      valueSum: row.valueSum + value,
      positionSum: row.positionSum + event.position,
      lastPosition: Math.max(row.lastPosition, event.position),
    });
  }
  return rows;
}
