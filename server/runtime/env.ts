import { z } from "zod";
import { parseAllowList } from "@/server/engine/webhooks/address-policy";

/**
 * Every environment variable Eventloom reads, in one schema. A bad value stops the process with a
 * message naming the variable (see {@link loadEnv}); nothing else reads `process.env` directly.
 */
const onOff = z.enum(["on", "off"]);

/** A whole number within bounds, each refusal saying which bound and what the number is for. */
function boundedInt({ min, max, unit, why }: { min: number; max: number; unit: string; why: string }) {
  return z.coerce
    .number({ error: `must be a number of ${unit}` })
    .int(`must be a whole number of ${unit}`)
    .min(min, `must be at least ${min} (${why})`)
    .max(max, `must be at most ${max} (${why})`);
}

/** Strict base64 (padding included) whose bytes number exactly 32: an AES-256 key. */
function isBase64Of32Bytes(value: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(value) && Buffer.from(value, "base64").length === 32;
}

export const envSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    HOST: z.union([z.ipv4(), z.ipv6(), z.literal("localhost")], { error: "must be an IP address or localhost" }).default("127.0.0.1").describe("Address npm start listens on"),
    PUBLIC_URL: z.url().optional().describe("Base URL browsers use; defaults to http://localhost:$PORT"),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
      .optional()
      .describe("Postgres connection; when unset, embedded PGlite stores data under DATA_DIR"),
    DATA_DIR: z.string().min(1).default(".data"),
    BUS_TRANSPORT: z
      .enum(["memory", "postgres", "redis", "kafka", "rabbitmq"])
      .default("postgres")
      .describe("Broker the event log is relayed to and subscriptions consume from"),
    TRANSPORT_TOPIC: z.string().regex(/^[a-zA-Z0-9._-]{1,100}$/, "letters, digits, . _ - only").default("events"),
    REDIS_URL: z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL").default("redis://127.0.0.1:6379"),
    KAFKA_BROKERS: z
      .string()
      .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, "must be host:port[,host:port...]")
      .default("127.0.0.1:9092"),
    AMQP_URL: z.string().regex(/^amqps?:\/\//, "must be an amqp:// or amqps:// URL").default("amqp://guest:guest@127.0.0.1:5672"),
    ADMIN_API_KEY: z.string().min(16, "must be at least 16 characters").optional(),
    ADMIN_EMAIL: z.email().optional(),
    ADMIN_PASSWORD: z.string().min(8, "must be at least 8 characters").optional(),
    BETTER_AUTH_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    DEMO: onOff.default("on"),
    DEMO_RATE: z.coerce.number().positive().max(10_000).default(4),
    WORKERS: onOff.default("on"),
    TASK_WORKERS: z.coerce.number().int().min(1).max(256).default(8).describe("Task queue worker pool size: task attempts run at once per process"),
    SAGA_WORKERS: boundedInt({ min: 1, max: 1024, unit: "sagas", why: "sagas one process advances at once" })
      .default(32)
      .describe("Sagas one process advances at once"),
    SAGA_LEASE_MS: boundedInt({ min: 500, max: 600_000, unit: "milliseconds", why: "how long a worker holds a saga before another may take it over" })
      .default(30_000)
      .describe("How long a saga stays with the worker that claimed it: a crashed worker's sagas resume elsewhere after this"),
    SAGA_POLL_INTERVAL_MS: boundedInt({ min: 10, max: 60_000, unit: "milliseconds", why: "how often idle saga workers look for due sagas and timers" })
      .default(250)
      .describe("How often idle saga workers look for due sagas (and due timers)"),
    WEBHOOK_ALLOWED_HOSTS: z
      .string()
      .superRefine((value, context) => {
        try {
          parseAllowList(value);
        } catch (error) {
          // The parser names the variable itself; loadEnv puts the name in front of every problem.
          const message = error instanceof Error ? error.message : String(error);
          context.addIssue({ code: "custom", message: message.replace(/^WEBHOOK_ALLOWED_HOSTS: /, "") });
        }
      })
      .optional()
      .describe("Host names, IPs and CIDRs webhooks may be delivered to although the SSRF rules block them (127.0.0.1,localhost for local receivers)"),
    WEBHOOK_SECRETS_KEY: z
      .string()
      .refine(isBase64Of32Bytes, "must be the base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`)")
      .optional()
      .describe("AES-256-GCM key webhook signing secrets are encrypted with at rest; unset: generated once into DATA_DIR"),
    WEBHOOK_AUTO_DISABLE_AFTER_MS: boundedInt({ min: 60_000, max: Number.MAX_SAFE_INTEGER, unit: "milliseconds", why: "how long an endpoint fails continuously before it is disabled" })
      .default(432_000_000)
      .describe("An endpoint failing continuously this long is disabled (default 5 days)"),
    WEBHOOK_ATTEMPT_RETENTION_DAYS: boundedInt({ min: 1, max: 3650, unit: "days", why: "how long webhook attempts are kept" })
      .default(30)
      .describe("Webhook attempts older than this are deleted (hourly)"),
    WEBHOOK_TIMEOUT_MS: boundedInt({ min: 1_000, max: 60_000, unit: "milliseconds", why: "how long one webhook request may take" })
      .default(15_000)
      .describe("One webhook request, connect to the last byte of the answer"),
    MAX_BODY_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
    SSE_HEARTBEAT_SECONDS: z.coerce.number().positive().max(60).default(15),
    QUERY_WAIT_MS: z.coerce
      .number({ error: "must be a number of milliseconds" })
      .int("must be a whole number of milliseconds")
      .min(0, "must be 0 (do not wait) or more")
      .max(60_000, "must be at most 60000 (a request should not hang longer)")
      .default(5_000)
      .describe("Longest a query waits for its read model to reach minPosition before answering 503"),
    LOG_POLL_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  })
  .superRefine((env, context) => {
    if ((env.ADMIN_EMAIL === undefined) !== (env.ADMIN_PASSWORD === undefined)) {
      context.addIssue({
        code: "custom",
        path: [env.ADMIN_EMAIL === undefined ? "ADMIN_EMAIL" : "ADMIN_PASSWORD"],
        message: "ADMIN_EMAIL and ADMIN_PASSWORD must be set together",
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses the environment; throws a {@link ConfigError} naming every bad variable. */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  // An empty variable means "not set": shells and .env files produce them routinely.
  const present = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = envSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const variable = issue.path.join(".") || "environment";
      const value = typeof issue.path[0] === "string" ? present[issue.path[0]] : undefined;
      const shown = value === undefined ? "" : ` (got ${JSON.stringify(variable.includes("PASSWORD") || variable.includes("SECRET") || variable.includes("KEY") ? "<redacted>" : value)})`;
      return `${variable}: ${issue.message}${shown}`;
    }),
  );
}

/** Where browsers reach the app (auth callbacks and cookies depend on it). */
export function publicUrl(env: Env): string {
  return env.PUBLIC_URL ?? `http://localhost:${env.PORT}`;
}
