import { and, eq, lt, or, sql, type SQL } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import type { Priority } from "@/server/engine/core/envelope";
import { isUuid } from "@/server/engine/core/ids";
import type {
  TaskCondition,
  TaskCount,
  TaskListFilter,
  TaskPage,
  TaskPatch,
  TaskRecord,
  TaskStatus,
  TaskStore,
} from "@/server/engine/tasks/task-store";
import type { Database } from "./database";
import { tasks } from "./schema";

/**
 * The task queue's status tracking in `eventloom_tasks` (see schema/tasks.ts). Creates are
 * idempotent by id and idempotency key in one statement (`on conflict do nothing`), updates are
 * compare-and-set on status and attempts, so a stale worker's late write changes nothing.
 */

/** A row as ROW selects it: a TaskRecord whose priority and status are plain text, and whose jsonb columns may be SQL NULL. */
type TaskRow = Omit<TaskRecord, "priority" | "status"> & { priority: string; status: string };

const iso = (column: AnyPgColumn): SQL => sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Every read selects this; times come back as RFC 3339 UTC with milliseconds, as the queue writes them. */
const ROW = sql`${tasks.id} as "id", ${tasks.type} as "type", ${tasks.priority} as "priority", ${tasks.key} as "key",
  ${tasks.status} as "status", ${tasks.input} as "input", ${tasks.result} as "result", ${tasks.error} as "error",
  ${tasks.attempts} as "attempts", ${tasks.maxAttempts} as "maxAttempts", ${tasks.timeoutMs} as "timeoutMs",
  ${tasks.progress} as "progress", ${tasks.idempotencyKey} as "idempotencyKey", ${tasks.fingerprint} as "fingerprint",
  ${tasks.correlationid} as "correlationid", ${iso(tasks.createdAt)} as "createdAt", ${iso(tasks.updatedAt)} as "updatedAt",
  ${iso(tasks.startedAt)} as "startedAt", ${iso(tasks.finishedAt)} as "finishedAt", ${iso(tasks.nextAttemptAt)} as "nextAttemptAt"`;

function toRecord(row: TaskRow): TaskRecord {
  return {
    ...row,
    priority: row.priority as Priority,
    status: row.status as TaskStatus,
    result: row.result ?? null,
    error: row.error ?? null,
    progress: row.progress ?? null,
  };
}

/** JSON as a parameter: the text goes over the wire and becomes jsonb on the server (null stays SQL NULL). */
const json = (value: unknown): SQL => (value === null || value === undefined ? sql`null::jsonb` : sql`${JSON.stringify(value)}::text::jsonb`);
const time = (value: string | null): SQL => (value === null ? sql`null::timestamptz` : sql`${value}::timestamptz`);

/** How each patchable field is written. */
const setters: { [K in keyof Required<TaskPatch>]: (value: Required<TaskPatch>[K]) => SQL } = {
  status: (value) => sql`status = ${value}`,
  attempts: (value) => sql`attempts = ${value}`,
  progress: (value) => sql`progress = ${json(value)}`,
  result: (value) => sql`result = ${json(value)}`,
  error: (value) => sql`error = ${json(value)}`,
  startedAt: (value) => sql`started_at = ${time(value)}`,
  finishedAt: (value) => sql`finished_at = ${time(value)}`,
  nextAttemptAt: (value) => sql`next_attempt_at = ${time(value)}`,
  updatedAt: (value) => sql`updated_at = ${time(value)}`,
};

export class PostgresTaskStore implements TaskStore {
  constructor(private readonly database: Database) {}

  async create(task: TaskRecord): Promise<{ created: boolean; task: TaskRecord }> {
    const [inserted] = await this.database.rows<TaskRow>(sql`
      insert into ${tasks} (id, type, priority, key, status, input, result, error, attempts, max_attempts, timeout_ms,
                            progress, idempotency_key, fingerprint, correlationid, created_at, updated_at, started_at,
                            finished_at, next_attempt_at)
      values (${task.id}, ${task.type}, ${task.priority}, ${task.key}, ${task.status}, ${JSON.stringify(task.input ?? null)}::text::jsonb,
              ${json(task.result)}, ${json(task.error)}, ${task.attempts}, ${task.maxAttempts}, ${task.timeoutMs},
              ${json(task.progress)}, ${task.idempotencyKey}, ${task.fingerprint}, ${task.correlationid},
              ${time(task.createdAt)}, ${time(task.updatedAt)}, ${time(task.startedAt)}, ${time(task.finishedAt)}, ${time(task.nextAttemptAt)})
      on conflict do nothing
      returning ${ROW}`);
    if (inserted) return { created: true, task: toRecord(inserted) };
    // A conflict on the id or the idempotency key: the insert waited for the other writer to
    // commit, so this statement's snapshot sees its row.
    const match = task.idempotencyKey === null ? eq(tasks.id, task.id) : or(eq(tasks.id, task.id), eq(tasks.idempotencyKey, task.idempotencyKey));
    const [existing] = await this.database.rows<TaskRow>(sql`select ${ROW} from ${tasks} where ${match} order by (${tasks.id} = ${task.id}) desc limit 1`);
    if (!existing) throw new Error(`task ${task.id} was neither inserted nor found`);
    return { created: false, task: toRecord(existing) };
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.database.rows<TaskRow>(sql`select ${ROW} from ${tasks} where ${eq(tasks.id, id)}`);
    return row && toRecord(row);
  }

  async update(id: string, patch: TaskPatch, condition: TaskCondition = {}): Promise<TaskRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const sets: SQL[] = [];
    for (const [field, value] of Object.entries(patch) as Array<[keyof TaskPatch, never]>) {
      if (value === undefined) continue;
      sets.push(setters[field](value));
    }
    const conditions: SQL[] = [sql`${tasks.id} = ${id}`];
    if (condition.statuses) {
      if (condition.statuses.length === 0) return undefined;
      conditions.push(sql`${tasks.status} in (${sql.join(condition.statuses.map((status) => sql`${status}`), sql`, `)})`);
    }
    if (condition.attempts !== undefined) conditions.push(sql`${tasks.attempts} = ${condition.attempts}`);
    const where = sql.join(conditions, sql` and `);
    if (sets.length === 0) {
      const [row] = await this.database.rows<TaskRow>(sql`select ${ROW} from ${tasks} where ${where}`);
      return row && toRecord(row);
    }
    const [row] = await this.database.rows<TaskRow>(sql`update ${tasks} set ${sql.join(sets, sql`, `)} where ${where} returning ${ROW}`);
    return row && toRecord(row);
  }

  async delete(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const removed = await this.database.rows(sql`delete from ${tasks} where ${eq(tasks.id, id)} returning 1`);
    return removed.length > 0;
  }

  async list(filter: TaskListFilter): Promise<TaskPage> {
    const limit = Math.max(0, Math.floor(filter.limit));
    if (limit === 0) return { items: [], next: null };
    if (filter.cursor !== undefined && !isUuid(filter.cursor)) return { items: [], next: null };
    const where = and(
      filter.status === undefined ? undefined : eq(tasks.status, filter.status),
      filter.type === undefined ? undefined : eq(tasks.type, filter.type),
      filter.cursor === undefined ? undefined : lt(tasks.id, filter.cursor),
    );
    // One row past the page says whether there is a next one.
    const rows = await this.database.rows<TaskRow>(
      sql`select ${ROW} from ${tasks} ${where ? sql`where ${where}` : sql``} order by ${tasks.id} desc limit ${limit + 1}`,
    );
    const items = rows.slice(0, limit).map(toRecord);
    const last = items[items.length - 1];
    return { items, next: rows.length > limit && last ? last.id : null };
  }

  async counts(): Promise<TaskCount[]> {
    const rows = await this.database.rows<{ type: string; status: string; count: number | string }>(
      sql`select ${tasks.type} as "type", ${tasks.status} as "status", count(*) as "count" from ${tasks} group by 1, 2`,
    );
    return rows
      .map((row) => ({ type: row.type, status: row.status as TaskStatus, count: Number(row.count) }))
      .sort((a, b) => a.type.localeCompare(b.type) || a.status.localeCompare(b.status));
  }
}
