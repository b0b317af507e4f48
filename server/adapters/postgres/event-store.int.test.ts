import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildEnvelope, type EventEnvelope } from "@/server/engine/core/envelope";
import { EngineError } from "@/server/engine/core/errors";
import type { AppendOutcome } from "@/server/engine/store/event-store";
import { describeEventStoreContract } from "@/server/engine/store/event-store.contract";
import { migrate, openDatabase, type Database } from "./database";
import { PostgresEventStore } from "./postgres-event-store";
import { PostgresEventTypeRepository } from "./postgres-event-type-repository";
import { createTestDatabase } from "./test-database";

/** Empties the event store tables between contract tests (cheaper than a database per test). */
async function resetStore(database: Database): Promise<void> {
  await database.rows(sql`truncate eventloom_events, eventloom_streams, eventloom_checkpoints, eventloom_idempotency_keys`);
  await database.rows(sql`update eventloom_log_head set last_position = 0`);
}

const event = (type = "test.happened"): EventEnvelope => buildEnvelope({ type, data: { at: Date.now() } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("PostgresEventStore on PGlite", () => {
  let dataDir: string;
  let database: Database;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "eventloom-pglite-"));
    database = await openDatabase({ dataDir });
    await migrate(database);
  });

  afterAll(async () => {
    await database.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  describeEventStoreContract("postgres on PGlite", async () => {
    await resetStore(database);
    return new PostgresEventStore(database);
  });

  it("keeps the log across a reopen of the same data directory, and migrating again is a no-op", async () => {
    await resetStore(database);
    const appended = await new PostgresEventStore(database).append([{ streamId: "s", expectedVersion: "any", events: [event()] }]);
    expect(appended.status).toBe("appended");
    await database.close();
    database = await openDatabase({ dataDir });
    await migrate(database);
    expect(await new PostgresEventStore(database).headPosition()).toBe(1);
  });
});

describe("PostgresEventStore on PostgreSQL", () => {
  let testDb: { url: string; drop(): Promise<void> };
  let database: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    database = await openDatabase({ databaseUrl: testDb.url });
    await migrate(database);
  });

  afterAll(async () => {
    await database.close();
    await testDb.drop();
  });

  describeEventStoreContract("postgres on PostgreSQL", async () => {
    await resetStore(database);
    return new PostgresEventStore(database);
  });

  describe("under concurrency", () => {
    const openStores = async (count: number) => {
      const databases = await Promise.all(Array.from({ length: count }, () => openDatabase({ databaseUrl: testDb.url, poolSize: 1 })));
      const stores = databases.map((db) => new PostgresEventStore(db));
      const close = async () => {
        await Promise.all(stores.map((store) => store.close()));
        await Promise.all(databases.map((db) => db.close()));
      };
      return { stores, close };
    };

    it("gives 8 racing clients positions 1..N with no gap or repeat, and reports every lost race", async () => {
      await resetStore(database);
      const clients = await openStores(8);
      const streamIds = Array.from({ length: 12 }, (_, i) => `race-${i}`);
      const accepted: Array<{ id: string; position: number; streamid: string; streamversion: number }> = [];
      const rejected: string[] = [];
      try {
        await Promise.all(
          clients.stores.map(async (store, client) => {
            for (let i = 0; i < 200; i++) {
              const streamId = streamIds[(client * 7 + i * 5) % streamIds.length] as string;
              const events = Array.from({ length: 1 + (i % 3) }, () => event());
              // Every third append races on a version read a moment earlier; the rest take any.
              const expectedVersion = i % 3 === 0 ? await store.streamVersion(streamId) : "any";
              const outcome: AppendOutcome = await store.append([{ streamId, expectedVersion, events }]);
              if (outcome.status === "appended") accepted.push(...outcome.events);
              else if (outcome.status === "conflict") rejected.push(...events.map((e) => e.id));
              else throw new Error(`unexpected outcome ${outcome.status}`);
            }
          }),
        );
      } finally {
        await clients.close();
      }

      const store = new PostgresEventStore(database);
      const log = (await store.readAll({ limit: 10_000 })).events;
      expect(log.map((e) => e.position)).toEqual(log.map((_, i) => i + 1));
      expect(await store.headPosition()).toBe(log.length);
      expect(log).toHaveLength(accepted.length);
      const byId = new Map(log.map((e) => [e.id, e]));
      for (const ok of accepted) expect(byId.get(ok.id)).toMatchObject({ position: ok.position, streamversion: ok.streamversion });
      for (const id of rejected) expect(byId.has(id)).toBe(false);
      for (const streamId of streamIds) {
        const versions = (await store.readStream(streamId)).map((e) => e.streamversion);
        expect(versions).toEqual(versions.map((_, i) => i + 1));
        expect(await store.streamVersion(streamId)).toBe(versions.length);
      }
    });

    it("makes later appends wait for an open one, so a tailing reader never skips its commit", async () => {
      await resetStore(database);
      const store = new PostgresEventStore(database);
      await store.append([{ streamId: "before", expectedVersion: "any", events: [event(), event()] }]);

      const raw = postgres(testDb.url, { max: 1, onnotice: () => {} });
      const slow = event("slow.committed");
      let commit!: () => void;
      const released = new Promise<void>((resolve) => (commit = resolve));
      let appendedInside!: () => void;
      const inside = new Promise<void>((resolve) => (appendedInside = resolve));
      const slowStream = JSON.stringify([{ stream_id: "slow", expected: "any" }]);
      const slowEvents = JSON.stringify([{ ...slow, stream_id: "slow" }]);
      const slowTransaction = raw.begin(async (tx) => {
        await tx`select eventloom_append(${slowStream}::text::jsonb, ${slowEvents}::text::jsonb, null, null)`;
        appendedInside();
        await released;
      });
      await inside;

      const seen: number[] = [];
      let stopTail = false;
      const tail = (async () => {
        let after = 0;
        while (!stopTail || after < 6) {
          const page = await store.readAll({ after, limit: 100 });
          seen.push(...page.events.map((e) => e.position));
          after = page.lastPosition;
          await sleep(5);
        }
      })();

      let laterSettled = false;
      const later = Promise.all(
        [1, 2, 3].map((n) => store.append([{ streamId: `later-${n}`, expectedVersion: "any", events: [event("later.committed")] }])),
      ).finally(() => (laterSettled = true));
      await sleep(300);
      expect(laterSettled).toBe(false);
      expect(seen).toEqual([1, 2]);

      commit();
      await slowTransaction;
      const outcomes = await later;
      stopTail = true;
      await tail;
      await raw.end();

      expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
      expect((await store.getById(slow.id))?.position).toBe(3);
      expect(outcomes.flatMap((o) => (o.status === "appended" ? o.events.map((e) => e.position) : [])).sort()).toEqual([4, 5, 6]);
    });

    it("wakes another process's onAppended through LISTEN/NOTIFY", async () => {
      await resetStore(database);
      const clients = await openStores(2);
      try {
        const [writer, watcher] = clients.stores as [PostgresEventStore, PostgresEventStore];
        await watcher.whenListening();
        const heads: number[] = [];
        watcher.onAppended((head) => heads.push(head));
        await writer.append([{ streamId: "s", expectedVersion: "any", events: [event(), event()] }]);
        await vi.waitFor(() => expect(heads).toEqual([2]), { timeout: 5_000 });
        await watcher.close();
        await writer.append([{ streamId: "s", expectedVersion: "any", events: [event()] }]);
        await sleep(200);
        expect(heads).toEqual([2]);
      } finally {
        await clients.close();
      }
    });
  });

  describe("databases and migrations", () => {
    it("isolates a schemaName, and migrating from two processes at once is safe", async () => {
      const [first, second] = await Promise.all(
        ["suite_a", "suite_a"].map((schemaName) => openDatabase({ databaseUrl: testDb.url, schemaName, poolSize: 2 })),
      );
      const other = await openDatabase({ databaseUrl: testDb.url, schemaName: "suite_b", poolSize: 2 });
      try {
        await Promise.all([migrate(first as Database), migrate(second as Database), migrate(other)]);
        const stores = [first as Database, second as Database, other].map((db) => new PostgresEventStore(db));
        const [writer, sameSchema, otherSchema] = stores as [PostgresEventStore, PostgresEventStore, PostgresEventStore];
        await writer.append([{ streamId: "s", expectedVersion: "any", events: [event()] }]);
        expect(await sameSchema.headPosition()).toBe(1);
        expect(await otherSchema.headPosition()).toBe(0);
        await Promise.all(stores.map((store) => store.close()));
        const [row] = await other.rows<{ schema: string }>(sql`select table_schema as schema from information_schema.tables where table_name = 'eventloom_events' and table_schema = 'suite_a'`);
        expect(row?.schema).toBe("suite_a");
      } finally {
        await Promise.all([first?.close(), second?.close(), other.close()]);
      }
    });
  });

  describe("PostgresEventTypeRepository", () => {
    it("saves, loads, ignores an identical save and rejects a different schema for the same version", async () => {
      const repository = new PostgresEventTypeRepository(database);
      const record = {
        type: "invoice.paid",
        version: 1,
        description: "An invoice was paid",
        schema: { type: "object", properties: { amount: { type: "number" } }, required: ["amount"] },
        registeredAt: "2026-02-01T10:00:00.000Z",
      };
      await repository.save(record);
      await repository.save({ ...record, schema: { required: ["amount"], properties: { amount: { type: "number" } }, type: "object" } });
      await repository.save({ type: "invoice.paid", version: 2, schema: { type: "object" }, registeredAt: "2026-02-02T10:00:00.000Z" });
      const saving = repository.save({ ...record, schema: { type: "object" } });
      await expect(saving).rejects.toBeInstanceOf(EngineError);
      await expect(saving).rejects.toMatchObject({ code: "conflict" });
      expect(await repository.loadAll()).toEqual([
        record,
        { type: "invoice.paid", version: 2, schema: { type: "object" }, registeredAt: "2026-02-02T10:00:00.000Z" },
      ]);
    });
  });
});
