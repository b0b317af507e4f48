import { describe, expect, it } from "vitest";
import { FakeClock } from "../core/clock";
import { isEngineError } from "../core/errors";
import {
  ApiKeyService,
  InMemoryApiKeyRepository,
  generateApiKey,
  hashApiKey,
  looksLikeApiKey,
  type ApiKeyRepository,
} from "./api-keys";

function setup(options: { adminApiKey?: string; cacheTtlMs?: number } = {}) {
  const repository = new InMemoryApiKeyRepository();
  const clock = new FakeClock();
  const service = new ApiKeyService(repository, { clock, ...options });
  return { repository, clock, service };
}

describe("API key format", () => {
  it("is el_<8 chars>_<43 chars> of base64url, and every key is different", () => {
    const keys = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { key, prefix } = generateApiKey();
      expect(key).toMatch(/^el_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}$/);
      expect(key.startsWith(`${prefix}_`)).toBe(true);
      expect(looksLikeApiKey(key)).toBe(true);
      keys.add(key);
    }
    expect(keys.size).toBe(200);
  });

  it("rejects strings that are not keys", () => {
    expect(looksLikeApiKey("el_short_secret")).toBe(false);
    expect(looksLikeApiKey("")).toBe(false);
    expect(looksLikeApiKey(`xx_${"a".repeat(8)}_${"b".repeat(43)}`)).toBe(false);
  });

  it("hashes deterministically with SHA-256 hex", () => {
    expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("ApiKeyService", () => {
  it("creates a key, stores only its hash, and returns the plaintext once", async () => {
    const { repository, service } = setup();
    const { key, apiKey } = await service.create({ name: "ingest", scopes: ["events:publish"], createdBy: "user-1" });

    const stored = repository.records.get(apiKey.id)!;
    expect(stored.keyHash).toBe(hashApiKey(key));
    expect(JSON.stringify(stored)).not.toContain(key.slice(12));
    expect(apiKey).not.toHaveProperty("keyHash");
    expect(apiKey).toMatchObject({ name: "ingest", scopes: ["events:publish"], createdBy: "user-1", revokedAt: null });
    expect(key.startsWith(`${apiKey.prefix}_`)).toBe(true);
    expect((await service.list()).map((view) => view.id)).toEqual([apiKey.id]);
  });

  it("authenticates a created key as an api_key principal with its scopes", async () => {
    const { service } = setup();
    const { key, apiKey } = await service.create({ name: "reader", scopes: ["events:read", "queries:read"] });
    expect(await service.authenticate(key)).toEqual({
      kind: "api_key",
      id: apiKey.id,
      name: "reader",
      scopes: ["events:read", "queries:read"],
    });
  });

  it("returns null for unknown, malformed and empty keys", async () => {
    const { service, repository } = setup();
    await service.create({ name: "k", scopes: ["events:read"] });
    expect(await service.authenticate(generateApiKey().key)).toBeNull();
    expect(await service.authenticate("not-a-key")).toBeNull();
    expect(await service.authenticate("")).toBeNull();
    // Malformed keys are rejected without a repository lookup.
    expect(repository.findByHashCalls).toBe(1);
  });

  it("rejects invalid names and scopes with field issues", async () => {
    const { service, repository } = setup();
    const error = await service.create({ name: " ", scopes: ["events:read", "everything"] }).catch((e: unknown) => e);
    expect(isEngineError(error) && error.code).toBe("validation");
    expect(isEngineError(error) && error.issues.map((issue) => issue.path)).toEqual(["name", "scopes[1]"]);
    const empty = await service.create({ name: "x", scopes: [] }).catch((e: unknown) => e);
    expect(isEngineError(empty) && empty.issues[0]!.path).toBe("scopes");
    expect(repository.records.size).toBe(0);
  });

  it("caches authenticated keys for the TTL and records last use once per lookup", async () => {
    const { service, repository, clock } = setup({ cacheTtlMs: 1_000 });
    const { key, apiKey } = await service.create({ name: "k", scopes: ["events:read"] });

    await service.authenticate(key);
    await service.authenticate(key);
    await service.authenticate(key);
    expect(repository.findByHashCalls).toBe(1);
    expect(repository.records.get(apiKey.id)!.lastUsedAt).toBe(new Date(clock.now()).toISOString());

    clock.advance(1_001);
    await service.authenticate(key);
    expect(repository.findByHashCalls).toBe(2);
    expect(repository.records.get(apiKey.id)!.lastUsedAt).toBe(new Date(clock.now()).toISOString());
  });

  it("stops accepting a revoked key at once, even while it is cached", async () => {
    const { service, repository } = setup({ cacheTtlMs: 60_000 });
    const { key, apiKey } = await service.create({ name: "k", scopes: ["events:read"] });
    expect(await service.authenticate(key)).not.toBeNull();

    expect(await service.revoke(apiKey.id)).toBe(true);
    expect(await service.authenticate(key)).toBeNull();
    expect(repository.records.get(apiKey.id)!.revokedAt).not.toBeNull();
    expect(await service.revoke(apiKey.id)).toBe(false);
    expect(await service.revoke("no-such-id")).toBe(false);
  });

  it("notices a revocation made by another process once the cache entry expires", async () => {
    const { service, repository, clock } = setup({ cacheTtlMs: 1_000 });
    const { key, apiKey } = await service.create({ name: "k", scopes: ["events:read"] });
    await service.authenticate(key);
    await repository.revoke(apiKey.id, new Date(clock.now()).toISOString());

    expect(await service.authenticate(key)).not.toBeNull();
    clock.advance(1_001);
    expect(await service.authenticate(key)).toBeNull();
  });

  it("accepts ADMIN_API_KEY as an admin principal and nothing that merely resembles it", async () => {
    const { service } = setup({ adminApiKey: "test-admin-key-0123456789" });
    expect(await service.authenticate("test-admin-key-0123456789")).toEqual({
      kind: "api_key",
      id: "admin-api-key",
      name: "ADMIN_API_KEY",
      scopes: ["admin"],
    });
    expect(await service.authenticate("test-admin-key-012345678")).toBeNull();
    expect(await service.authenticate("test-admin-key-0123456789 ")).toBeNull();
    expect(await setup().service.authenticate("test-admin-key-0123456789")).toBeNull();
  });

  it("keeps authenticating when recording last use fails, and reports the failure", async () => {
    const inner = new InMemoryApiKeyRepository();
    const failures: unknown[] = [];
    const repository: ApiKeyRepository = {
      create: (record) => inner.create(record),
      findByHash: (hash) => inner.findByHash(hash),
      list: () => inner.list(),
      revoke: (id, at) => inner.revoke(id, at),
      touchLastUsed: () => Promise.reject(new Error("database is read-only")),
    };
    const service = new ApiKeyService(repository, { onTouchError: (error) => failures.push(error) });
    const { key } = await service.create({ name: "k", scopes: ["admin"] });
    expect(await service.authenticate(key)).toMatchObject({ scopes: ["admin"] });
    expect(failures).toHaveLength(1);
  });

  it("bounds the cache: the oldest key is evicted and looked up again", async () => {
    const repository = new InMemoryApiKeyRepository();
    const service = new ApiKeyService(repository, { cacheSize: 2, clock: new FakeClock() });
    const a = await service.create({ name: "a", scopes: ["events:read"] });
    const b = await service.create({ name: "b", scopes: ["events:read"] });
    const c = await service.create({ name: "c", scopes: ["events:read"] });
    await service.authenticate(a.key);
    await service.authenticate(b.key);
    await service.authenticate(c.key);
    expect(repository.findByHashCalls).toBe(3);
    await service.authenticate(c.key);
    expect(repository.findByHashCalls).toBe(3);
    await service.authenticate(a.key);
    expect(repository.findByHashCalls).toBe(4);
  });
});
