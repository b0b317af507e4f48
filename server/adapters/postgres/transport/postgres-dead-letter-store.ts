import { and, eq, gt, sql, type SQL } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import type { Priority } from "@/server/engine/core/envelope";
import { ValidationError } from "@/server/engine/core/errors";
import { isUuid, newId } from "@/server/engine/core/ids";
import type { DeadLetter, DeadLetterFilter, DeadLetterStore } from "@/server/engine/transport/dead-letters";
import type { Database } from "../database";
import { deadLetters } from "../schema";

interface DeadLetterRow {
  id: string;
  subscription: string;
  topic: string;
  messageId: string;
  messageKey: string;
  priority: string;
  headers: Record<string, string>;
  body: string;
  errorType: string;
  errorMessage: string;
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
}

const iso = (column: AnyPgColumn): SQL =>
  sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Every read selects this; times come back as RFC 3339 UTC with milliseconds, as the Subscriber writes them. */
const ROW = sql`${deadLetters.id} as "id", ${deadLetters.subscription} as "subscription", ${deadLetters.topic} as "topic",
  ${deadLetters.messageId} as "messageId", ${deadLetters.messageKey} as "messageKey", ${deadLetters.priority} as "priority",
  ${deadLetters.headers} as "headers", ${deadLetters.body} as "body", ${deadLetters.errorType} as "errorType",
  ${deadLetters.errorMessage} as "errorMessage", ${deadLetters.attempts} as "attempts",
  ${iso(deadLetters.firstFailedAt)} as "firstFailedAt", ${iso(deadLetters.lastFailedAt)} as "lastFailedAt"`;

function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    id: row.id,
    subscription: row.subscription,
    topic: row.topic,
    message: { id: row.messageId, key: row.messageKey, priority: row.priority as Priority, headers: row.headers, body: row.body },
    error: { type: row.errorType, message: row.errorMessage },
    attempts: row.attempts,
    firstFailedAt: row.firstFailedAt,
    lastFailedAt: row.lastFailedAt,
  };
}

function timeOf(field: "firstFailedAt" | "lastFailedAt", value: string): string {
  if (Number.isNaN(Date.parse(value))) throw new ValidationError(`dead letter: ${field} is not an RFC 3339 time`, [{ path: field, message: "not a time" }]);
  return value;
}

/**
 * The dead letters of every transport, in `eventloom_dead_letters`. Ids are UUIDv7 (listing in id
 * order is listing in order of first failure); the same (subscription, message id) again updates
 * its entry in place, keeping its id and its earliest first failure.
 */
export class PostgresDeadLetterStore implements DeadLetterStore {
  constructor(private readonly database: Database) {}

  async add(entry: Omit<DeadLetter, "id">): Promise<DeadLetter> {
    const { message } = entry;
    const [row] = await this.database.rows<DeadLetterRow>(sql`
      insert into ${deadLetters} (id, subscription, topic, message_id, message_key, priority, headers, body,
                                  error_type, error_message, attempts, first_failed_at, last_failed_at)
      values (${newId()}, ${entry.subscription}, ${entry.topic}, ${message.id}, ${message.key}, ${message.priority},
              ${JSON.stringify(message.headers)}::text::jsonb, ${message.body}, ${entry.error.type}, ${entry.error.message},
              ${entry.attempts}, ${timeOf("firstFailedAt", entry.firstFailedAt)}::timestamptz, ${timeOf("lastFailedAt", entry.lastFailedAt)}::timestamptz)
      on conflict (subscription, message_id) do update set
        topic = excluded.topic, message_key = excluded.message_key, priority = excluded.priority,
        headers = excluded.headers, body = excluded.body, error_type = excluded.error_type,
        error_message = excluded.error_message, attempts = excluded.attempts,
        first_failed_at = least(${deadLetters.firstFailedAt}, excluded.first_failed_at), last_failed_at = excluded.last_failed_at
      returning ${ROW}`);
    if (!row) throw new Error("dead letter insert returned no row");
    return toDeadLetter(row);
  }

  async list(filter: DeadLetterFilter): Promise<{ items: DeadLetter[]; next: string | null }> {
    if (!Number.isFinite(filter.limit)) throw new ValidationError("dead letters: limit must be a number", [{ path: "limit", message: "not a number" }]);
    const limit = Math.max(0, Math.floor(filter.limit));
    if (filter.after !== undefined && !isUuid(filter.after)) {
      throw new ValidationError("dead letters: after is not a cursor of this list", [{ path: "after", message: "not a dead-letter id" }]);
    }
    if (limit === 0) return { items: [], next: null };
    const where = and(
      filter.subscription === undefined ? undefined : eq(deadLetters.subscription, filter.subscription),
      filter.errorType === undefined ? undefined : eq(deadLetters.errorType, filter.errorType),
      filter.after === undefined ? undefined : gt(deadLetters.id, filter.after),
    );
    // One row past the page says whether there is a next one.
    const rows = await this.database.rows<DeadLetterRow>(
      sql`select ${ROW} from ${deadLetters} ${where ? sql`where ${where}` : sql``} order by ${deadLetters.id} limit ${limit + 1}`,
    );
    const items = rows.slice(0, limit).map(toDeadLetter);
    const last = items[items.length - 1];
    return { items, next: rows.length > limit && last ? last.id : null };
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.database.rows<DeadLetterRow>(sql`select ${ROW} from ${deadLetters} where ${eq(deadLetters.id, id)}`);
    return row && toDeadLetter(row);
  }

  async remove(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const removed = await this.database.rows(sql`delete from ${deadLetters} where ${eq(deadLetters.id, id)} returning 1`);
    return removed.length > 0;
  }

  async summary(): Promise<Array<{ subscription: string; errorType: string; count: number }>> {
    const rows = await this.database.rows<{ subscription: string; errorType: string; count: number | string }>(
      sql`select ${deadLetters.subscription} as "subscription", ${deadLetters.errorType} as "errorType", count(*) as "count"
            from ${deadLetters} group by 1, 2`,
    );
    // Sorted as the in-memory store sorts, whatever the database collation.
    return rows
      .map((row) => ({ subscription: row.subscription, errorType: row.errorType, count: Number(row.count) }))
      .sort((a, b) => a.subscription.localeCompare(b.subscription) || a.errorType.localeCompare(b.errorType));
  }
}
