import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { at, describeTimerStoreContract, timerDraft } from "@/server/engine/sagas/timer-store.contract";
import { migrate, openDatabase, type Database } from "../database";
import { createTestDatabase, type TestDatabase } from "../test-database";
import { PostgresTimerStore } from "./postgres-timer-store";

let pglite: Database;
let testDatabase: TestDatabase;
let server: Database;

beforeAll(async () => {
  pglite = await openDatabase();
  await migrate(pglite);
  testDatabase = await createTestDatabase("eventloom_timers");
  server = await openDatabase({ databaseUrl: testDatabase.url, poolSize: 8 });
  await migrate(server);
});

afterAll(async () => {
  await pglite?.close();
  await server?.close();
  await testDatabase?.drop();
});

async function emptyStore(database: Database): Promise<PostgresTimerStore> {
  await database.rows(sql`truncate eventloom_timers`);
  return new PostgresTimerStore(database);
}

describeTimerStoreContract("pglite", () => emptyStore(pglite));
describeTimerStoreContract("postgres", () => emptyStore(server));

describe("PostgresTimerStore on a server", () => {
  it("gives each due timer to one of several claimers racing on separate connections", async () => {
    const store = await emptyStore(server);
    const count = 300;
    for (let index = 0; index < count; index += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, offset) => store.schedule(timerDraft(`race-${index + offset}`, index + offset), at(0))));
    }
    const claimedBy = new Map<string, string[]>();
    const claimer = async (owner: string): Promise<void> => {
      // Bounded: 300 timers, at least one claimed per round while any is left.
      for (let round = 0; round < count; round += 1) {
        const claimed = await store.claimDue({ owner, now: at(count), leaseMs: 60_000, limit: 7 });
        if (claimed.length === 0) return;
        for (const timer of claimed) claimedBy.set(timer.id, [...(claimedBy.get(timer.id) ?? []), owner]);
      }
    };
    await Promise.all(["a", "b", "c", "d", "e", "f"].map(claimer));
    expect(claimedBy.size).toBe(count);
    expect([...claimedBy.values()].filter((owners) => owners.length !== 1)).toEqual([]);
    const [row] = await server.rows<{ claimed: string; attempts: string }>(
      sql`select count(*) filter (where claimed_by is not null) as claimed, sum(attempts) as attempts from eventloom_timers`,
    );
    expect({ claimed: Number(row?.claimed), attempts: Number(row?.attempts) }).toEqual({ claimed: count, attempts: count });
  });

});

describe("PostgresTimerStore on PGlite", () => {
  it("keeps times to the millisecond whatever the session's time zone, and refuses a status the engine never writes", async () => {
    const store = await emptyStore(pglite);
    // PGlite is one session: the setting holds for the store's statements.
    await pglite.rows(sql`set time zone 'America/Sao_Paulo'`);
    try {
      const dueAt = "2026-03-01T08:00:00.123Z";
      await store.schedule(timerDraft("exact", 0, { dueAt }), "2026-03-01T07:59:59.999Z");
      expect(await store.get("exact")).toMatchObject({ dueAt, createdAt: "2026-03-01T07:59:59.999Z" });
      expect(await store.nextDueAt()).toBe(dueAt);
      await expect(pglite.rows(sql`update eventloom_timers set status = 'paused'`)).rejects.toThrow();
    } finally {
      await pglite.rows(sql`set time zone 'UTC'`);
    }
  });
});
