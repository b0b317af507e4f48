import { and, eq, or, sql } from "drizzle-orm";
import type { Snapshot, SnapshotStore } from "@/server/engine/cqrs/snapshot-store";
import type { Database } from "./database";
import { snapshots } from "./schema";

/** Aggregate snapshots in `eventloom_snapshots`, one row per stream, on PGlite and Postgres alike. */
export class PostgresSnapshotStore implements SnapshotStore {
  constructor(private readonly database: Database) {}

  async load(streamId: string, aggregate: string, schemaVersion: number): Promise<Snapshot | undefined> {
    const [row] = await this.database.db
      .select({ version: snapshots.version, state: snapshots.state })
      .from(snapshots)
      .where(and(eq(snapshots.streamId, streamId), eq(snapshots.aggregate, aggregate), eq(snapshots.schemaVersion, schemaVersion)));
    return row && { streamId, aggregate, schemaVersion, version: row.version, state: row.state };
  }

  /**
   * One statement, so two processes saving at once cannot leave the older state: the stored row
   * gives way to a newer snapshot of the same aggregate and schema version, and to any snapshot
   * of another (one that is never loaded again is only dead weight).
   */
  async save(snapshot: Snapshot): Promise<void> {
    await this.database.db
      .insert(snapshots)
      .values({
        streamId: snapshot.streamId,
        aggregate: snapshot.aggregate,
        schemaVersion: snapshot.schemaVersion,
        version: snapshot.version,
        state: snapshot.state,
      })
      .onConflictDoUpdate({
        target: snapshots.streamId,
        set: {
          aggregate: sql`excluded.aggregate`,
          schemaVersion: sql`excluded.schema_version`,
          version: sql`excluded.version`,
          state: sql`excluded.state`,
          savedAt: sql`now()`,
        },
        setWhere: or(
          sql`${snapshots.aggregate} <> excluded.aggregate`,
          sql`${snapshots.schemaVersion} <> excluded.schema_version`,
          sql`${snapshots.version} <= excluded.version`,
        ),
      });
  }
}
