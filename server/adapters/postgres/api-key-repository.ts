import { and, desc, eq, isNull } from "drizzle-orm";
import type { ApiKeyRecord, ApiKeyRepository } from "@/server/engine/auth/api-keys";
import type { Scope } from "@/server/engine/core/principal";
import type { Database } from "./database";
import { apiKeys } from "./schema/auth";

type Row = typeof apiKeys.$inferSelect;

function toRecord(row: Row): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    keyHash: row.keyHash,
    // Only ApiKeyService writes this column, and it validates every scope first.
    scopes: row.scopes as Scope[],
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

/** API keys in `eventloom_api_keys` (PGlite or Postgres). */
export class PostgresApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly database: Database) {}

  async create(record: ApiKeyRecord): Promise<void> {
    await this.database.db.insert(apiKeys).values({
      id: record.id,
      name: record.name,
      prefix: record.prefix,
      keyHash: record.keyHash,
      scopes: record.scopes,
      createdBy: record.createdBy,
      createdAt: new Date(record.createdAt),
      lastUsedAt: record.lastUsedAt === null ? null : new Date(record.lastUsedAt),
      revokedAt: record.revokedAt === null ? null : new Date(record.revokedAt),
    });
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await this.database.db.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash)).limit(1);
    return row && toRecord(row);
  }

  async list(): Promise<ApiKeyRecord[]> {
    const rows = await this.database.db.select().from(apiKeys).orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
    return rows.map(toRecord);
  }

  async revoke(id: string, at: string): Promise<boolean> {
    // Ids are UUIDs; anything else cannot name a key (and would make Postgres reject the cast).
    if (!UUID.test(id)) return false;
    const revoked = await this.database.db
      .update(apiKeys)
      .set({ revokedAt: new Date(at) })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    return revoked.length > 0;
  }

  async touchLastUsed(id: string, at: string): Promise<void> {
    await this.database.db.update(apiKeys).set({ lastUsedAt: new Date(at) }).where(eq(apiKeys.id, id));
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
