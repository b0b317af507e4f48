import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { at, describeSagaStoreContract, sagaRecord } from "@/server/engine/sagas/saga-store.contract";
import { migrate, openDatabase, type Database } from "../database";
import { createTestDatabase, type TestDatabase } from "../test-database";
import { PostgresSagaStore } from "./postgres-saga-store";

let pglite: Database;
let testDatabase: TestDatabase;
/** Two pools on the same server database: two worker processes, as the server sees them. */
let server: Database;
let rivalServer: Database;

beforeAll(async () => {
  pglite = await openDatabase();
  await migrate(pglite);
  testDatabase = await createTestDatabase("eventloom_sagas");
  server = await openDatabase({ databaseUrl: testDatabase.url, poolSize: 4 });
  await migrate(server);
  rivalServer = await openDatabase({ databaseUrl: testDatabase.url, poolSize: 2 });
});

afterAll(async () => {
  await pglite?.close();
  await rivalServer?.close();
  await server?.close();
  await testDatabase?.drop();
});

async function emptyStore(database: Database): Promise<PostgresSagaStore> {
  await database.rows(sql`truncate eventloom_sagas`);
  return new PostgresSagaStore(database);
}

describeSagaStoreContract("pglite", async () => ({ store: await emptyStore(pglite) }));
describeSagaStoreContract("postgres", async () => ({ store: await emptyStore(server), rival: new PostgresSagaStore(rivalServer) }));

describe("PostgresSagaStore on a server", () => {
  it("gives each of 500 due sagas to exactly one of four claimers on their own connections, once per lease period", async () => {
    const store = await emptyStore(server);
    const count = 500;
    for (let index = 0; index < count; index += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, offset) => store.create(sagaRecord(at(index + offset)))));
    }
    const claimers = await Promise.all(
      Array.from({ length: 4 }, async (_, index) => {
        const database = await openDatabase({ databaseUrl: testDatabase.url, poolSize: 1 });
        return { owner: `worker-${index}`, database, store: new PostgresSagaStore(database) };
      }),
    );
    const leaseMs = 60_000;
    const claimAll = async (now: string): Promise<Map<string, string[]>> => {
      const claimedBy = new Map<string, string[]>();
      await Promise.all(
        claimers.map(async ({ owner, store: claimer }) => {
          // Bounded: while any saga is left, every round claims at least one.
          for (let round = 0; round < count; round += 1) {
            const claimed = await claimer.claimDue({ owner, now, leaseMs, limit: 9 });
            if (claimed.length === 0) return;
            for (const saga of claimed) claimedBy.set(saga.id, [...(claimedBy.get(saga.id) ?? []), owner]);
          }
        }),
      );
      return claimedBy;
    };
    try {
      const now = at(count);
      for (const period of [now, new Date(Date.parse(now) + leaseMs).toISOString()]) {
        const claimedBy = await claimAll(period);
        expect(claimedBy.size).toBe(count);
        expect([...claimedBy.values()].filter((owners) => owners.length !== 1)).toEqual([]);
        const rows = await server.rows<{ id: string; lease_owner: string }>(sql`select id, lease_owner from eventloom_sagas`);
        expect(rows.filter((row) => claimedBy.get(row.id)?.[0] !== row.lease_owner)).toEqual([]);
        // Within the period nothing more is due.
        expect(await store.claimDue({ owner: "late", now: period, leaseMs, limit: 10 })).toEqual([]);
      }
    } finally {
      await Promise.all(claimers.map(({ database }) => database.close()));
    }
  });
});
