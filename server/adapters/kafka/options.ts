import { hostname } from "node:os";
import type { ISocketFactory, SASLOptions } from "kafkajs";
import type { ConnectionOptions } from "node:tls";
import { z } from "zod";
import { ValidationError } from "@/server/engine/core/errors";

/** Kafka's default `group.min.session.timeout.ms`: brokers refuse shorter sessions. */
const BROKER_MIN_SESSION_TIMEOUT_MS = 6_000;

const positiveInt = z.number().int().positive();

const schema = z.object({
  /** Bootstrap brokers, `host:port`. */
  brokers: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, "must be host:port")).min(1, "must name at least one broker"),
  /** Shown in the broker's logs and quotas; consumers append their instance name. */
  clientId: z.string().min(1).default(`eventloom-${safeHostname()}-${process.pid}`),
  /** First part of every topic and group name, so several deployments can share a cluster. */
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 characters of letters, digits, _ . -")
    .default("el"),
  /** Partitions of every topic the driver creates: the most consumers of a group that get work. */
  partitions: positiveInt.max(10_000).default(6),
  /** Replicas of every topic the driver creates; -1 takes the broker's `default.replication.factor`. */
  replicationFactor: z.number().int().min(-1).max(32).refine((value) => value !== 0, "must be -1 or at least 1").default(-1),
  /**
   * A consumer that dies without leaving its group loses its partitions (and their unsettled
   * messages go to another member) after this: the session timeout, never below the broker's
   * minimum of 6 s. A consumer that closes, crashes or stops cleanly leaves at once.
   */
  redeliveryAfterMs: positiveInt.max(30 * 60_000).default(30_000),
  /** Settled offsets (and hand-out marks) are committed at most this often per consumer; close() commits at once. */
  commitIntervalMs: z.number().int().min(0).max(60_000).default(100),
  /** Longest a fetch waits for new records; also bounds how soon a resumed partition is fetched again. */
  maxWaitMs: positiveInt.max(10_000).default(100),
  /** Records fetched ahead per partition (beyond what is handed out) before the partition is paused. */
  bufferPerPartition: positiveInt.max(100_000).default(500),
  /** connect() rejects if the cluster has not answered by then. */
  connectTimeoutMs: positiveInt.max(10 * 60_000).default(10_000),
  /** publish() (and retry/redeliver) rejects with `unavailable` if the broker has not acknowledged by then. */
  publishTimeoutMs: positiveInt.max(10 * 60_000).default(30_000),
});

export type KafkaLog = (level: "warn" | "error", message: string, fields?: Record<string, unknown>) => void;

export type KafkaDriverOptions = z.input<typeof schema> & {
  /** TLS to the brokers: `true` for the system's CAs, or Node TLS options. */
  ssl?: boolean | ConnectionOptions;
  sasl?: SASLOptions;
  /** Opens the TCP (or TLS) socket to a broker, e.g. through a proxy. Default: kafkajs's own. */
  socketFactory?: ISocketFactory;
  /**
   * kafkajs warnings and errors, and failures the driver recovers from by itself (a failed commit,
   * a consumer restart). Default: one line on stderr.
   */
  log?: KafkaLog;
};

export type KafkaSettings = z.output<typeof schema> & {
  ssl: boolean | ConnectionOptions | undefined;
  sasl: SASLOptions | undefined;
  socketFactory: ISocketFactory | undefined;
  log: KafkaLog;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
};

/** Validates options and fills in defaults; a bad value throws a ValidationError naming the option. */
export function resolveKafkaOptions(options: KafkaDriverOptions): KafkaSettings {
  const { ssl, sasl, socketFactory, log, ...rest } = options;
  const parsed = schema.safeParse(rest);
  const issues = parsed.success ? [] : parsed.error.issues.map((issue) => ({ path: issue.path.join(".") || "options", message: issue.message }));
  if (log !== undefined && typeof log !== "function") issues.push({ path: "log", message: "must be a function" });
  if (socketFactory !== undefined && typeof socketFactory !== "function") issues.push({ path: "socketFactory", message: "must be a function" });
  if (ssl !== undefined && typeof ssl !== "boolean" && (typeof ssl !== "object" || ssl === null)) issues.push({ path: "ssl", message: "must be a boolean or TLS options" });
  if (sasl !== undefined && (typeof sasl !== "object" || sasl === null || typeof sasl.mechanism !== "string")) issues.push({ path: "sasl", message: "must be SASL options with a mechanism" });
  if (!parsed.success || issues.length > 0) {
    throw new ValidationError(`Invalid Kafka driver options: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ")}`, issues);
  }
  const settings = parsed.data;
  const sessionTimeoutMs = Math.max(BROKER_MIN_SESSION_TIMEOUT_MS, settings.redeliveryAfterMs);
  return {
    ...settings,
    ssl,
    sasl,
    socketFactory,
    log: log ?? defaultLog,
    sessionTimeoutMs,
    // Members learn of a rebalance (a member left: its partitions need a new owner) from a
    // heartbeat reply, so heartbeats come often enough for the survivors to take over well within
    // redeliveryAfterMs; Kafka's own advice is at most a third of the session.
    heartbeatIntervalMs: Math.min(Math.floor(sessionTimeoutMs / 3), Math.max(100, Math.floor(settings.redeliveryAfterMs / 5))),
    // Members rejoin as soon as they hear of a rebalance (fetch handlers never block), so this only
    // bounds how long the group waits for a member that stopped answering.
    rebalanceTimeoutMs: Math.max(10_000, sessionTimeoutMs),
  };
}

const defaultLog: KafkaLog = (level, message, fields) => {
  const detail = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
  (level === "error" ? console.error : console.warn)(`[kafka] ${message}${detail}`);
};

function safeHostname(): string {
  try {
    return hostname() || "host";
  } catch {
    // Some sandboxes refuse os calls; the pid still tells clients apart on one host.
    return "host";
  }
}
