import { and, eq, sql } from "drizzle-orm";
import type { Inbox } from "@/server/engine/transport/dead-letters";
import type { Database, EventloomDb } from "../database";
import { inbox } from "../schema";

/** The transaction `withInbox` hands to an effect: the same drizzle API as the database's. */
export type EventloomTransaction = Parameters<Parameters<EventloomDb["transaction"]>[0]>[0];

/**
 * The inbox in `eventloom_inbox`, for the Subscriber's check-then-record (an effect outside
 * Postgres: a narrow window remains between the effect and the record). Effects in Postgres use
 * {@link withInbox}, which closes it.
 */
export class PostgresInbox implements Inbox {
  constructor(private readonly database: Database) {}

  async has(subscription: string, messageId: string): Promise<boolean> {
    const rows = await this.database.rows(
      sql`select 1 from ${inbox} where ${and(eq(inbox.subscription, subscription), eq(inbox.messageId, messageId))}`,
    );
    return rows.length > 0;
  }

  async record(subscription: string, messageId: string): Promise<void> {
    await this.database.rows(sql`insert into ${inbox} (subscription, message_id) values (${subscription}, ${messageId}) on conflict do nothing`);
  }
}

/**
 * Exactly one effect per (subscription, message), for effects written to Postgres: the inbox row
 * and the effect commit in one transaction, and the row's insert decides. A concurrent duplicate
 * (another consumer with a redelivery of the same message) waits on the first's uncommitted row:
 * if that commits it finds the row and does nothing ("duplicate"); if it rolls back (the effect
 * threw) the duplicate applies instead. An effect that throws rolls the inbox row back with it,
 * so a retry can apply it later.
 */
export async function withInbox(
  database: Database,
  subscription: string,
  messageId: string,
  effect: (tx: EventloomTransaction) => Promise<void>,
): Promise<"applied" | "duplicate"> {
  return database.db.transaction(async (tx) => {
    const inserted = await tx.insert(inbox).values({ subscription, messageId }).onConflictDoNothing().returning({ messageId: inbox.messageId });
    if (inserted.length === 0) return "duplicate";
    await effect(tx);
    return "applied";
  });
}
