import { mkdir } from "node:fs/promises";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { sql, type SQL } from "drizzle-orm";
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import * as schema from "./schema";

export type EventloomSchema = typeof schema;
/** The drizzle API both drivers share; adapters code against this, never a driver's own type. */
export type EventloomDb = PgDatabase<PgQueryResultHKT, EventloomSchema>;

export interface Database {
  readonly db: EventloomDb;
  /** `pglite`: embedded, one process. `postgres`: a server shared by every process. */
  readonly kind: "pglite" | "postgres";
  /** Runs a raw statement and returns its rows (the drivers wrap results differently). */
  rows<T>(query: SQL): Promise<T[]>;
  /**
   * LISTEN on a channel; resolves once listening, with the function that stops. Only on a server:
   * PGlite lives in one process, where in-process signals reach every listener already.
   */
  listen?(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A postgres:// URL: use that server. Unset: embedded PGlite. */
  databaseUrl?: string;
  /** PGlite's data directory; unset keeps the database in memory. */
  dataDir?: string;
  /** Put every table in this schema (created by `migrate`) instead of `public`: isolates test suites. */
  schemaName?: string;
  /** Server connections in the pool. */
  poolSize?: number;
}

type ClientOptions = postgres.Options<Record<string, postgres.PostgresType>>;

interface MigrationConfig {
  migrationsFolder: string;
  migrationsSchema?: string;
}

/** How each kind applies migrations; kept off the public interface. */
const migrators = new WeakMap<Database, (config: MigrationConfig) => Promise<void>>();

export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openPglite(options);
}

/**
 * Applies the drizzle-kit migrations in `drizzle/` (relative to the working directory unless told
 * otherwise). Safe to call from several processes at once on a server.
 */
export async function migrate(database: Database, options: { migrationsFolder?: string } = {}): Promise<void> {
  const run = migrators.get(database);
  if (!run) throw new Error("migrate() needs a Database from openDatabase()");
  await run({ migrationsFolder: options.migrationsFolder ?? path.resolve(process.cwd(), "drizzle") });
}

async function openPglite(options: OpenDatabaseOptions): Promise<Database> {
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
  const client = await PGlite.create(options.dataDir);
  if (options.schemaName) {
    // PGlite is a single session, so a session-wide search_path covers every later query.
    await client.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(options.schemaName)}; SET search_path TO ${quoteIdentifier(options.schemaName)}`);
  }
  const db = drizzlePglite({ client, schema });
  const database: Database = {
    db,
    kind: "pglite",
    async rows<T>(query: SQL) {
      return (await db.execute(query)).rows as T[];
    },
    async close() {
      await client.close();
    },
  };
  migrators.set(database, (config) => migratePglite(db, { ...config, migrationsSchema: options.schemaName }));
  return database;
}

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<Database> {
  const clientOptions: ClientOptions = {
    max: options.poolSize ?? 10,
    onnotice: () => {},
    connection: {
      // `rows` prepares its statements; a generic plan cached while a table was still small (a
      // fresh database, before autovacuum analyses it) would keep scanning it whole as it grows.
      // Custom plans see the table's current size; eventloom_append opts back into generic plans
      // for its own statements, which are written to stay on the indexes (migration 0004).
      plan_cache_mode: "force_custom_plan",
      ...(options.schemaName ? { search_path: quoteIdentifier(options.schemaName) } : {}),
    },
  };
  const client = postgres(url, clientOptions);
  const db = drizzlePostgres({ client, schema });
  const dialect = new PgDialect();
  const database: Database = {
    db,
    kind: "postgres",
    async rows<T>(query: SQL) {
      // drizzle runs its queries unprepared, and postgres.js then describes the parameters in a
      // round trip of its own before executing: two round trips per query. Named prepared
      // statements (cached per connection by postgres.js) take one.
      const { sql: text, params } = dialect.sqlToQuery(query);
      return (await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })) as unknown as T[];
    },
    async listen(channel, onPayload) {
      const { unlisten } = await client.listen(channel, onPayload);
      return unlisten;
    },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
  migrators.set(database, (config) => migratePostgresExclusively(url, clientOptions, { ...config, migrationsSchema: options.schemaName }));
  return database;
}

/**
 * drizzle's migrator does not guard against two processes (web and worker) starting together, so
 * it runs on one dedicated connection holding a session advisory lock: the second process waits,
 * then finds the migrations applied.
 */
async function migratePostgresExclusively(url: string, clientOptions: ClientOptions, config: MigrationConfig): Promise<void> {
  const client = postgres(url, { ...clientOptions, max: 1 });
  try {
    const db = drizzlePostgres({ client });
    await db.execute(sql`select pg_advisory_lock(hashtext('eventloom.migrate'))`);
    // Under the lock too: two concurrent CREATE SCHEMA IF NOT EXISTS can still collide.
    if (config.migrationsSchema) await db.execute(sql`create schema if not exists ${sql.identifier(config.migrationsSchema)}`);
    await migratePostgres(db, config);
  } finally {
    // Ending the session releases the advisory lock too.
    await client.end({ timeout: 5 });
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
