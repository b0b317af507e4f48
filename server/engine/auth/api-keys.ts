import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { systemClock, type Clock } from "../core/clock";
import { ValidationError } from "../core/errors";
import { newId } from "../core/ids";
import { scopes as knownScopes, type Principal, type Scope } from "../core/principal";

/**
 * API keys for REST clients: `el_<prefix>_<secret>`. The prefix is shown in listings so people can
 * tell keys apart; the secret is shown once, at creation, and never stored.
 */

/** What the repository persists. `keyHash` is the only trace of the secret. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  /** The public `el_<prefix>` part, for display. */
  prefix: string;
  keyHash: string;
  scopes: Scope[];
  createdBy: string | null;
  /** RFC 3339. */
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** An API key as listed to operators: everything except the hash. */
export type ApiKeyView = Omit<ApiKeyRecord, "keyHash">;

export interface ApiKeyRepository {
  create(record: ApiKeyRecord): Promise<void>;
  findByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  /** Newest first, revoked ones included (they are part of the audit trail). */
  list(): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked; false when there is no such key or it was already revoked. */
  revoke(id: string, at: string): Promise<boolean>;
  touchLastUsed(id: string, at: string): Promise<void>;
}

const KEY_PREFIX = "el_";
/** 6 random bytes -> 8 base64url characters: enough to tell keys apart in a list. */
const PREFIX_BYTES = 6;
/** 32 random bytes -> 43 base64url characters: 256 bits, far beyond guessing. */
const SECRET_BYTES = 32;
// base64url uses `_` itself, so the parts are told apart by their fixed lengths, not by splitting.
const KEY_FORMAT = /^el_([A-Za-z0-9_-]{8})_([A-Za-z0-9_-]{43})$/;

export function generateApiKey(): { key: string; prefix: string } {
  const prefix = randomBytes(PREFIX_BYTES).toString("base64url");
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  return { key: `${KEY_PREFIX}${prefix}_${secret}`, prefix: `${KEY_PREFIX}${prefix}` };
}

export function looksLikeApiKey(key: string): boolean {
  return KEY_FORMAT.test(key);
}

/**
 * SHA-256 of the whole key. A fast unsalted hash is right here, unlike for passwords: the secret is
 * 256 random bits, so there is no dictionary to try and brute force is hopeless even at GPU speed;
 * a slow KDF would only add latency to every request. Determinism is what lets us look a key up by
 * its hash (a per-key salt would force a scan).
 */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Compares two secrets without leaking, through timing, how long a prefix matched. */
function constantTimeEquals(a: string, b: string): boolean {
  // Hashing first gives equal-length inputs, which timingSafeEqual requires, and hides the length.
  const left = createHash("sha256").update(a, "utf8").digest();
  const right = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(left, right);
}

export const ADMIN_API_KEY_PRINCIPAL: Principal = Object.freeze({
  kind: "api_key",
  id: "admin-api-key",
  name: "ADMIN_API_KEY",
  scopes: Object.freeze(["admin"]) as readonly Scope[],
});

export interface ApiKeyServiceOptions {
  /** `ADMIN_API_KEY` from the environment: accepted as an admin key, never stored. */
  adminApiKey?: string;
  clock?: Clock;
  /**
   * How long an authenticated key is trusted without asking the repository again. It bounds how
   * long another process (a worker, a second web instance) keeps accepting a key revoked elsewhere;
   * revocation in this process takes effect at once.
   */
  cacheTtlMs?: number;
  /** Upper bound on cached keys, so a flood of distinct keys cannot grow memory without limit. */
  cacheSize?: number;
  /** Told about failures to record `last_used_at`; authentication does not fail for them. */
  onTouchError?: (error: unknown) => void;
}

interface CacheEntry {
  principal: Principal;
  expiresAt: number;
}

export interface CreateApiKeyInput {
  name: string;
  scopes: readonly string[];
  createdBy?: string | null;
}

export class ApiKeyService {
  private readonly clock: Clock;
  private readonly cacheTtlMs: number;
  private readonly cacheSize: number;
  // Keyed by hash so the plaintext key never sits in memory longer than one request.
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly repository: ApiKeyRepository,
    private readonly options: ApiKeyServiceOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.cacheTtlMs = options.cacheTtlMs ?? 30_000;
    this.cacheSize = options.cacheSize ?? 1_000;
  }

  /** Creates a key. The returned `key` is the only time the plaintext exists outside the caller. */
  async create(input: CreateApiKeyInput): Promise<{ key: string; apiKey: ApiKeyView }> {
    const name = input.name.trim();
    const issues = [];
    if (name.length === 0 || name.length > 200) issues.push({ path: "name", message: "must be 1 to 200 characters" });
    if (input.scopes.length === 0) issues.push({ path: "scopes", message: "must name at least one scope" });
    input.scopes.forEach((scope, index) => {
      if (!(knownScopes as readonly string[]).includes(scope)) {
        issues.push({ path: `scopes[${index}]`, message: `unknown scope; expected one of ${knownScopes.join(", ")}` });
      }
    });
    if (issues.length > 0) throw new ValidationError("Invalid API key", issues);

    const { key, prefix } = generateApiKey();
    const record: ApiKeyRecord = {
      id: newId(),
      name,
      prefix,
      keyHash: hashApiKey(key),
      scopes: [...new Set(input.scopes as Scope[])],
      createdBy: input.createdBy ?? null,
      createdAt: new Date(this.clock.now()).toISOString(),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.repository.create(record);
    return { key, apiKey: toView(record) };
  }

  async list(): Promise<ApiKeyView[]> {
    return (await this.repository.list()).map(toView);
  }

  /** Revokes a key; this process stops accepting it immediately. */
  async revoke(id: string): Promise<boolean> {
    const revoked = await this.repository.revoke(id, new Date(this.clock.now()).toISOString());
    for (const [hash, entry] of this.cache) if (entry.principal.id === id) this.cache.delete(hash);
    return revoked;
  }

  /** The principal a presented key stands for, or null when it is unknown or revoked. */
  async authenticate(key: string): Promise<Principal | null> {
    const adminKey = this.options.adminApiKey;
    if (adminKey !== undefined && constantTimeEquals(key, adminKey)) return ADMIN_API_KEY_PRINCIPAL;
    // Cheap rejection of anything that cannot be a key: no hash, no database round trip.
    if (!looksLikeApiKey(key)) return null;

    const hash = hashApiKey(key);
    const now = this.clock.now();
    const cached = this.cache.get(hash);
    if (cached && cached.expiresAt > now) return cached.principal;
    this.cache.delete(hash);

    const record = await this.repository.findByHash(hash);
    if (!record || record.revokedAt !== null) return null;
    const principal: Principal = { kind: "api_key", id: record.id, name: record.name, scopes: record.scopes };
    this.remember(hash, { principal, expiresAt: now + this.cacheTtlMs });
    // Recorded once per cache miss: `last_used_at` is accurate to the cache TTL without a write per request.
    try {
      await this.repository.touchLastUsed(record.id, new Date(now).toISOString());
    } catch (error) {
      this.options.onTouchError?.(error);
    }
    return principal;
  }

  private remember(hash: string, entry: CacheEntry): void {
    if (this.cache.size >= this.cacheSize) {
      // Maps iterate in insertion order: the first key is the oldest entry.
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(hash, entry);
  }
}

function toView(record: ApiKeyRecord): ApiKeyView {
  const { keyHash: _keyHash, ...view } = record;
  return view;
}

/** An in-memory repository for unit tests and tools that need no database. */
export class InMemoryApiKeyRepository implements ApiKeyRepository {
  readonly records = new Map<string, ApiKeyRecord>();
  findByHashCalls = 0;

  async create(record: ApiKeyRecord): Promise<void> {
    for (const existing of this.records.values()) {
      if (existing.keyHash === record.keyHash) throw new Error("duplicate key hash");
    }
    this.records.set(record.id, { ...record, scopes: [...record.scopes] });
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    this.findByHashCalls += 1;
    for (const record of this.records.values()) if (record.keyHash === keyHash) return { ...record };
    return undefined;
  }

  async list(): Promise<ApiKeyRecord[]> {
    return [...this.records.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((record) => ({ ...record }));
  }

  async revoke(id: string, at: string): Promise<boolean> {
    const record = this.records.get(id);
    if (!record || record.revokedAt !== null) return false;
    record.revokedAt = at;
    return true;
  }

  async touchLastUsed(id: string, at: string): Promise<void> {
    const record = this.records.get(id);
    if (record) record.lastUsedAt = at;
  }
}
