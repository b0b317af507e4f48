import { sql } from "drizzle-orm";
import { doublePrecision, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractItems, contractProjection, describeReadModelStoreContract } from "@/server/engine/cqrs/read-model-store.contract";
import { migrate, openDatabase, type Database } from "../database";
import { createTestDatabase, type TestDatabase } from "../test-database";
import { PostgresReadModelStore, templateTableName, type ReadModelTableFactories } from "./postgres-read-model-store";

const contractItemColumns = {
  id: text("id").primaryKey(),
  group: text("group"),
  amount: doublePrecision("amount").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
  tags: jsonb("tags").$type<string[]>().notNull(),
};

const factories: ReadModelTableFactories = { [contractItems.name]: (name) => pgTable(name, contractItemColumns) };

/** What a migration would create for a domain table: the template every generation copies. */
async function createContractTemplate(database: Database): Promise<void> {
  await database.rows(
    sql`create table ${sql.identifier(templateTableName(contractItems.name))} (
          id text primary key, "group" text, amount double precision not null, updated_at timestamptz not null, tags jsonb not null)`,
  );
}

/** Every generation and its tables gone: each contract test starts with none. */
async function dropAllGenerations(database: Database): Promise<void> {
  const rows = await database.rows<{ tables: string[] }>(sql`select tables from eventloom_projection_generations`);
  for (const name of rows.flatMap(({ tables }) => tables)) await database.rows(sql`drop table if exists ${sql.identifier(name)}`);
  await database.rows(sql`delete from eventloom_projection_generations`);
}

async function tableExists(database: Database, name: string): Promise<boolean> {
  const [row] = await database.rows<{ found: string | null }>(sql`select to_regclass(${name})::text as found`);
  return row?.found !== null && row?.found !== undefined;
}

function describeOn(kind: string, open: () => Promise<{ database: Database; release(): Promise<void> }>): void {
  describe(`PostgresReadModelStore on ${kind}`, () => {
    let database: Database;
    let release: () => Promise<void>;

    beforeAll(async () => {
      ({ database, release } = await open());
      await migrate(database);
      await createContractTemplate(database);
    });

    afterAll(async () => {
      await release();
    });

    describeReadModelStoreContract(kind, async () => {
      await dropAllGenerations(database);
      return { store: new PostgresReadModelStore(database, factories), close: async () => {} };
    });

    describe("physical tables", () => {
      const target = (generation: number) => ({ projection: contractProjection, generation });

      it("creates each generation's tables from the template, and drops the twice-retired and the abandoned ones", async () => {
        await dropAllGenerations(database);
        const store = new PostgresReadModelStore(database, factories);
        for (const generation of [1, 2, 3]) {
          await store.createGeneration(target(generation));
          await store.activate(target(generation));
        }
        await store.createGeneration(target(4));

        expect(await tableExists(database, "rm_contract_items__g1")).toBe(false);
        expect(await tableExists(database, "rm_contract_items__g2")).toBe(true);
        expect(await tableExists(database, "rm_contract_items__g3")).toBe(true);
        expect(await tableExists(database, "rm_contract_items__g4")).toBe(true);
        await store.dropGeneration(target(4));
        expect(await tableExists(database, "rm_contract_items__g4")).toBe(false);
      });

      it("gives each generation's tables the template's storage parameters", async () => {
        await dropAllGenerations(database);
        const store = new PostgresReadModelStore(database, factories);
        const reloptions = async (name: string) =>
          (await database.rows<{ options: string[] | null }>(sql`select reloptions as "options" from pg_class where oid = ${name}::regclass`))[0]?.options;
        await database.rows(sql`alter table ${sql.identifier(templateTableName(contractItems.name))} set (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05)`);
        try {
          await store.createGeneration(target(1));
          expect(await reloptions("rm_contract_items__g1")).toEqual(["fillfactor=70", "autovacuum_vacuum_scale_factor=0.05"]);
        } finally {
          await database.rows(sql`alter table ${sql.identifier(templateTableName(contractItems.name))} reset (fillfactor, autovacuum_vacuum_scale_factor)`);
        }
        await store.createGeneration(target(2));
        expect(await reloptions("rm_contract_items__g2")).toBeNull();
      });

      it("names the table that has no factory, and creates nothing", async () => {
        await dropAllGenerations(database);
        const store = new PostgresReadModelStore(database, {});
        await expect(store.createGeneration(target(1))).rejects.toThrow(/contract_items has no drizzle table factory/);
        expect(await store.generations(contractProjection.name)).toEqual([]);
      });

      it("refuses a factory that ignores the physical name it is given", async () => {
        await dropAllGenerations(database);
        const store = new PostgresReadModelStore(database, { [contractItems.name]: () => pgTable("rm_contract_items", contractItemColumns) });
        await expect(store.createGeneration(target(1))).rejects.toThrow(/asked for rm_contract_items__g1, got rm_contract_items/);
      });
    });
  });
}

describeOn("PGlite", async () => {
  const database = await openDatabase();
  return { database, release: () => database.close() };
});

describeOn("PostgreSQL", async () => {
  const testDb: TestDatabase = await createTestDatabase();
  const database = await openDatabase({ databaseUrl: testDb.url });
  return {
    database,
    async release() {
      await database.close();
      await testDb.drop();
    },
  };
});
