import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InMemorySnapshotStore } from "@/server/engine/cqrs/memory-snapshot-store";
import type { Snapshot, SnapshotStore } from "@/server/engine/cqrs/snapshot-store";
import { newId } from "@/server/engine/core/ids";
import { migrate, openDatabase, type Database } from "./database";
import { PostgresSnapshotStore } from "./snapshot-store";
import { createTestDatabase, type TestDatabase } from "./test-database";

/** The SnapshotStore port's behaviour; every test uses streams of its own, so the store is shared. */
function describeSnapshotStore(name: string, open: () => Promise<{ store: SnapshotStore; close(): Promise<void> }>): void {
  describe(`SnapshotStore: ${name}`, () => {
    let store: SnapshotStore;
    let close: () => Promise<void>;

    beforeAll(async () => {
      ({ store, close } = await open());
    });

    afterAll(async () => {
      await close();
    });

    const snapshot = (overrides: Partial<Snapshot> & Pick<Snapshot, "streamId">): Snapshot => ({
      aggregate: "exam",
      schemaVersion: 2,
      version: 10,
      state: { title: "Física ✓", sheets: [{ id: "s-1", score: 9.5 }], closed: false, note: null },
      ...overrides,
    });

    it("loads what was saved, and nothing for a stream without a snapshot", async () => {
      const saved = snapshot({ streamId: `exam-${newId()}` });
      await store.save(saved);
      expect(await store.load(saved.streamId, "exam", 2)).toEqual(saved);
      expect(await store.load(`exam-${newId()}`, "exam", 2)).toBeUndefined();
    });

    it("keeps the newest snapshot of a stream", async () => {
      const streamId = `exam-${newId()}`;
      await store.save(snapshot({ streamId, version: 10, state: { at: 10 } }));
      await store.save(snapshot({ streamId, version: 5, state: { at: 5 } }));
      expect(await store.load(streamId, "exam", 2)).toMatchObject({ version: 10, state: { at: 10 } });
      await store.save(snapshot({ streamId, version: 12, state: { at: 12 } }));
      expect(await store.load(streamId, "exam", 2)).toMatchObject({ version: 12, state: { at: 12 } });
    });

    it("keeps the newest when saves race", async () => {
      const streamId = `exam-${newId()}`;
      const versions = [7, 3, 20, 11, 1, 16, 9, 18, 2, 14];
      await Promise.all(versions.map((version) => store.save(snapshot({ streamId, version, state: { at: version } }))));
      expect(await store.load(streamId, "exam", 2)).toMatchObject({ version: 20, state: { at: 20 } });
    });

    it("never loads a snapshot of another schema version or aggregate, and lets a save of either replace it", async () => {
      const streamId = `exam-${newId()}`;
      await store.save(snapshot({ streamId, schemaVersion: 1, version: 40 }));
      expect(await store.load(streamId, "exam", 2)).toBeUndefined();
      expect(await store.load(streamId, "sheet", 1)).toBeUndefined();

      await store.save(snapshot({ streamId, schemaVersion: 2, version: 3, state: { fresh: true } }));
      expect(await store.load(streamId, "exam", 2)).toMatchObject({ version: 3, state: { fresh: true } });
      expect(await store.load(streamId, "exam", 1)).toBeUndefined();

      await store.save(snapshot({ streamId, aggregate: "sheet", schemaVersion: 2, version: 1, state: { sheet: true } }));
      expect(await store.load(streamId, "sheet", 2)).toMatchObject({ version: 1, state: { sheet: true } });
      expect(await store.load(streamId, "exam", 2)).toBeUndefined();
    });
  });
}

describeSnapshotStore("in memory", async () => ({ store: new InMemorySnapshotStore(), close: async () => {} }));

describeSnapshotStore("PGlite", async () => {
  const database = await openDatabase();
  await migrate(database);
  return { store: new PostgresSnapshotStore(database), close: () => database.close() };
});

describeSnapshotStore("PostgreSQL", async () => {
  const testDb: TestDatabase = await createTestDatabase();
  const database: Database = await openDatabase({ databaseUrl: testDb.url });
  await migrate(database);
  return {
    store: new PostgresSnapshotStore(database),
    async close() {
      await database.close();
      await testDb.drop();
    },
  };
});
