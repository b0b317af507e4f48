import { decodeListCursor, encodeListCursor } from "@/server/engine/core/list-cursor";
import { sql, type SQL } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import { isUuid } from "@/server/engine/core/ids";
import {
  activeSagaStatuses,
  SagaLeaseLostError,
  type ClaimArgs,
  type SagaCounts,
  type SagaKind,
  type SagaListQuery,
  type SagaPage,
  type SagaRecord,
  type SagaSignalOutcome,
  type SagaStatus,
  type SagaStore,
} from "@/server/engine/sagas/saga-store";
import type { Database } from "../database";
import { sagas } from "../schema";

/**
 * Saga state in `eventloom_sagas` (see schema/sagas.ts), on PGlite and Postgres alike. Every
 * operation is one statement (a lost save reads once more, to say why): claims lock their rows
 * `FOR UPDATE SKIP LOCKED`, so concurrent claimers get different sagas; a save is a compare-and-set
 * on the revision and the lease. Times are the caller's (`now` is passed in), never the database
 * clock, so the orchestrator's clock (a test's fake one) rules leases and due times.
 */

type SagaRow = Omit<SagaRecord, "kind" | "status"> & { kind: string; status: string };

/** A time as RFC 3339 UTC with milliseconds, as the engine writes them. */
const iso = (column: AnyPgColumn): SQL => sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Every read selects this. `awaiting` travels as JSON, which both drivers parse alike (arrays they may not). */
const ROW = sql`${sagas.id} as "id", ${sagas.type} as "type", ${sagas.kind} as "kind", ${sagas.status} as "status",
  ${sagas.subject} as "subject", ${sagas.correlationid} as "correlationid", ${sagas.traceparent} as "traceparent",
  ${sagas.parentId} as "parentId", ${sagas.input} as "input", ${sagas.data} as "data", ${sagas.steps} as "steps",
  ${sagas.compensations} as "compensations", ${sagas.error} as "error", ${sagas.cursor} as "cursor", ${iso(sagas.wakeAt)} as "wakeAt",
  to_jsonb(${sagas.awaiting}) as "awaiting", ${sagas.signals} as "signals", ${sagas.cancelRequested} as "cancelRequested",
  ${iso(sagas.startedAt)} as "startedAt", ${iso(sagas.updatedAt)} as "updatedAt", ${iso(sagas.endedAt)} as "endedAt",
  ${sagas.revision} as "revision", ${sagas.leaseOwner} as "leaseOwner", ${iso(sagas.leaseUntil)} as "leaseUntil"`;

function toRecord(row: SagaRow): SagaRecord {
  return {
    ...row,
    kind: row.kind as SagaKind,
    status: row.status as SagaStatus,
    input: row.input ?? null,
    data: row.data ?? null,
    error: row.error ?? null,
  };
}

/** JSON as a parameter: the text goes over the wire and becomes jsonb on the server (null stays SQL NULL). */
const json = (value: unknown): SQL => (value === null || value === undefined ? sql`null::jsonb` : sql`${JSON.stringify(value)}::text::jsonb`);
const time = (value: string | null): SQL => (value === null ? sql`null::timestamptz` : sql`${value}::timestamptz`);
/** A text[] as one parameter in array-literal form (the drivers disagree on array parameters). */
const textArray = (values: string[]): SQL => sql`${`{${values.map((value) => `"${value.replace(/["\\]/g, "\\$&")}"`).join(",")}}`}::text[]`;

const leaseEnd = (args: ClaimArgs): string => new Date(Date.parse(args.now) + args.leaseMs).toISOString();

/** Literal, not parameters: the due index is partial on exactly this predicate. */
const ACTIVE = sql.raw(`status in (${activeSagaStatuses.map((status) => `'${status}'`).join(", ")})`);
const leaseFree = (now: string): SQL => sql`(${sagas.leaseUntil} is null or ${sagas.leaseUntil} <= ${now}::timestamptz)`;


/** Soonest wake first, as the claim's subquery ordered them (RETURNING keeps no order). */
const byWake = (a: SagaRecord, b: SagaRecord): number => Date.parse(a.wakeAt ?? "") - Date.parse(b.wakeAt ?? "") || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class PostgresSagaStore implements SagaStore {
  constructor(private readonly database: Database) {}

  async create(saga: SagaRecord, lease?: ClaimArgs): Promise<{ created: boolean; saga: SagaRecord }> {
    const [inserted] = await this.database.rows<SagaRow>(sql`
      insert into ${sagas} (id, type, kind, status, subject, correlationid, traceparent, parent_id, input, data, steps, compensations,
                            error, cursor, wake_at, awaiting, signals, cancel_requested, started_at, updated_at, ended_at, revision,
                            lease_owner, lease_until)
      values (${this.values(saga, 1, lease ? lease.owner : null, lease ? leaseEnd(lease) : null)})
      on conflict (id) do nothing
      returning ${ROW}`);
    if (inserted) return { created: true, saga: toRecord(inserted) };
    // The insert waited for a concurrent creator to commit, so this statement's snapshot sees its row.
    const existing = await this.get(saga.id);
    if (!existing) throw new Error(`saga ${saga.id} was neither inserted nor found`);
    return { created: false, saga: existing };
  }

  async get(id: string): Promise<SagaRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.database.rows<SagaRow>(sql`select ${ROW} from ${sagas} where ${sagas.id} = ${id}`);
    return row && toRecord(row);
  }

  async list(query: SagaListQuery): Promise<SagaPage> {
    const after = query.cursor === undefined ? undefined : decodeListCursor(query.cursor);
    const limit = Math.max(0, Math.floor(query.limit));
    if (limit === 0) return { items: [], nextCursor: null };
    if (query.parentId !== undefined && !isUuid(query.parentId)) return { items: [], nextCursor: null };
    const conditions: SQL[] = [sql`true`];
    if (query.type !== undefined) conditions.push(sql`${sagas.type} = ${query.type}`);
    if (query.status !== undefined) conditions.push(sql`${sagas.status} = ${query.status}`);
    if (query.correlationid !== undefined) conditions.push(sql`${sagas.correlationid} = ${query.correlationid}`);
    if (query.kind !== undefined) conditions.push(sql`${sagas.kind} = ${query.kind}`);
    if (query.parentId !== undefined) conditions.push(sql`${sagas.parentId} = ${query.parentId}::uuid`);
    if (after) conditions.push(sql`(${sagas.startedAt}, ${sagas.id}) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`);
    // One row past the page says whether there is a next one.
    const rows = await this.database.rows<SagaRow>(sql`
      select ${ROW} from ${sagas} where ${sql.join(conditions, sql` and `)}
      order by ${sagas.startedAt} desc, ${sagas.id} desc limit ${limit + 1}`);
    const items = rows.slice(0, limit).map(toRecord);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeListCursor({ createdAt: last.startedAt, id: last.id }) : null };
  }

  async counts(): Promise<SagaCounts> {
    const rows = await this.database.rows<{ type: string; status: SagaStatus; count: number | string }>(
      sql`select ${sagas.type} as "type", ${sagas.status} as "status", count(*) as "count" from ${sagas} group by 1, 2`,
    );
    const byType: SagaCounts["byType"] = {};
    for (const row of rows) (byType[row.type] ??= {})[row.status] = Number(row.count);
    return { byType };
  }

  async claimDue(args: ClaimArgs & { limit: number }): Promise<SagaRecord[]> {
    const limit = Math.max(0, Math.floor(args.limit));
    if (limit === 0) return [];
    // The claimable rows are locked in the subquery; a row another claimer holds locked is skipped,
    // and one it claimed and committed meanwhile fails the re-check of the lease on locking.
    const rows = await this.database.rows<SagaRow>(sql`
      update ${sagas} set lease_owner = ${args.owner}, lease_until = ${leaseEnd(args)}::timestamptz
      where ${sagas.id} in (
        select ${sagas.id} from ${sagas}
        where ${ACTIVE} and ${sagas.wakeAt} <= ${args.now}::timestamptz and ${leaseFree(args.now)}
        order by ${sagas.wakeAt}, ${sagas.id}
        limit ${limit}
        for update skip locked)
      returning ${ROW}`);
    return rows.map(toRecord).sort(byWake);
  }

  async claim(id: string, args: ClaimArgs): Promise<SagaRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.database.rows<SagaRow>(sql`
      update ${sagas} set lease_owner = ${args.owner}, lease_until = ${leaseEnd(args)}::timestamptz
      where ${sagas.id} = ${id} and ${leaseFree(args.now)}
      returning ${ROW}`);
    return row && toRecord(row);
  }

  async save(next: SagaRecord, args: ClaimArgs & { release: boolean }): Promise<SagaRecord> {
    const [row] = await this.database.rows<SagaRow>(sql`
      update ${sagas} set
        status = ${next.status}, subject = ${next.subject}, correlationid = ${next.correlationid}, traceparent = ${next.traceparent},
        data = ${json(next.data)}, steps = ${json(next.steps)}, compensations = ${json(next.compensations)}, error = ${json(next.error)},
        cursor = ${next.cursor}::integer, wake_at = ${time(next.wakeAt)}, awaiting = ${textArray(next.awaiting)}, signals = ${json(next.signals)},
        cancel_requested = ${next.cancelRequested}::boolean, updated_at = ${time(next.updatedAt)}, ended_at = ${time(next.endedAt)},
        revision = revision + 1,
        lease_owner = ${args.release ? null : args.owner}::text, lease_until = ${time(args.release ? null : leaseEnd(args))}
      where ${sagas.id} = ${next.id} and ${sagas.revision} = ${next.revision}::integer
        and ${sagas.leaseOwner} = ${args.owner} and ${sagas.leaseUntil} > ${args.now}::timestamptz
      returning ${ROW}`);
    if (row) return toRecord(row);
    throw new SagaLeaseLostError(next.id, await this.whyLost(next, args));
  }

  async signal(key: string, outcome: SagaSignalOutcome, now: string): Promise<string[]> {
    // `awaiting <> '{}'` repeats the awaiting index's predicate, so the planner may use it.
    const rows = await this.database.rows<{ id: string }>(sql`
      update ${sagas} set signals = signals || jsonb_build_object(${key}::text, ${json(outcome)}), wake_at = ${now}::timestamptz,
        revision = revision + 1, lease_owner = null, lease_until = null
      where ${sagas.awaiting} @> array[${key}::text] and ${sagas.awaiting} <> '{}'::text[] and ${ACTIVE}
        and not jsonb_exists(${sagas.signals}, ${key}::text)
      returning ${sagas.id} as "id"`);
    return rows.map((row) => row.id);
  }

  async update(
    id: string,
    expectedRevision: number,
    patch: Partial<Pick<SagaRecord, "status" | "cancelRequested" | "wakeAt" | "cursor" | "compensations" | "error">>,
    now: string,
  ): Promise<SagaRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const sets: SQL[] = [
      sql`wake_at = ${time(patch.wakeAt === undefined ? now : patch.wakeAt)}`,
      sql`updated_at = ${now}::timestamptz`,
      sql`revision = revision + 1`,
      sql`lease_owner = null`,
      sql`lease_until = null`,
    ];
    if (patch.status !== undefined) sets.push(sql`status = ${patch.status}`);
    if (patch.cancelRequested !== undefined) sets.push(sql`cancel_requested = ${patch.cancelRequested}::boolean`);
    if (patch.cursor !== undefined) sets.push(sql`cursor = ${patch.cursor}::integer`);
    if (patch.compensations !== undefined) sets.push(sql`compensations = ${json(patch.compensations)}`);
    if (patch.error !== undefined) sets.push(sql`error = ${json(patch.error)}`);
    const [row] = await this.database.rows<SagaRow>(sql`
      update ${sagas} set ${sql.join(sets, sql`, `)}
      where ${sagas.id} = ${id} and ${sagas.revision} = ${expectedRevision}::integer
      returning ${ROW}`);
    return row && toRecord(row);
  }

  async put(saga: SagaRecord): Promise<void> {
    await this.database.rows(sql`
      insert into ${sagas} (id, type, kind, status, subject, correlationid, traceparent, parent_id, input, data, steps, compensations,
                            error, cursor, wake_at, awaiting, signals, cancel_requested, started_at, updated_at, ended_at, revision,
                            lease_owner, lease_until)
      values (${this.values(saga, saga.revision, saga.leaseOwner, saga.leaseUntil)})
      on conflict (id) do update set
        type = excluded.type, kind = excluded.kind, status = excluded.status, subject = excluded.subject,
        correlationid = excluded.correlationid, traceparent = excluded.traceparent, parent_id = excluded.parent_id,
        input = excluded.input, data = excluded.data, steps = excluded.steps, compensations = excluded.compensations,
        error = excluded.error, cursor = excluded.cursor, wake_at = excluded.wake_at, awaiting = excluded.awaiting,
        signals = excluded.signals, cancel_requested = excluded.cancel_requested, started_at = excluded.started_at,
        updated_at = excluded.updated_at, ended_at = excluded.ended_at, revision = excluded.revision,
        lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
      where ${sagas.revision} <= excluded.revision`);
  }

  /** Every column of an insert, in the order `create` and `put` list them. */
  private values(saga: SagaRecord, revision: number, leaseOwner: string | null, leaseUntil: string | null): SQL {
    return sql.join(
      [
        sql`${saga.id}::uuid`,
        sql`${saga.type}`,
        sql`${saga.kind}`,
        sql`${saga.status}`,
        sql`${saga.subject}::text`,
        sql`${saga.correlationid}`,
        sql`${saga.traceparent}::text`,
        sql`${saga.parentId}::uuid`,
        json(saga.input),
        json(saga.data),
        json(saga.steps),
        json(saga.compensations),
        json(saga.error),
        sql`${saga.cursor}::integer`,
        time(saga.wakeAt),
        textArray(saga.awaiting),
        json(saga.signals),
        sql`${saga.cancelRequested}::boolean`,
        time(saga.startedAt),
        time(saga.updatedAt),
        time(saga.endedAt),
        sql`${revision}::integer`,
        sql`${leaseOwner}::text`,
        time(leaseUntil),
      ],
      sql`, `,
    );
  }

  /** Says which check a save failed, for the error (the save itself wrote nothing). */
  private async whyLost(next: SagaRecord, args: ClaimArgs): Promise<string> {
    const stored = await this.get(next.id);
    if (!stored) return `saga ${next.id} does not exist`;
    if (stored.revision !== next.revision) return `saga ${next.id} moved on to revision ${stored.revision} (the save was of revision ${next.revision})`;
    if (stored.leaseOwner !== args.owner) return `saga ${next.id} is leased to ${stored.leaseOwner ?? "nobody"}, not ${args.owner}`;
    return `the lease of ${args.owner} on saga ${next.id} ran out at ${stored.leaseUntil} (now ${args.now})`;
  }
}
