import { sql, type SQL } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import type { ScheduleTimer, TimerListQuery, TimerRecord, TimerStatus, TimerStore } from "@/server/engine/sagas/timer-store";
import type { Database } from "../database";
import { timers } from "../schema";

/**
 * Durable timers in `eventloom_timers` (see schema/timers.ts), on PGlite and Postgres alike. Every
 * operation is one statement; a claim is `FOR UPDATE SKIP LOCKED`, so processes claiming at once
 * each get different timers, and every write after it is fenced on the claim's holder. Times are
 * the callers' (`now` is passed in), never the database's clock, so a test's clock rules.
 */

type TimerRow = Omit<TimerRecord, "status"> & { status: string };

/** A time as RFC 3339 UTC with milliseconds, as the engine writes them. */
const iso = (time: AnyPgColumn | SQL): SQL => sql`to_char(${time} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const ROW = sql`${timers.id} as "id", ${timers.kind} as "kind", ${timers.key} as "key", ${iso(timers.dueAt)} as "dueAt",
  ${timers.payload} as "payload", ${timers.status} as "status", ${timers.attempts} as "attempts", ${iso(timers.createdAt)} as "createdAt",
  ${iso(timers.firedAt)} as "firedAt", ${timers.lastError} as "lastError", ${timers.claimedBy} as "claimedBy", ${iso(timers.claimedUntil)} as "claimedUntil"`;

const toRecord = (row: TimerRow): TimerRecord => ({ ...row, status: row.status as TimerStatus });

/** Soonest due first; ids compared byte-wise (as JavaScript compares strings), whatever the database's collation. */
const SOONEST = sql`${timers.dueAt}, ${timers.id} collate "C"`;
const bySoonest = (a: TimerRecord, b: TimerRecord): number => Date.parse(a.dueAt) - Date.parse(b.dueAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const ofKinds = (kinds: string[] | undefined): SQL => (kinds === undefined ? sql`true` : sql`${timers.kind} in (${sql.join(kinds.map((kind) => sql`${kind}`), sql`, `)})`);

/** A timer nobody is firing: scheduled and unclaimed. */
const CANCELLABLE = sql`${timers.status} = 'scheduled' and ${timers.claimedBy} is null`;

export class PostgresTimerStore implements TimerStore {
  constructor(private readonly database: Database) {}

  async schedule(timer: ScheduleTimer, now: string): Promise<boolean> {
    const inserted = await this.database.rows(sql`
      insert into ${timers} (id, kind, key, status, due_at, payload, attempts, created_at)
      values (${timer.id}, ${timer.kind}, ${timer.key}, 'scheduled', ${timer.dueAt}::timestamptz, ${JSON.stringify(timer.payload ?? null)}::text::jsonb, 0, ${now}::timestamptz)
      on conflict (id) do nothing
      returning 1`);
    return inserted.length > 0;
  }

  async cancel(id: string): Promise<boolean> {
    const cancelled = await this.database.rows(sql`update ${timers} set status = 'cancelled' where ${timers.id} = ${id} and ${CANCELLABLE} returning 1`);
    return cancelled.length > 0;
  }

  async cancelByKey(key: string): Promise<number> {
    const cancelled = await this.database.rows(sql`update ${timers} set status = 'cancelled' where ${timers.key} = ${key} and ${CANCELLABLE} returning 1`);
    return cancelled.length;
  }

  async get(id: string): Promise<TimerRecord | undefined> {
    const [row] = await this.database.rows<TimerRow>(sql`select ${ROW} from ${timers} where ${timers.id} = ${id}`);
    return row && toRecord(row);
  }

  async list(query: TimerListQuery): Promise<TimerRecord[]> {
    const limit = Math.max(0, Math.floor(query.limit));
    if (limit === 0) return [];
    const conditions: SQL[] = [sql`true`];
    if (query.kind !== undefined) conditions.push(sql`${timers.kind} = ${query.kind}`);
    if (query.key !== undefined) conditions.push(sql`${timers.key} = ${query.key}`);
    if (query.status !== undefined) conditions.push(sql`${timers.status} = ${query.status}`);
    const rows = await this.database.rows<TimerRow>(
      sql`select ${ROW} from ${timers} where ${sql.join(conditions, sql` and `)} order by ${SOONEST} limit ${limit}`,
    );
    return rows.map(toRecord);
  }

  async claimDue(args: { owner: string; now: string; leaseMs: number; limit: number; kinds?: string[] }): Promise<TimerRecord[]> {
    const limit = Math.max(0, Math.floor(args.limit));
    if (limit === 0 || args.kinds?.length === 0) return [];
    const claimedUntil = new Date(Date.parse(args.now) + args.leaseMs).toISOString();
    // The claimable rows are locked in the subquery; a row another claimer holds locked is skipped,
    // and one it claimed and committed meanwhile fails the re-check of `claimed_until` on locking.
    const rows = await this.database.rows<TimerRow>(sql`
      update ${timers}
      set attempts = ${timers.attempts} + 1, claimed_by = ${args.owner}, claimed_until = ${claimedUntil}::timestamptz
      where ${timers.id} in (
        select ${timers.id} from ${timers}
        where ${timers.status} = 'scheduled' and ${timers.dueAt} <= ${args.now}::timestamptz
          and (${timers.claimedUntil} is null or ${timers.claimedUntil} <= ${args.now}::timestamptz) and ${ofKinds(args.kinds)}
        order by ${SOONEST}
        limit ${limit}
        for update skip locked
      )
      returning ${ROW}`);
    // RETURNING keeps no order.
    return rows.map(toRecord).sort(bySoonest);
  }

  async complete(id: string, owner: string, now: string): Promise<boolean> {
    const completed = await this.database.rows(sql`
      update ${timers} set status = 'fired', fired_at = ${now}::timestamptz, claimed_by = null, claimed_until = null
      where ${timers.id} = ${id} and ${timers.status} = 'scheduled' and ${timers.claimedBy} = ${owner}
      returning 1`);
    return completed.length > 0;
  }

  async release(id: string, owner: string, args: { dueAt: string; error: string }): Promise<boolean> {
    const released = await this.database.rows(sql`
      update ${timers} set due_at = ${args.dueAt}::timestamptz, last_error = ${args.error}, claimed_by = null, claimed_until = null
      where ${timers.id} = ${id} and ${timers.status} = 'scheduled' and ${timers.claimedBy} = ${owner}
      returning 1`);
    return released.length > 0;
  }

  async nextDueAt(kinds?: string[]): Promise<string | undefined> {
    if (kinds?.length === 0) return undefined;
    // greatest() skips NULLs: an unclaimed timer is claimable at its due time.
    const [row] = await this.database.rows<{ at: string | null }>(sql`
      select ${iso(sql`min(greatest(${timers.dueAt}, ${timers.claimedUntil}))`)} as "at"
      from ${timers} where ${timers.status} = 'scheduled' and ${ofKinds(kinds)}`);
    return row?.at ?? undefined;
  }

  async prune(before: string): Promise<number> {
    const removed = await this.database.rows(sql`
      delete from ${timers}
      where ${timers.status} in ('fired', 'cancelled') and coalesce(${timers.firedAt}, ${timers.dueAt}) < ${before}::timestamptz
      returning 1`);
    return removed.length;
  }
}
