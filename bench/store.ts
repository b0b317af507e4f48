import postgres from "postgres";
import { openDatabase } from "@/server/adapters/postgres/database";
import { GroupCommitAppender } from "@/server/engine/store/group-commit";
import { PostgresEventStore } from "@/server/adapters/postgres/postgres-event-store";
import { buildEnvelope, type EventEnvelope } from "@/server/engine/core/envelope";
import { withBenchDatabase } from "./database";
import { formatRate, formatRatio, type BenchRow } from "./table";

/**
 * The Postgres event store against raw postgres.js statements writing and reading the same rows.
 * The baseline table is a copy of eventloom_events (same columns and indexes) whose position comes
 * from an identity column: what a naive log does, without the head lock, expected-version checks,
 * duplicate detection or stream bookkeeping. Runs on a fresh database, dropped afterwards.
 * `BENCH_DATABASE_URL` (default: TEST_DATABASE_URL, then the local server) names the admin connection.
 */

const SINGLE_APPENDS = 2_000;
const BATCH_SIZE = 500;
const BATCHED_EVENTS = 100_000;
const READ_PAGE = 1_000;
const CONCURRENT_CLIENTS = 8;
const APPENDS_PER_CLIENT = 500;

type Sql = postgres.Sql;

/** A realistic envelope: ~200 bytes of data, subject and partition key set. */
function sampleEvent(n: number): EventEnvelope {
  return buildEnvelope({
    type: n % 3 === 0 ? "exam.sheet.graded" : "exam.answer.recorded",
    subject: `exam-${n % 97}`,
    partitionkey: `exam-${n % 97}`,
    data: { examId: `exam-${n % 97}`, sheetId: `sheet-${n}`, question: n % 40, answer: "B", score: (n % 10) / 2, comment: "x".repeat(120) },
  });
}

/** The baseline's row: the same columns the store writes, minus the position the identity assigns. */
function rawRow(event: EventEnvelope, streamId: string, streamVersion: number) {
  return {
    id: event.id,
    stream_id: streamId,
    stream_version: streamVersion,
    type: event.type,
    source: event.source,
    specversion: event.specversion,
    time: event.time,
    subject: event.subject ?? null,
    datacontenttype: event.datacontenttype,
    dataschema: event.dataschema ?? null,
    data: event.data as postgres.JSONValue,
    correlationid: event.correlationid,
    causationid: event.causationid ?? null,
    traceparent: event.traceparent,
    tracestate: event.tracestate ?? null,
    priority: event.priority,
    partitionkey: event.partitionkey ?? null,
    schemaversion: event.schemaversion,
  };
}

async function timed(events: number, work: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await work();
  return (events / (performance.now() - start)) * 1000;
}

function row(name: string, ours: number, baseline: number, baselineName: string): BenchRow {
  return { name, ours: formatRate(ours, "events"), baseline: formatRate(baseline, "events"), baselineName, ratio: formatRatio(ours, baseline) };
}

/** Stream versions for the baseline's rows, counted client-side. */
function streamCounter() {
  const versions = new Map<string, number>();
  return (streamId: string) => {
    const next = (versions.get(streamId) ?? 0) + 1;
    versions.set(streamId, next);
    return next;
  };
}

async function singleAppends(store: PostgresEventStore, raw: Sql): Promise<BenchRow> {
  const ours = await timed(SINGLE_APPENDS, async () => {
    for (let n = 0; n < SINGLE_APPENDS; n++) {
      await store.append([{ streamId: `single-${n % 50}`, expectedVersion: "any", events: [sampleEvent(n)] }]);
    }
  });
  const nextVersion = streamCounter();
  const baseline = await timed(SINGLE_APPENDS, async () => {
    for (let n = 0; n < SINGLE_APPENDS; n++) {
      const streamId = `single-${n % 50}`;
      await raw`insert into bench_raw_events ${raw(rawRow(sampleEvent(n), streamId, nextVersion(streamId)))}`;
    }
  });
  return row(`append, 1 event per call, sequential (N=${SINGLE_APPENDS.toLocaleString("en-US")})`, ours, baseline, "single-row INSERT (postgres.js)");
}

async function batchedAppends(store: PostgresEventStore, raw: Sql): Promise<BenchRow> {
  const batches = BATCHED_EVENTS / BATCH_SIZE;
  // Ten streams of 50 events per append: the multi-stream path, with its per-stream version checks.
  const batch = (b: number) =>
    Array.from({ length: 10 }, (_, s) => ({
      streamId: `batch-${b % 200}-${s}`,
      expectedVersion: "any" as const,
      events: Array.from({ length: BATCH_SIZE / 10 }, (_, i) => sampleEvent(b * BATCH_SIZE + s * 50 + i)),
    }));
  const ours = await timed(BATCHED_EVENTS, async () => {
    for (let b = 0; b < batches; b++) await store.append(batch(b));
  });
  const nextVersion = streamCounter();
  const baseline = await timed(BATCHED_EVENTS, async () => {
    for (let b = 0; b < batches; b++) {
      const rows = batch(b).flatMap(({ streamId, events }) => events.map((event) => rawRow(event, streamId, nextVersion(streamId))));
      await raw`insert into bench_raw_events ${raw(rows)}`;
    }
  });
  return row(`append, ${BATCH_SIZE} events per call (N=${BATCHED_EVENTS.toLocaleString("en-US")})`, ours, baseline, `${BATCH_SIZE}-row INSERT (postgres.js)`);
}

async function readAll(store: PostgresEventStore, raw: Sql, total: number): Promise<BenchRow> {
  const ours = await timed(total, async () => {
    let after = 0;
    for (;;) {
      const page = await store.readAll({ after, limit: READ_PAGE });
      if (page.events.length === 0) break;
      after = page.lastPosition;
    }
  });
  const baseline = await timed(total, async () => {
    let after = 0;
    for (;;) {
      const rows = await raw`select * from eventloom_events where position > ${after} order by position limit ${READ_PAGE}`;
      const last = rows[rows.length - 1];
      if (!last) break;
      after = Number(last.position);
    }
  });
  return row(`readAll, pages of ${READ_PAGE.toLocaleString("en-US")} (N=${total.toLocaleString("en-US")})`, ours, baseline, "SELECT ... WHERE position > $1 LIMIT");
}

async function concurrentAppends(url: string): Promise<BenchRow> {
  const total = CONCURRENT_CLIENTS * APPENDS_PER_CLIENT;
  const databases = await Promise.all(Array.from({ length: CONCURRENT_CLIENTS }, () => openDatabase({ databaseUrl: url, poolSize: 1 })));
  const raws = Array.from({ length: CONCURRENT_CLIENTS }, () => postgres(url, { max: 1, onnotice: () => {} }));
  try {
    const stores = databases.map((database) => new PostgresEventStore(database));
    const ours = await timed(total, async () => {
      await Promise.all(
        stores.map(async (store, client) => {
          for (let n = 0; n < APPENDS_PER_CLIENT; n++) {
            await store.append([{ streamId: `concurrent-${client}-${n % 10}`, expectedVersion: "any", events: [sampleEvent(n)] }]);
          }
        }),
      );
    });
    await Promise.all(stores.map((store) => store.close()));
    const baseline = await timed(total, async () => {
      await Promise.all(
        raws.map(async (raw, client) => {
          const nextVersion = streamCounter();
          for (let n = 0; n < APPENDS_PER_CLIENT; n++) {
            const streamId = `concurrent-${client}-${n % 10}`;
            await raw`insert into bench_raw_events ${raw(rawRow(sampleEvent(n), streamId, nextVersion(streamId)))}`;
          }
        }),
      );
    });
    return row(`append, 1 event per call, ${CONCURRENT_CLIENTS} clients (N=${total.toLocaleString("en-US")})`, ours, baseline, "single-row INSERTs, 8 connections");
  } finally {
    await Promise.all([...databases.map((database) => database.close()), ...raws.map((raw) => raw.end())]);
  }
}

/**
 * Many callers in one process, each publishing single events (the REST publish path): group
 * commit turns their concurrent appends into few transactions under the head lock.
 */
async function groupCommittedAppends(store: PostgresEventStore, url: string): Promise<BenchRow> {
  const callers = 64;
  const perCaller = 150;
  const total = callers * perCaller;
  const group = new GroupCommitAppender(store);
  const ours = await timed(total, async () => {
    await Promise.all(
      Array.from({ length: callers }, async (_, caller) => {
        for (let n = 0; n < perCaller; n++) {
          await group.append([{ streamId: `group-${caller}`, expectedVersion: "any", events: [sampleEvent(n)] }]);
        }
      }),
    );
  });
  const pool = postgres(url, { max: 10, onnotice: () => {} });
  try {
    const nextVersion = streamCounter();
    const baseline = await timed(total, async () => {
      await Promise.all(
        Array.from({ length: callers }, async (_, caller) => {
          for (let n = 0; n < perCaller; n++) {
            const streamId = `group-${caller}`;
            await pool`insert into bench_raw_events ${pool(rawRow(sampleEvent(n), streamId, nextVersion(streamId)))}`;
          }
        }),
      );
    });
    return row(`append, 1 event per call, ${callers} callers, group commit (N=${total.toLocaleString("en-US")})`, ours, baseline, "single-row INSERTs, pool of 10");
  } finally {
    await pool.end();
  }
}

export async function benchStore(): Promise<BenchRow[]> {
  return withBenchDatabase({}, async ({ url, database }) => {
    const raw = postgres(url, { max: 1, onnotice: () => {} });
    const store = new PostgresEventStore(database);
    try {
      await raw.unsafe(`
        create table bench_raw_events (like eventloom_events including all);
        alter table bench_raw_events alter column position add generated by default as identity`);
      const rows = [await singleAppends(store, raw), await batchedAppends(store, raw)];
      rows.push(await readAll(store, raw, await store.headPosition()));
      rows.push(await concurrentAppends(url));
      rows.push(await groupCommittedAppends(store, url));
      return rows;
    } finally {
      await store.close();
      await raw.end();
    }
  });
}
