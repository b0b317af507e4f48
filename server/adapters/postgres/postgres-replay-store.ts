import { eq, sql, type SQL } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import { isUuid } from "@/server/engine/core/ids";
import type { CreateReplayOutcome, NewReplay, Replay, ReplayStatus, ReplayStore } from "@/server/engine/transport/replay";
import type { Database } from "./database";
import { replays } from "./schema/replays";

/** A row as ROW selects it: a Replay with its request fingerprint, and the position as bigint text. */
type ReplayRow = Omit<Replay, "position"> & { position: number | string; fingerprint: string | null };

const iso = (column: AnyPgColumn): SQL =>
  sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const ROW = sql`${replays.id} as "id", ${replays.target} as "target", ${replays.filter} as "filter", ${replays.status} as "status",
  ${replays.total} as "total", ${replays.done} as "done", ${replays.position} as "position", ${replays.ratePerSecond} as "ratePerSecond",
  ${replays.error} as "error", ${replays.createdBy} as "createdBy", ${replays.fingerprint} as "fingerprint",
  ${iso(replays.createdAt)} as "createdAt", ${iso(replays.startedAt)} as "startedAt", ${iso(replays.finishedAt)} as "finishedAt",
  ${iso(replays.updatedAt)} as "updatedAt"`;

function toReplay({ position, fingerprint: _fingerprint, ...row }: ReplayRow): Replay {
  return { ...row, position: Number(position) };
}

/** Replays in `eventloom_replays`; every status change is one conditional UPDATE. */
export class PostgresReplayStore implements ReplayStore {
  constructor(private readonly database: Database) {}

  async create(replay: NewReplay): Promise<CreateReplayOutcome> {
    const key = replay.idempotency?.key ?? null;
    const [row] = await this.database.rows<ReplayRow>(sql`
      insert into ${replays} (id, target, filter, status, total, position, rate_per_second, created_by, idempotency_key, fingerprint)
      values (${replay.id}, ${JSON.stringify(replay.target)}::text::jsonb, ${JSON.stringify(replay.filter)}::text::jsonb, 'queued',
              ${replay.total}, ${replay.filter.afterPosition}, ${replay.ratePerSecond}, ${replay.createdBy}, ${key}, ${replay.idempotency?.fingerprint ?? null})
      on conflict (idempotency_key) do nothing
      returning ${ROW}`);
    if (row) return { status: "created", replay: toReplay(row) };
    // Only a repeated idempotency key conflicts.
    const [existing] = await this.database.rows<ReplayRow>(sql`select ${ROW} from ${replays} where ${eq(replays.idempotencyKey, key ?? "")}`);
    if (!existing) throw new Error("replay insert conflicted, but no replay holds its idempotency key");
    return existing.fingerprint === replay.idempotency?.fingerprint ? { status: "replayed", replay: toReplay(existing) } : { status: "idempotency_mismatch" };
  }

  async get(id: string): Promise<Replay | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.database.rows<ReplayRow>(sql`select ${ROW} from ${replays} where ${eq(replays.id, id.toLowerCase())}`);
    return row && toReplay(row);
  }

  async list(limit: number): Promise<Replay[]> {
    const rows = await this.database.rows<ReplayRow>(sql`select ${ROW} from ${replays} order by ${replays.createdAt} desc, ${replays.id} desc limit ${Math.max(0, Math.floor(limit))}`);
    return rows.map(toReplay);
  }

  async start(id: string): Promise<boolean> {
    const rows = await this.database.rows(sql`
      update ${replays} set status = 'running', started_at = now(), updated_at = now(), heartbeat_at = now()
       where id = ${id} and status = 'queued' returning 1`);
    return rows.length > 0;
  }

  async progress(id: string, done: number, position: number): Promise<ReplayStatus | undefined> {
    // A cancelled replay keeps its status; the runner reads it back and stops.
    const [row] = await this.database.rows<{ status: ReplayStatus }>(sql`
      update ${replays} set done = ${done}, position = ${position}, heartbeat_at = now(),
             updated_at = case when status = 'running' then now() else updated_at end
       where id = ${id} returning status as "status"`);
    return row?.status;
  }

  async finish(id: string, outcome: { status: "done" } | { status: "failed"; error: string }): Promise<void> {
    const error = outcome.status === "failed" ? outcome.error.slice(0, 2000) : null;
    await this.database.rows(sql`
      update ${replays} set status = ${outcome.status}, error = ${error}, finished_at = now(), updated_at = now(), heartbeat_at = now()
       where id = ${id} and status = 'running' returning 1`);
  }

  async cancel(id: string): Promise<Replay | undefined> {
    if (!isUuid(id)) return undefined;
    await this.database.rows(sql`
      update ${replays} set status = 'cancelled', finished_at = now(), updated_at = now()
       where id = ${id.toLowerCase()} and status in ('queued', 'running') returning 1`);
    return this.get(id);
  }

  async failStale(staleAfterMs: number): Promise<number> {
    const rows = await this.database.rows(sql`
      update ${replays} set status = 'failed', error = 'the process running this replay stopped before it finished',
             finished_at = now(), updated_at = now()
       where status in ('queued', 'running') and heartbeat_at < now() - ${Math.max(0, Math.floor(staleAfterMs))}::integer * interval '1 millisecond'
       returning 1`);
    return rows.length;
  }
}
