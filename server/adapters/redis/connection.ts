import { Redis, type RedisOptions } from "ioredis";
import { EngineError } from "@/server/engine/core/errors";

/**
 * Connections never queue commands while disconnected (`enableOfflineQueue: false`): during an
 * outage a busy producer would otherwise pile up commands in memory without bound. Instead every
 * operation waits for the connection to come back for a bounded time ({@link whenReady}) and then
 * fails with `unavailable`. ioredis reconnects by itself, with backoff capped at 2 s; commands in
 * flight when a connection drops are sent again once it is back (`autoResendUnfulfilledCommands`),
 * and callers bound their wait with {@link bounded}.
 */
export function openConnection(url: string, name: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
    connectionName: name,
    ...extra,
  });
}

export function unavailable(message: string, cause?: unknown): EngineError {
  return new EngineError("unavailable", message, { retryAfterSeconds: 1, cause });
}

/** One wait per connection for "ready", shared by every caller (a busy producer has many). */
const readiness = new WeakMap<Redis, Promise<void>>();

/** Resolves once the connection is ready; rejects if it is closed or not back within `timeoutMs`. */
export function whenReady(connection: Redis, timeoutMs: number): Promise<void> {
  if (connection.status === "ready") return Promise.resolve();
  if (connection.status === "end") return Promise.reject(unavailable("The Redis connection is closed"));
  let ready = readiness.get(connection);
  if (!ready) {
    ready = new Promise<void>((resolve, reject) => {
      const onReady = () => {
        connection.off("end", onEnd);
        resolve();
      };
      const onEnd = () => {
        connection.off("ready", onReady);
        reject(unavailable("The Redis connection is closed"));
      };
      connection.once("ready", onReady);
      connection.once("end", onEnd);
    });
    const forget = () => readiness.delete(connection);
    ready.then(forget, forget);
    readiness.set(connection, ready);
  }
  return bounded(ready, timeoutMs, "", `Redis is unreachable (no connection within ${timeoutMs} ms)`);
}

/** Rejects with `unavailable` if `operation` has not settled within `timeoutMs`. */
export function bounded<T>(operation: Promise<T>, timeoutMs: number, what: string, message = `Redis did not answer ${what} within ${timeoutMs} ms`): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(message)), timeoutMs);
  });
  return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
}

/** Redis Streams consumer-group lag (XINFO GROUPS `lag`) and XAUTOCLAIM's deleted-entry list need 7.0. */
export async function assertRedisVersion(connection: Redis): Promise<void> {
  const info = await connection.info("server");
  const version = /redis_version:(\d+)\.(\d+)/.exec(info);
  const major = Number(version?.[1] ?? 0);
  if (major < 7) throw new EngineError("internal", `The Redis transport needs Redis 7.0 or newer (server reports ${version?.[0] ?? "an unknown version"})`);
}
