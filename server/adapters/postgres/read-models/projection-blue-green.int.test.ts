import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ProjectionRunner } from "@/server/engine/cqrs/projection-runner";
import { PostgresAdvisoryLease } from "../advisory-lease";
import { migrate, openDatabase, type Database } from "../database";
import { PostgresEventStore } from "../postgres-event-store";
import { createTestDatabase, type TestDatabase } from "../test-database";
import { createKeyTotalsTemplate, expectedTotals, keyTotals, keyTotalsProjection, keyTotalsTables, seedEvents, type KeyTotalsRow } from "./key-totals-test-projection";
import { generationTableName, PostgresReadModelStore } from "./postgres-read-model-store";

/**
 * The "a blue/green rebuild switches over while queries keep answering": a live projection
 * over 30,000 events is rebuilt into a new generation while a client queries it without pause;
 * every answer, before and after the switch-over, must be the whole caught-up read model.
 */

const EVENTS = 30_000;
const KEYS = 400;
const BATCH_SIZE = 500;
/** Rows per page of the client's reads: several pages per answer. */
const PAGE = 150;
const WITHIN_MS = 90_000;
/** Bounds the client's loop whatever happens to the rebuild. */
const MAX_QUERIES = 20_000;

describe("projection blue/green rebuild (PostgreSQL)", () => {
  let testDb: TestDatabase;
  let database: Database;
  let events: PostgresEventStore;
  let expected: Map<string, KeyTotalsRow>;
  let lease: PostgresAdvisoryLease;
  let readModels: PostgresReadModelStore;
  let runner: ProjectionRunner;
  const errors: unknown[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase();
    database = await openDatabase({ databaseUrl: testDb.url });
    await migrate(database);
    await createKeyTotalsTemplate(database);
    events = new PostgresEventStore(database);
    expected = expectedTotals(await seedEvents(events, { total: EVENTS, keys: KEYS, perAppend: 1_000 }));
    lease = new PostgresAdvisoryLease(testDb.url);
    readModels = new PostgresReadModelStore(database, keyTotalsTables);
    runner = new ProjectionRunner({
      store: events,
      readModels,
      lease,
      owner: "blue-green",
      projections: [keyTotalsProjection],
      upcast: (event) => event,
      batchSize: BATCH_SIZE,
      onError: (error) => errors.push(error),
    });
  });

  afterAll(async () => {
    await runner?.stop();
    await lease?.close();
    await events?.close();
    await database?.close();
    await testDb?.drop();
  });

  /** One client answer: the active generation, its row count and every row, read page by page. */
  async function query(): Promise<{ generation: number; position: number; count: number; rows: Map<string, KeyTotalsRow> }> {
    const opened = await readModels.open(keyTotalsProjection.name);
    if (!opened) throw new Error("no active generation");
    const count = await opened.reader.count(keyTotals);
    const rows = new Map<string, KeyTotalsRow>();
    let after: string | undefined;
    for (let page = 0; page <= KEYS / PAGE + 1; page++) {
      const found = await opened.reader.find(keyTotals, { orderBy: { column: "valueSum", direction: "desc" }, limit: PAGE, ...(after === undefined ? {} : { after }) });
      for (const row of found.items) rows.set(row.key, row);
      if (found.next === null) break;
      after = found.next;
    }
    return { generation: opened.generation, position: opened.position, count, rows };
  }

  /** Queries without pause until the active generation is `generation`; every answer must be the whole read model. */
  async function queryUntilActive(generation: number): Promise<{ answersBefore: number }> {
    const head = await events.headPosition();
    const started = Date.now();
    let answersBefore = 0;
    for (let queries = 0; queries < MAX_QUERIES && Date.now() - started < WITHIN_MS; queries++) {
      const answer = await query();
      expect(answer.position).toBe(head);
      expect(answer.count).toBe(expected.size);
      expect(answer.rows).toEqual(expected);
      if (answer.generation === generation) return { answersBefore };
      answersBefore += 1;
    }
    throw new Error(`generation ${generation} was not active within ${WITHIN_MS} ms: ${JSON.stringify(await readModels.generations(keyTotalsProjection.name))}`);
  }

  async function statuses() {
    return (await readModels.generations(keyTotalsProjection.name)).map(({ generation, status }) => ({ generation, status }));
  }

  async function tableExists(name: string): Promise<boolean> {
    const [row] = await database.rows<{ found: string | null }>(sql`select to_regclass(${name})::text as "found"`);
    return (row?.found ?? null) !== null;
  }

  it(
    "switches over while queries keep answering, and drops the first generation after the second rebuild",
    async () => {
      runner.start();
      const head = await events.headPosition();
      await vi.waitFor(async () => expect((await readModels.open(keyTotalsProjection.name))?.position).toBe(head), { timeout: WITHIN_MS, interval: 50 });
      expect(await statuses()).toEqual([{ generation: 1, status: "active" }]);

      expect(await runner.rebuild(keyTotalsProjection.name)).toEqual({ generation: 2 });
      const first = await queryUntilActive(2);
      // The client kept being answered by generation 1 while generation 2 was built.
      expect(first.answersBefore).toBeGreaterThan(3);
      expect(await statuses()).toEqual([
        { generation: 1, status: "retired" },
        { generation: 2, status: "active" },
      ]);
      expect(await tableExists(generationTableName(keyTotals.name, 1))).toBe(true);

      expect(await runner.rebuild(keyTotalsProjection.name)).toEqual({ generation: 3 });
      const second = await queryUntilActive(3);
      expect(second.answersBefore).toBeGreaterThan(3);
      expect(await statuses()).toEqual([
        { generation: 2, status: "retired" },
        { generation: 3, status: "active" },
      ]);
      expect(await tableExists(generationTableName(keyTotals.name, 1))).toBe(false);
      expect(await tableExists(generationTableName(keyTotals.name, 2))).toBe(true);
      expect(errors).toEqual([]);
    },
    WITHIN_MS * 3 + 30_000,
  );
});
