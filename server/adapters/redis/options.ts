import { z } from "zod";
import { ValidationError } from "@/server/engine/core/errors";

/** How the Redis Streams driver is configured; see {@link parseRedisDriverOptions} for the defaults. */
export interface RedisDriverOptions {
  /** `redis://` or `rediss://` URL of a Redis 7 server (standalone; Cluster is not supported). */
  url: string;
  /** Prefix of every key the driver writes. Default `eventloom`. */
  keyPrefix?: string;
  /**
   * A delivery whose consumer has stopped renewing it for this long is handed to another consumer
   * of the group (its consumer is presumed dead). Live consumers renew their deliveries every
   * third of this, so a slow handler is not mistaken for a crash. Default 30 s.
   */
  redeliveryAfterMs?: number;
  /**
   * How long an operation (publish, ack, retry, figures, ping) waits, including for a lost
   * connection to come back, before it rejects with an `unavailable` error. Default 5 s.
   */
  operationTimeoutMs?: number;
  /**
   * Replicas that must have every published batch (WAIT) before `publish` resolves. Default 0:
   * a publish is as durable as the server's own persistence settings make the primary's reply.
   */
  minReplicas?: number;
  /** Receives errors the driver recovers from by itself (lost connection, failed housekeeping). */
  onError?: (error: unknown) => void;
}

export type ResolvedRedisDriverOptions = Required<RedisDriverOptions>;

const url = z.string().regex(/^rediss?:\/\/[^\s]+$/, "must be a redis:// or rediss:// URL");
const keyPrefix = z.string().regex(/^[^\s:]+(:[^\s:]+)*$/, "must be non-empty, without spaces, and not start or end with ':'").default("eventloom");
const operationTimeoutMs = z.number().int().min(10).max(10 * 60 * 1000).default(5_000);

const driverSchema = z.object({
  url,
  keyPrefix,
  redeliveryAfterMs: z.number().int().min(50).max(24 * 60 * 60 * 1000).default(30_000),
  operationTimeoutMs,
  minReplicas: z.number().int().min(0).max(16).default(0),
});

/** Validates options and fills in defaults; a bad value throws a ValidationError naming the option. */
export function parseRedisDriverOptions(options: RedisDriverOptions): ResolvedRedisDriverOptions {
  const { onError, ...rest } = options;
  const parsed = parse(driverSchema, rest, "Redis driver");
  if (onError !== undefined && typeof onError !== "function") {
    throw new ValidationError("Invalid Redis driver options: onError: must be a function", [{ path: "onError", message: "must be a function" }]);
  }
  return { ...parsed, onError: onError ?? ((error) => console.error("[redis transport]", error)) };
}

export interface RedisDedupInboxOptions {
  /** `redis://` or `rediss://` URL. */
  url: string;
  /** Prefix of the inbox keys. Default `eventloom`. */
  keyPrefix?: string;
  /** How long a recorded message id is remembered, in seconds. Default 24 h. */
  windowSeconds?: number;
  /** Longest wait for Redis, including for a lost connection to come back. Default 5 s. */
  operationTimeoutMs?: number;
}

const inboxSchema = z.object({
  url,
  keyPrefix,
  windowSeconds: z.number().int().min(1).max(365 * 24 * 60 * 60).default(24 * 60 * 60),
  operationTimeoutMs,
});

export function parseRedisDedupInboxOptions(options: RedisDedupInboxOptions): Required<RedisDedupInboxOptions> {
  return parse(inboxSchema, options, "Redis dedup inbox");
}

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join(".") || "options", message: issue.message }));
  throw new ValidationError(`Invalid ${what} options: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ")}`, issues);
}
