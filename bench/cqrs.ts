import { setTimeout as sleep } from "node:timers/promises";
import { getTableColumns } from "drizzle-orm";
import postgres from "postgres";
import type { Database } from "@/server/adapters/postgres/database";
import { PostgresEventStore } from "@/server/adapters/postgres/postgres-event-store";
import { generationTableName, PostgresReadModelStore, templateTableName } from "@/server/adapters/postgres/read-models";
import { PostgresSnapshotStore } from "@/server/adapters/postgres/snapshot-store";
import { EventBus } from "@/server/engine/bus";
import type { EventEnvelope, StoredEvent } from "@/server/engine/core/envelope";
import { newId } from "@/server/engine/core/ids";
import type { Principal } from "@/server/engine/core/principal";
import { EventTypeRegistry } from "@/server/engine/core/registry";
import { CommandBus } from "@/server/engine/cqrs/command-bus";
import { applyEventsToRows, ProjectionRunner } from "@/server/engine/cqrs/projection-runner";
import type { ProjectedEvent, ProjectionDefinition, ReadModelRow } from "@/server/engine/cqrs/read-model";
import { InMemoryLease } from "@/server/engine/transport/lease";
import { domainCommands } from "@/server/domain/commands";
import { registerDomainEventTypes } from "@/server/domain/events";
import { domainProjections } from "@/server/domain/projections";
import { domainReadModelTables } from "@/server/runtime/read-models";
import { appendLog, domainLog } from "./cqrs-log";
import { withBenchDatabase } from "./database";
import { formatRate, formatRatio, type BenchRow } from "./table";
import { percentile } from "./transport-harness";

/**
 * The CQRS side on Postgres, each figure beside a baseline doing the same storage work without the
 * machinery, measured in the same run on a fresh database:
 *
 * - commands/s through the whole CommandBus pipeline (zod validation, scope, prepare, loading the
 *   aggregate from its snapshot and stream, the owner policy, the decider, registry validation of
 *   the decided events, the append with its expected version, the in-process bus) against
 *   PostgresEventStore.append of the very same envelopes with the same expected versions, so the
 *   ratio is what the pipeline adds to the append it ends with;
 * - projection catch-up of the domain's three projections over a log of 100,000 domain events
 *   (cqrs-log.ts), in pages of 1,000 and of 5,000 (the runner's default): a ProjectionRunner from
 *   position 0 to the head against the same final rows written per page with a plain postgres.js `INSERT ... ON CONFLICT DO UPDATE` into copies of the
 *   read-model tables, the pages read and upcast beforehand and folded in memory with the same
 *   `applyEventsToRows` (no loads, no transaction, no checkpoint). The ratio is what reading,
 *   upcasting, loading the touched rows and the checkpointed transaction cost. Both sides must end
 *   with identical tables, or the bench fails.
 */

/** A client's exam: created, its sheets submitted and taken through OCR and grading one by one, results published. */
const SHEETS_PER_EXAM = 4;
/** Exams per client: 1 + 5 x SHEETS_PER_EXAM + 1 = 22 commands each. */
const SEQUENTIAL_EXAMS = 40;
const CONCURRENT_CLIENTS = 16;
const CONCURRENT_EXAMS_PER_CLIENT = 8;
const CATCH_UP_EVENTS = 100_000;
/** Events per append while filling the log (not measured). */
const LOG_APPEND = 1_000;
/** Catch-ups in pages of 1,000, then of the runner's default 5,000 (fewer, bigger transactions). */
const CATCH_UP_PAGES = [1_000, 5_000];
/** Catch-ups per page size, the sides taking turns; the best of each side counts (the machine is shared). */
const CATCH_UP_ROUNDS = 2;
const POLL_MS = 25;
/** No run may take longer, however slow the machine: the bench fails instead. */
const RUN_LIMIT_MS = 120_000;

interface CommandCall {
  name: string;
  input: Record<string, unknown>;
}

/** One exam's life through commands, as a teacher's API key and the grading pipeline would send them. */
function examCommands(exam: number): CommandCall[] {
  const examId = newId();
  const batchId = newId();
  const calls: CommandCall[] = [
    { name: "exam.create", input: { examId, title: `Algebra midterm ${exam}`, subject: "Mathematics", totalScore: 100, questionCount: 40, durationMinutes: 90 } },
  ];
  for (let sheet = 0; sheet < SHEETS_PER_EXAM; sheet++) {
    const sheetId = newId();
    calls.push(
      { name: "sheet.submit", input: { sheetId, examId, studentId: `student-${exam}-${sheet}`, batchId, pageCount: 4 } },
      { name: "sheet.start_ocr", input: { sheetId, engine: "handwriting-v3" } },
      { name: "sheet.record_ocr", input: { sheetId, outcome: "completed", confidence: 0.94, answersDetected: 40, durationMs: 1_250 } },
      { name: "sheet.start_grading", input: { sheetId, method: "auto" } },
      { name: "sheet.record_grade", input: { sheetId, outcome: "completed", score: 50 + ((exam * 7 + sheet * 13) % 50), durationMs: 830 } },
    );
  }
  calls.push({ name: "exam.publish_results", input: { examId } });
  return calls;
}

function clientPrincipal(client: number): Principal {
  return { kind: "api_key", id: `bench-teacher-${client}`, name: `bench teacher ${client}`, scopes: ["commands:execute"] };
}

/** A run's throughput and its per-call latencies (ms, ascending). */
interface Measured {
  perSecond: number;
  latencies: number[];
}

/**
 * Runs every client's calls, the clients side by side and each client's calls one after another,
 * timing each call. Fails if the whole run takes longer than RUN_LIMIT_MS.
 */
async function runClients<T>(clients: readonly T[][], call: (item: T, client: number) => Promise<void>): Promise<Measured> {
  const latencies: number[] = [];
  const deadline = performance.now() + RUN_LIMIT_MS;
  const start = performance.now();
  await Promise.all(
    clients.map(async (items, client) => {
      for (const item of items) {
        if (performance.now() > deadline) throw new Error(`bench: a run took longer than ${RUN_LIMIT_MS} ms`);
        const before = performance.now();
        await call(item, client);
        latencies.push(performance.now() - before);
      }
    }),
  );
  const total = clients.reduce((sum, items) => sum + items.length, 0);
  return { perSecond: (total / (performance.now() - start)) * 1000, latencies: latencies.sort((a, b) => a - b) };
}

/** What an append needs to write an event again, under a new id, on a stream of the baseline's own. */
interface RawAppend {
  streamId: string;
  expectedVersion: number | "no_stream";
  event: EventEnvelope;
}

/** The events a command run appended, per client in command order, as the baseline appends them again. */
async function sameEnvelopes(store: PostgresEventStore, eventIds: readonly string[][], afterPosition: number): Promise<RawAppend[][]> {
  const byId = new Map<string, StoredEvent>();
  for (let after = afterPosition; ; ) {
    const page = await store.readAll({ after, limit: 1_000 });
    for (const event of page.events) byId.set(event.id, event);
    if (page.events.length === 0) break;
    after = page.lastPosition;
  }
  return eventIds.map((ids) =>
    ids.map((id) => {
      const stored = byId.get(id);
      if (!stored) throw new Error(`bench: event ${id} of the command run was not found in the log`);
      const { position: _position, streamid, streamversion, ...envelope } = stored;
      return {
        streamId: `raw-${streamid}`,
        expectedVersion: streamversion === 1 ? "no_stream" : streamversion - 1,
        event: { ...envelope, id: newId(), subject: `raw-${streamid}`, partitionkey: `raw-${streamid}` },
      };
    }),
  );
}

function domainRegistry(): EventTypeRegistry {
  const registry = new EventTypeRegistry();
  registerDomainEventTypes(registry);
  return registry;
}

function commandBus(database: Database, store: PostgresEventStore): CommandBus {
  const registry = domainRegistry();
  const bus = new CommandBus({ store, validator: registry, sink: new EventBus(), snapshots: new PostgresSnapshotStore(database) });
  for (const definition of domainCommands) bus.register(definition);
  return bus;
}

/** Commands through the pipeline, then the same events appended raw; throughput and latency rows. */
async function commandRows(database: Database, store: PostgresEventStore, clients: number, examsPerClient: number): Promise<BenchRow[]> {
  const bus = commandBus(database, store);
  const plans = Array.from({ length: clients }, (_, client) => Array.from({ length: examsPerClient }, (_, exam) => examCommands(client * 1_000 + exam)).flat());
  const headBefore = await store.headPosition();
  const eventIds: string[][] = plans.map(() => []);
  const ours = await runClients(plans, async ({ name, input }, client) => {
    const result = await bus.execute(name, input, { principal: clientPrincipal(client) });
    for (const event of result.events) eventIds[client]!.push(event.id);
  });
  const raw = await runClients(await sameEnvelopes(store, eventIds, headBefore), async ({ streamId, expectedVersion, event }) => {
    const outcome = await store.append([{ streamId, expectedVersion, events: [event] }]);
    if (outcome.status !== "appended") throw new Error(`bench: raw append on ${streamId} answered ${outcome.status}`);
  });

  const commands = plans.reduce((sum, plan) => sum + plan.length, 0).toLocaleString("en-US");
  const who = clients === 1 ? "1 client" : `${clients} concurrent clients`;
  const appendsBy = clients === 1 ? "1 caller" : `${clients} concurrent callers`;
  const latency = (measured: Measured) => `${percentile(measured.latencies, 50).toFixed(1)} / ${percentile(measured.latencies, 99).toFixed(1)} ms`;
  return [
    {
      name: `commands, ${who} (N=${commands})`,
      ours: formatRate(ours.perSecond, "commands"),
      baseline: formatRate(raw.perSecond, "appends"),
      baselineName: `PostgresEventStore.append of the same events, ${appendsBy}`,
      ratio: formatRatio(ours.perSecond, raw.perSecond),
    },
    {
      name: `command latency p50 / p99, ${who}`,
      ours: latency(ours),
      baseline: latency(raw),
      baselineName: "the same appends",
      // Above 1 = faster, as in the throughput rows.
      ratio: `${formatRatio(percentile(raw.latencies, 50), percentile(ours.latencies, 50))} / ${formatRatio(percentile(raw.latencies, 99), percentile(ours.latencies, 99))}`,
    },
  ];
}

/** Seconds `work` took. */
async function seconds(work: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
}

/**
 * Polls the projections' generations (one light query every POLL_MS, so the wait takes little
 * from the runner it waits for) until each projection's active generation is `generations`' one
 * and has applied the log up to `head`.
 */
async function caughtUp(sql: postgres.Sql, generations: ReadonlyMap<string, number>, head: number, failures: unknown[]): Promise<void> {
  const deadline = performance.now() + RUN_LIMIT_MS;
  for (;;) {
    if (failures.length > 0) throw failures[0];
    const active = await sql<Array<{ projection: string; generation: number }>>`
      select projection, generation from eventloom_projection_generations where status = 'active' and position >= ${head}`;
    if ([...generations].every(([projection, generation]) => active.some((row) => row.projection === projection && row.generation === generation))) return;
    if (performance.now() > deadline) throw new Error(`bench: the projections did not catch up within ${RUN_LIMIT_MS} ms`);
    await sleep(POLL_MS);
  }
}

/** A projection's pages as its runner reads them (its types, `limit` at a time), upcast. */
async function pagesOf(store: PostgresEventStore, registry: EventTypeRegistry, projection: ProjectionDefinition, limit: number): Promise<ProjectedEvent[][]> {
  const pages: ProjectedEvent[][] = [];
  for (let after = 0; ; ) {
    const page = await store.readAll({ after, types: projection.eventTypes, limit });
    if (page.events.length > 0) pages.push(page.events.map((event) => registry.upcast(event)));
    if (page.events.length < limit) return pages;
    after = page.lastPosition;
  }
}

/** The baseline's copy of a read-model table. */
const rawTableName = (logicalName: string) => `bench_raw_${logicalName}`;

/**
 * The baseline: each projection's pages folded in memory (rows kept in a Map, so nothing is
 * loaded) and every page's changed rows written with one multi-row INSERT ... ON CONFLICT DO
 * UPDATE per table (and a DELETE for rows that went away), autocommitted; projections side by side
 * on a connection each, as the runner runs them.
 */
async function rawCatchUp(sql: postgres.Sql, pages: ReadonlyMap<ProjectionDefinition, ProjectedEvent[][]>): Promise<void> {
  const statements = new Map(
    domainProjections.flatMap(({ tables }) =>
      tables.map(({ table }) => {
        const factory = domainReadModelTables[table.name];
        if (!factory) throw new Error(`bench: no drizzle table for ${table.name}`);
        const columns = Object.entries(getTableColumns(factory(rawTableName(table.name))));
        const key = columns.find(([property]) => property === table.key)?.[1].name ?? table.key;
        const names = columns.map(([, column]) => column.name);
        const updates = names.filter((name) => name !== key).map((name) => `"${name}" = excluded."${name}"`).join(", ");
        const upsert = (rows: readonly ReadModelRow[]) => {
          // Scalars and Dates as postgres.js sends them; jsonb columns as JSON (an array would go as a Postgres array).
          const records = rows.map((row) =>
            Object.fromEntries(
              columns.map(([property, column]): [string, postgres.ParameterOrJSON<never>] => {
                const value = row[property] ?? null;
                return [column.name, column.dataType === "json" ? sql.json(value as postgres.JSONValue) : (value as postgres.SerializableParameter)];
              }),
            ),
          );
          return sql`insert into ${sql(rawTableName(table.name))} ${sql(records, names)} on conflict (${sql(key)}) do update set ${sql.unsafe(updates)}`;
        };
        const remove = (keys: readonly string[]) => sql`delete from ${sql(rawTableName(table.name))} where ${sql(key)} in ${sql(keys)}`;
        return [table.name, { upsert, remove }] as const;
      }),
    ),
  );
  await Promise.all(
    [...pages].map(async ([projection, projectionPages]) => {
      const rows = new Map<string, Map<string, ReadModelRow>>(projection.tables.map(({ table }) => [table.name, new Map()]));
      for (const page of projectionPages) {
        const changes = await applyEventsToRows(projection, page, async (table, keys) => {
          const held = rows.get(table.name)!;
          return new Map(keys.flatMap((key) => (held.has(key) ? [[key, held.get(key)!] as const] : [])));
        });
        for (const { table, upserts, deletes } of changes) {
          const held = rows.get(table)!;
          const keyOf = projection.tables.find((t) => t.table.name === table)!.table.key;
          for (const row of upserts) held.set(row[keyOf] as string, row);
          for (const key of deletes) held.delete(key);
          if (upserts.length > 0) await statements.get(table)!.upsert(upserts);
          if (deletes.length > 0) await statements.get(table)!.remove(deletes);
        }
      }
    }),
  );
}

/** Row count and a digest of every row, in key order. */
async function tableDigest(sql: postgres.Sql, table: string, key: string): Promise<string> {
  const [row] = await sql<Array<{ digest: string }>>`
    select count(*) || ':' || md5(coalesce(string_agg(t::text, '|' order by t.${sql(key)}), '')) as digest from ${sql(table)} as t`;
  return row?.digest ?? "";
}

/** What both catch-ups of one log share. */
interface CatchUpLog {
  store: PostgresEventStore;
  readModels: PostgresReadModelStore;
  registry: EventTypeRegistry;
  sql: postgres.Sql;
  head: number;
}

/**
 * One catch-up from position 0 in pages of `page`, ours then the baseline's, and the tables
 * compared; answers both durations (s) and the events the projections read. The first run is a
 * first start (the runner creates each projection's generation and fills it); later ones are
 * blue/green rebuilds of the same projections, the work a version change or the dashboard's
 * rebuild button asks for.
 */
async function catchUp(log: CatchUpLog, page: number, firstStart: boolean): Promise<{ ours: number; baseline: number; read: number }> {
  const { store, readModels, registry, sql, head } = log;
  const failures: unknown[] = [];
  const runner = new ProjectionRunner({
    store,
    readModels,
    lease: new InMemoryLease(),
    owner: "bench",
    projections: domainProjections,
    upcast: (event) => registry.upcast(event),
    batchSize: page,
    onError: (error) => failures.push(error),
  });
  const built = new Map<string, number>();
  const ours = await seconds(async () => {
    for (const { name } of domainProjections) built.set(name, firstStart ? 1 : (await runner.rebuild(name)).generation);
    runner.start();
    try {
      await caughtUp(sql, built, head, failures);
    } finally {
      await runner.stop();
    }
  });

  const pages = new Map(await Promise.all(domainProjections.map(async (projection) => [projection, await pagesOf(store, registry, projection, page)] as const)));
  const tables = domainProjections.flatMap((projection) => projection.tables.map(({ table }) => ({ table, generation: built.get(projection.name)! })));
  for (const { table } of tables) await sql.unsafe(`truncate ${rawTableName(table.name)}`);
  const baseline = await seconds(() => rawCatchUp(sql, pages));

  for (const { table, generation } of tables) {
    const key = getTableColumns(domainReadModelTables[table.name]!(rawTableName(table.name)))[table.key]!.name;
    const [runnerRows, rawRows] = [await tableDigest(sql, generationTableName(table.name, generation), key), await tableDigest(sql, rawTableName(table.name), key)];
    if (runnerRows !== rawRows) throw new Error(`bench: the runner's ${table.name} (${runnerRows}) differs from the baseline's (${rawRows})`);
  }
  const read = [...pages.values()].reduce((sum, projectionPages) => sum + projectionPages.reduce((n, events) => n + events.length, 0), 0);
  return { ours, baseline, read };
}

/** Fills a log of CATCH_UP_EVENTS domain events, then catches the projections up from it once per page size. */
async function catchUpRows(url: string, database: Database): Promise<BenchRow[]> {
  const store = new PostgresEventStore(database);
  const sql = postgres(url, { max: domainProjections.length, onnotice: () => {} });
  try {
    await appendLog(store, domainLog(CATCH_UP_EVENTS), LOG_APPEND);
    // As autovacuum would have by the time a log this size is rebuilt from. Without statistics
    // the planner takes a type-filtered page through the type index and sorts every remaining
    // match for each page (docs/performance.md).
    await sql`analyze eventloom_events`;
    for (const { tables } of domainProjections) {
      for (const { table } of tables) await sql.unsafe(`create table ${rawTableName(table.name)} (like ${templateTableName(table.name)} including all)`);
    }
    const log: CatchUpLog = { store, readModels: new PostgresReadModelStore(database, domainReadModelTables), registry: domainRegistry(), sql, head: await store.headPosition() };
    const rows: BenchRow[] = [];
    for (const [index, page] of CATCH_UP_PAGES.entries()) {
      const runs = [];
      for (let round = 0; round < CATCH_UP_ROUNDS; round++) runs.push(await catchUp(log, page, index === 0 && round === 0));
      const ours = Math.min(...runs.map((run) => run.ours));
      const baseline = Math.min(...runs.map((run) => run.baseline));
      const pageSize = page.toLocaleString("en-US");
      rows.push({
        name: `projection catch-up, pages of ${pageSize}, ${CATCH_UP_EVENTS.toLocaleString("en-US")} events (${runs[0]!.read.toLocaleString("en-US")} read)`,
        ours: formatRate(CATCH_UP_EVENTS / ours, "events"),
        baseline: formatRate(CATCH_UP_EVENTS / baseline, "events"),
        baselineName: `same rows, INSERT ... ON CONFLICT DO UPDATE per ${pageSize}-event page (postgres.js)`,
        ratio: formatRatio(baseline, ours),
      });
    }
    return rows;
  } finally {
    await sql.end();
    await store.close();
  }
}

export async function benchCqrs(): Promise<BenchRow[]> {
  const commands = await withBenchDatabase({ poolSize: CONCURRENT_CLIENTS }, async ({ database }) => {
    const store = new PostgresEventStore(database);
    try {
      return [
        ...(await commandRows(database, store, 1, SEQUENTIAL_EXAMS)),
        ...(await commandRows(database, store, CONCURRENT_CLIENTS, CONCURRENT_EXAMS_PER_CLIENT)),
      ];
    } finally {
      await store.close();
    }
  });
  const catchUp = await withBenchDatabase({}, ({ url, database }) => catchUpRows(url, database));
  return [...commands, ...catchUp];
}
