import { randomBytes } from "node:crypto";
import postgres from "postgres";

/** The admin connection of the test server (trust auth on loopback unless TEST_DATABASE_URL says otherwise). */
export const TEST_ADMIN_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** Ends every session on the database but the caller's own admin one (a network cut, as the server sees it). */
  terminateSessions(): Promise<number>;
  drop(): Promise<void>;
}

/** A fresh database on the test server, dropped by `drop()`: suites never see each other's rows. */
export async function createTestDatabase(prefix = "eventloom_test"): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = postgres(TEST_ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(TEST_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async terminateSessions() {
      const ended = await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`;
      return ended.length;
    },
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
