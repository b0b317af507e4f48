import { hostname } from "node:os";
import { z } from "zod";
import { ValidationError } from "@/server/engine/core/errors";

/**
 * Delay tiers 50 ms x 4^k up to ~55 min: any delay is served within < 50 ms (plus transit) in at
 * most 3 hops per tier, by 9 queues per group.
 */
export const DEFAULT_RETRY_TIERS_MS: readonly number[] = Object.freeze([50, 200, 800, 3_200, 12_800, 51_200, 204_800, 819_200, 3_276_800]);

const positiveInt = z.number().int().positive();

const optionsSchema = z
  .object({
    /** `amqp://user:pass@host:port/vhost` (or amqps://). */
    url: z.string().regex(/^amqps?:\/\/[^/]/, "must be an amqp:// or amqps:// URL"),
    /** First part of every exchange and queue name, so several deployments can share a vhost. */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 characters of letters, digits, _ . -")
      .default("el"),
    /** Delay tiers for `retry(delayMs)`, ascending (see topology.ts `delayTier`). */
    retryTiersMs: z
      .array(positiveInt.max(2 ** 31 - 1))
      .min(1)
      .max(16)
      .refine((tiers) => tiers.every((tier, index) => index === 0 || tier > (tiers[index - 1] ?? 0)), "must be strictly ascending")
      .default([...DEFAULT_RETRY_TIERS_MS]),
    /**
     * AMQP heartbeat. A consumer whose host dies without closing its socket has its unacked
     * messages requeued once the broker misses two heartbeats (~30 s with 15); a process that
     * exits or crashes closes the socket and they are requeued at once. 0 turns heartbeats off.
     */
    heartbeatSeconds: z.number().int().min(0).max(600).default(15),
    /** A connection attempt that has not completed by then fails (the caller retries). */
    connectTimeoutMs: positiveInt.default(5_000),
    /** `publish` rejects if the broker has not confirmed within this time (e.g. a memory alarm blocks publishers). */
    publishTimeoutMs: positiveInt.default(10_000),
    /** A consumer whose channel or connection is lost resubscribes after this, doubling per failed attempt... */
    reconnectInitialDelayMs: positiveInt.default(100),
    /** ...up to this. */
    reconnectMaxDelayMs: positiveInt.default(5_000),
    /** Shown in the broker's connection list; `:publish` / `:consume` are appended. */
    connectionName: z.string().min(1).default(`eventloom-${safeHostname()}-${process.pid}`),
  })
  .refine((options) => options.reconnectMaxDelayMs >= options.reconnectInitialDelayMs, {
    path: ["reconnectMaxDelayMs"],
    message: "must be >= reconnectInitialDelayMs",
  });

function safeHostname(): string {
  try {
    return hostname() || "host";
  } catch {
    // Some sandboxes refuse os calls; the pid still tells connections apart on one host.
    return "host";
  }
}

export type RabbitmqSettings = z.output<typeof optionsSchema> & {
  /** Connection and channel failures the driver recovers from by itself (for logs). */
  onError: (error: Error, context: string) => void;
};

export type RabbitmqDriverOptions = z.input<typeof optionsSchema> & {
  /** Connection and channel failures the driver recovers from by itself. Default: console.warn. */
  onError?: (error: Error, context: string) => void;
};

/** Validates options and fills in defaults; a bad value throws a ValidationError naming the option. */
export function resolveOptions(options: RabbitmqDriverOptions): RabbitmqSettings {
  const { onError, ...rest } = options;
  const parsed = optionsSchema.safeParse(rest);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join(".") || "options", message: issue.message }));
    throw new ValidationError(
      `Invalid RabbitMQ driver options: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ")}`,
      issues,
    );
  }
  if (onError !== undefined && typeof onError !== "function") {
    throw new ValidationError("Invalid RabbitMQ driver options: onError: must be a function", [{ path: "onError", message: "must be a function" }]);
  }
  return { ...parsed.data, onError: onError ?? ((error, context) => console.warn(`[rabbitmq] ${context}: ${error.message}`)) };
}
