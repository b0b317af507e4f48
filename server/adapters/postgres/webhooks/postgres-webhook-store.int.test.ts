import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "@/server/engine/core/ids";
import { at, attemptRecord, describeWebhookStoreContract, newDelivery, webhookEndpoint } from "@/server/engine/webhooks/webhook-store.contract";
import { migrate, openDatabase, type Database } from "../database";
import { createTestDatabase, type TestDatabase } from "../test-database";
import { PostgresWebhookStore } from "./postgres-webhook-store";
import { SecretBox, SecretBoxError } from "./secret-box";

let pglite: Database;
let testDatabase: TestDatabase;
/** Two pools on the same server database: two dispatcher processes, as the server sees them. */
let server: Database;
let rivalServer: Database;
const secretsKey = randomBytes(32);

beforeAll(async () => {
  pglite = await openDatabase();
  await migrate(pglite);
  testDatabase = await createTestDatabase("eventloom_webhooks");
  server = await openDatabase({ databaseUrl: testDatabase.url, poolSize: 4 });
  await migrate(server);
  rivalServer = await openDatabase({ databaseUrl: testDatabase.url, poolSize: 2 });
});

afterAll(async () => {
  await pglite?.close();
  await rivalServer?.close();
  await server?.close();
  await testDatabase?.drop();
});

async function emptyStore(database: Database): Promise<PostgresWebhookStore> {
  await database.rows(sql`truncate eventloom_webhook_attempts, eventloom_webhook_deliveries, eventloom_webhook_endpoints, eventloom_webhook_endpoints_revision`);
  return new PostgresWebhookStore(database, { secretsKey });
}

describeWebhookStoreContract("pglite", async () => ({ store: await emptyStore(pglite) }));
describeWebhookStoreContract("postgres", async () => ({ store: await emptyStore(server), rival: new PostgresWebhookStore(rivalServer, { secretsKey }) }));

describe("SecretBox", () => {
  it("round-trips a secret with a fresh IV every time, and refuses a wrong key, an altered value and another format", () => {
    const box = new SecretBox(secretsKey);
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const [first, second] = [box.encrypt(secret), box.encrypt(secret)];
    expect(first).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(first).not.toBe(second);
    expect(box.decrypt(first)).toBe(secret);
    expect(box.decrypt(second)).toBe(secret);

    expect(() => new SecretBox(randomBytes(32)).decrypt(first)).toThrow(/does not decrypt with this key/);
    const [version, iv, tag, ciphertext] = first.split(":");
    const altered = Buffer.from(ciphertext!, "base64");
    altered[0] = altered[0]! ^ 1;
    expect(() => box.decrypt([version, iv, tag, altered.toString("base64")].join(":"))).toThrow(SecretBoxError);
    expect(() => box.decrypt(`v2:${iv}:${tag}:${ciphertext}`)).toThrow(/not in the v1 format/);
    expect(() => box.decrypt(secret)).toThrow(/not in the v1 format/);
    expect(() => new SecretBox(randomBytes(16))).toThrow(/must be 32 bytes/);
  });
});

describe("PostgresWebhookStore", () => {
  it("stores secrets encrypted: no plaintext in the column, and another key cannot read them", async () => {
    const store = await emptyStore(pglite);
    const endpoint = webhookEndpoint(at(0), {
      secrets: [
        { secret: "whsec_Q3VycmVudFNlY3JldEJ5dGVzMTIzNDU2Nzg5MA==", createdAt: at(5), expiresAt: null },
        { secret: "whsec_T2xkU2VjcmV0Qnl0ZXMxMjM0NTY3ODkwYWJj", createdAt: at(0), expiresAt: at(86_400_000) },
      ],
    });
    await store.createEndpoint(endpoint);
    const rotated = await store.updateEndpoint({ ...endpoint, secrets: [{ secret: "whsec_TmV3ZXN0U2VjcmV0Qnl0ZXMxMjM0NTY3ODkw", createdAt: at(9), expiresAt: null }, ...endpoint.secrets] });
    expect(rotated.secrets.map(({ secret }) => secret)).toEqual(["whsec_TmV3ZXN0U2VjcmV0Qnl0ZXMxMjM0NTY3ODkw", ...endpoint.secrets.map(({ secret }) => secret)]);

    const [row] = await pglite.rows<{ secrets: unknown }>(sql`select secrets::text as secrets from eventloom_webhook_endpoints where id = ${endpoint.id}::uuid`);
    expect(row?.secrets).toEqual(expect.any(String));
    expect(row?.secrets).not.toContain("whsec_");
    for (const { secret } of rotated.secrets) expect(row?.secrets).not.toContain(secret.slice("whsec_".length, 20));
    expect(JSON.parse(row!.secrets as string)).toEqual([
      { ciphertext: expect.stringMatching(/^v1:/), createdAt: at(9), expiresAt: null },
      { ciphertext: expect.stringMatching(/^v1:/), createdAt: at(5), expiresAt: null },
      { ciphertext: expect.stringMatching(/^v1:/), createdAt: at(0), expiresAt: at(86_400_000) },
    ]);

    const otherKey = new PostgresWebhookStore(pglite, { secretsKey: randomBytes(32) });
    await expect(otherKey.getEndpoint(endpoint.id)).rejects.toThrow(/WEBHOOK_SECRETS_KEY/);
  });

  it("keeps an attempt whose response holds NUL characters (jsonb cannot), as U+FFFD", async () => {
    const store = await emptyStore(pglite);
    const endpoint = await store.createEndpoint(webhookEndpoint(at(0)));
    const [delivery] = await store.createDeliveries([newDelivery(endpoint.id, 1, at(0))]);
    const garbage = attemptRecord(delivery!, 1, at(1), { status: 500, owner: null });
    garbage.attempt.response!.body = "bin\u0000ary \\u0000 kept";
    garbage.attempt.error = "odd\u0000error";
    await store.recordAttempts([garbage]);
    expect(await store.getAttempt(garbage.attempt.id)).toEqual({
      ...garbage.attempt,
      response: { ...garbage.attempt.response, body: "bin\ufffdary \\u0000 kept" },
      error: "odd\ufffderror",
    });
  });

  it("gives each of 1,000 due deliveries to exactly one of four claimers on their own connections", async () => {
    const store = await emptyStore(server);
    const endpoints = await Promise.all([0, 1, 2, 3].map(() => store.createEndpoint(webhookEndpoint(at(0), { id: newId() }))));
    const count = 1_000;
    const batch = Array.from({ length: count }, (_, index) => newDelivery(endpoints[index % endpoints.length]!.id, index, at(index)));
    for (let index = 0; index < count; index += 250) expect(await store.createDeliveries(batch.slice(index, index + 250))).toHaveLength(250);

    const claimers = await Promise.all(
      Array.from({ length: 4 }, async (_, index) => {
        const database = await openDatabase({ databaseUrl: testDatabase.url, poolSize: 1 });
        return { owner: `dispatcher-${index}`, database, store: new PostgresWebhookStore(database, { secretsKey }) };
      }),
    );
    const now = at(count);
    const claimedBy = new Map<string, string[]>();
    try {
      await Promise.all(
        claimers.map(async ({ owner, store: claimer }) => {
          // Bounded: while any delivery is left, every round claims at least one.
          for (let round = 0; round < count; round += 1) {
            const claimed = await claimer.claimDue({ owner, now, leaseMs: 60_000, limit: 17 });
            if (claimed.length === 0) return;
            for (const delivery of claimed) claimedBy.set(delivery.id, [...(claimedBy.get(delivery.id) ?? []), owner]);
          }
        }),
      );
    } finally {
      await Promise.all(claimers.map(({ database }) => database.close()));
    }
    expect(claimedBy.size).toBe(count);
    expect([...claimedBy.values()].filter((owners) => owners.length !== 1)).toEqual([]);
    const rows = await server.rows<{ id: string; lease_owner: string }>(sql`select id, lease_owner from eventloom_webhook_deliveries`);
    expect(rows.filter((row) => claimedBy.get(row.id)?.[0] !== row.lease_owner)).toEqual([]);
    expect(await store.claimDue({ owner: "late", now, leaseMs: 60_000, limit: 10 })).toEqual([]);
  });
});
