import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { migrate, openDatabase, type Database } from "@/server/adapters/postgres/database";

/**
 * The admin connection benches create their databases through: `BENCH_DATABASE_URL`, else
 * TEST_DATABASE_URL, else the local server of scripts/services.sh.
 */
const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/**
 * Runs `work` on a fresh, migrated database (opened with `poolSize` connections), dropped
 * afterwards whatever happens, so a bench never measures or leaves behind another run's rows.
 */
export async function withBenchDatabase<T>(options: { poolSize?: number }, work: (bench: { url: string; database: Database }) => Promise<T>): Promise<T> {
  const name = `eventloom_bench_${randomBytes(6).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let database: Database | undefined;
  try {
    database = await openDatabase({ databaseUrl: url.toString(), poolSize: options.poolSize });
    await migrate(database);
    return await work({ url: url.toString(), database });
  } finally {
    await database?.close();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}
