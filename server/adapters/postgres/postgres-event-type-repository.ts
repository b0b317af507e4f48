import { and, asc, eq, sql } from "drizzle-orm";
import { EngineError } from "@/server/engine/core/errors";
import type { EventTypeRepository, JsonSchema, RuntimeEventTypeRecord } from "@/server/engine/core/registry";
import type { Database, EventloomDb } from "./database";
import { eventTypes } from "./schema";

/** Runtime-registered event types in `eventloom_event_types`, one row per type and version. */
export class PostgresEventTypeRepository implements EventTypeRepository {
  readonly #db: EventloomDb;

  constructor(database: Database) {
    this.#db = database.db;
  }

  async loadAll(): Promise<RuntimeEventTypeRecord[]> {
    const rows = await this.#db.select().from(eventTypes).orderBy(asc(eventTypes.type), asc(eventTypes.version));
    return rows.map((row) => {
      const record: RuntimeEventTypeRecord = {
        type: row.type,
        version: row.version,
        schema: row.schema as JsonSchema,
        registeredAt: row.registeredAt.toISOString(),
      };
      if (row.description !== null) record.description = row.description;
      return record;
    });
  }

  async save(record: RuntimeEventTypeRecord): Promise<void> {
    const inserted = await this.#db
      .insert(eventTypes)
      .values({
        type: record.type,
        version: record.version,
        description: record.description ?? null,
        schema: record.schema,
        registeredAt: new Date(record.registeredAt),
      })
      .onConflictDoNothing()
      .returning({ type: eventTypes.type });
    if (inserted.length > 0) return;
    // jsonb equality ignores key order and spacing: the same schema saved twice is a no-op.
    const [stored] = await this.#db
      .select({ same: sql<boolean>`${eventTypes.schema} = ${JSON.stringify(record.schema)}::text::jsonb` })
      .from(eventTypes)
      .where(and(eq(eventTypes.type, record.type), eq(eventTypes.version, record.version)));
    if (!stored?.same) {
      throw new EngineError("conflict", `Event type ${record.type} version ${record.version} is already stored with another schema`);
    }
  }
}
