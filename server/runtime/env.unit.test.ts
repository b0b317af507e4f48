import { describe, expect, it } from "vitest";
import { ConfigError, loadEnv } from "./env";

function problemsOf(source: Record<string, string>): string[] {
  try {
    loadEnv(source);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("loadEnv", () => {
  it("gives embedded defaults for an empty environment", () => {
    const env = loadEnv({});
    expect(env).toMatchObject({ PORT: 3000, HOST: "127.0.0.1", DATA_DIR: ".data", DEMO: "on", WORKERS: "on", MAX_BODY_BYTES: 1_048_576 });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it("treats an empty variable as unset", () => {
    expect(loadEnv({ DATABASE_URL: "", PORT: "" }).PORT).toBe(3000);
  });

  it("names every bad variable with the value it got", () => {
    const problems = problemsOf({ PORT: "abc", DATABASE_URL: "mysql://x", HOST: "nonsense", DEMO: "maybe" });
    expect(problems).toHaveLength(4);
    expect(problems.find((line) => line.startsWith("DATABASE_URL:"))).toContain('"mysql://x"');
    expect(problems.find((line) => line.startsWith("HOST:"))).toContain("must be an IP address or localhost");
    expect(problems.some((line) => line.startsWith("PORT:"))).toBe(true);
    expect(problems.some((line) => line.startsWith("DEMO:"))).toBe(true);
  });

  it("never prints a secret's value", () => {
    const problems = problemsOf({ ADMIN_API_KEY: "short-secret", BETTER_AUTH_SECRET: "tiny", ADMIN_EMAIL: "a@b.co", ADMIN_PASSWORD: "pw" });
    const text = problems.join("\n");
    expect(text).toContain("ADMIN_API_KEY");
    expect(text).toContain("BETTER_AUTH_SECRET");
    expect(text).not.toContain("short-secret");
    expect(text).not.toContain("tiny");
    expect(text).not.toMatch(/"pw"/);
  });

  it("bounds QUERY_WAIT_MS, saying how", () => {
    expect(loadEnv({}).QUERY_WAIT_MS).toBe(5_000);
    expect(loadEnv({ QUERY_WAIT_MS: "0" }).QUERY_WAIT_MS).toBe(0);
    expect(problemsOf({ QUERY_WAIT_MS: "-1" })).toEqual(['QUERY_WAIT_MS: must be 0 (do not wait) or more (got "-1")']);
    expect(problemsOf({ QUERY_WAIT_MS: "90000" })[0]).toContain("at most 60000");
    expect(problemsOf({ QUERY_WAIT_MS: "soon" })[0]).toMatch(/^QUERY_WAIT_MS: must be a number/);
  });

  it("gives the saga workers their defaults and accepts values within bounds", () => {
    expect(loadEnv({})).toMatchObject({ SAGA_WORKERS: 32, SAGA_LEASE_MS: 30_000, SAGA_POLL_INTERVAL_MS: 250 });
    expect(loadEnv({ SAGA_WORKERS: "1", SAGA_LEASE_MS: "500", SAGA_POLL_INTERVAL_MS: "10" })).toMatchObject({ SAGA_WORKERS: 1, SAGA_LEASE_MS: 500, SAGA_POLL_INTERVAL_MS: 10 });
    expect(loadEnv({ SAGA_WORKERS: "1024", SAGA_LEASE_MS: "600000", SAGA_POLL_INTERVAL_MS: "60000" })).toMatchObject({ SAGA_WORKERS: 1024, SAGA_LEASE_MS: 600_000, SAGA_POLL_INTERVAL_MS: 60_000 });
  });

  it("refuses saga settings out of bounds, naming the variable, the bound and the value", () => {
    expect(problemsOf({ SAGA_WORKERS: "0" })).toEqual(['SAGA_WORKERS: must be at least 1 (sagas one process advances at once) (got "0")']);
    expect(problemsOf({ SAGA_WORKERS: "1025" })[0]).toMatch(/^SAGA_WORKERS: must be at most 1024 /);
    expect(problemsOf({ SAGA_WORKERS: "2.5" })[0]).toMatch(/^SAGA_WORKERS: must be a whole number of sagas/);
    expect(problemsOf({ SAGA_LEASE_MS: "499" })[0]).toMatch(/^SAGA_LEASE_MS: must be at least 500 \(how long a worker holds a saga/);
    expect(problemsOf({ SAGA_LEASE_MS: "600001" })[0]).toMatch(/^SAGA_LEASE_MS: must be at most 600000 /);
    expect(problemsOf({ SAGA_LEASE_MS: "soon" })[0]).toMatch(/^SAGA_LEASE_MS: must be a number of milliseconds/);
    expect(problemsOf({ SAGA_POLL_INTERVAL_MS: "9" })[0]).toMatch(/^SAGA_POLL_INTERVAL_MS: must be at least 10 /);
    expect(problemsOf({ SAGA_POLL_INTERVAL_MS: "60001" })[0]).toMatch(/^SAGA_POLL_INTERVAL_MS: must be at most 60000 /);
    expect(problemsOf({ SAGA_WORKERS: "0", SAGA_LEASE_MS: "1", SAGA_POLL_INTERVAL_MS: "1" })).toHaveLength(3);
  });

  it("gives webhooks their defaults: no allow-list, no configured key, 5 days to auto-disable, 30 days of attempts, 15 s per request", () => {
    const env = loadEnv({});
    expect(env).toMatchObject({ WEBHOOK_AUTO_DISABLE_AFTER_MS: 432_000_000, WEBHOOK_ATTEMPT_RETENTION_DAYS: 30, WEBHOOK_TIMEOUT_MS: 15_000 });
    expect(env.WEBHOOK_ALLOWED_HOSTS).toBeUndefined();
    expect(env.WEBHOOK_SECRETS_KEY).toBeUndefined();
  });

  it("accepts webhook settings within bounds", () => {
    const key = Buffer.alloc(32, 7).toString("base64");
    expect(
      loadEnv({
        WEBHOOK_ALLOWED_HOSTS: "127.0.0.1,localhost, 10.1.0.0/16 ,::1,hooks.internal.example",
        WEBHOOK_SECRETS_KEY: key,
        WEBHOOK_AUTO_DISABLE_AFTER_MS: "60000",
        WEBHOOK_ATTEMPT_RETENTION_DAYS: "3650",
        WEBHOOK_TIMEOUT_MS: "60000",
      }),
    ).toMatchObject({
      WEBHOOK_ALLOWED_HOSTS: "127.0.0.1,localhost, 10.1.0.0/16 ,::1,hooks.internal.example",
      WEBHOOK_SECRETS_KEY: key,
      WEBHOOK_AUTO_DISABLE_AFTER_MS: 60_000,
      WEBHOOK_ATTEMPT_RETENTION_DAYS: 3650,
      WEBHOOK_TIMEOUT_MS: 60_000,
    });
    expect(loadEnv({ WEBHOOK_ATTEMPT_RETENTION_DAYS: "1", WEBHOOK_TIMEOUT_MS: "1000" })).toMatchObject({ WEBHOOK_ATTEMPT_RETENTION_DAYS: 1, WEBHOOK_TIMEOUT_MS: 1_000 });
  });

  it("refuses a WEBHOOK_SECRETS_KEY that is not the base64 of exactly 32 bytes, without printing it", () => {
    for (const bad of [Buffer.alloc(31, 1).toString("base64"), Buffer.alloc(33, 1).toString("base64"), "not base64 at all, not at all!!!!!!!!!!!!!!", Buffer.alloc(32, 1).toString("hex")]) {
      const problems = problemsOf({ WEBHOOK_SECRETS_KEY: bad });
      expect(problems).toEqual(['WEBHOOK_SECRETS_KEY: must be the base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`) (got "<redacted>")']);
    }
  });

  it("refuses webhook settings out of bounds, naming the variable and the bound", () => {
    expect(problemsOf({ WEBHOOK_AUTO_DISABLE_AFTER_MS: "59999" })[0]).toMatch(/^WEBHOOK_AUTO_DISABLE_AFTER_MS: must be at least 60000 /);
    expect(problemsOf({ WEBHOOK_ATTEMPT_RETENTION_DAYS: "0" })[0]).toMatch(/^WEBHOOK_ATTEMPT_RETENTION_DAYS: must be at least 1 \(how long webhook attempts are kept\)/);
    expect(problemsOf({ WEBHOOK_ATTEMPT_RETENTION_DAYS: "3651" })[0]).toMatch(/^WEBHOOK_ATTEMPT_RETENTION_DAYS: must be at most 3650 /);
    expect(problemsOf({ WEBHOOK_TIMEOUT_MS: "999" })[0]).toMatch(/^WEBHOOK_TIMEOUT_MS: must be at least 1000 /);
    expect(problemsOf({ WEBHOOK_TIMEOUT_MS: "60001" })[0]).toMatch(/^WEBHOOK_TIMEOUT_MS: must be at most 60000 /);
    expect(problemsOf({ WEBHOOK_TIMEOUT_MS: "soon" })[0]).toMatch(/^WEBHOOK_TIMEOUT_MS: must be a number of milliseconds/);
  });

  it("refuses a WEBHOOK_ALLOWED_HOSTS entry that is neither a host name, an IP nor a CIDR, saying which", () => {
    const problems = problemsOf({ WEBHOOK_ALLOWED_HOSTS: "127.0.0.1,10.0.0.0/99" });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^WEBHOOK_ALLOWED_HOSTS: .*10\.0\.0\.0\/99/);
  });

  it("requires ADMIN_EMAIL and ADMIN_PASSWORD together", () => {
    expect(problemsOf({ ADMIN_EMAIL: "admin@example.com" })).toEqual(["ADMIN_PASSWORD: ADMIN_EMAIL and ADMIN_PASSWORD must be set together"]);
  });
});
