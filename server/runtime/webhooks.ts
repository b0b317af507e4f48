import { randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
import { UndiciWebhookSender } from "@/server/adapters/http/webhook-sender";
import type { Database } from "@/server/adapters/postgres/database";
import { PostgresWebhookStore } from "@/server/adapters/postgres/webhooks/postgres-webhook-store";
import type { EventTypeRegistry } from "@/server/engine/core/registry";
import type { EventStore } from "@/server/engine/store/event-store";
import type { EventPublisher } from "@/server/engine/store/publisher";
import { defaultConsumerName } from "@/server/engine/transport/subscriber";
import { parseAllowList } from "@/server/engine/webhooks/address-policy";
import { WebhookDispatcher } from "@/server/engine/webhooks/dispatcher";
import type { WebhookMetrics } from "@/server/engine/webhooks/metrics";
import type { WebhookSender } from "@/server/engine/webhooks/ports";
import { WebhookService } from "@/server/engine/webhooks/service";
import type { WebhookStore } from "@/server/engine/webhooks/webhook-store";
import type { Env } from "./env";
import { logger } from "./logger";
import { readOrCreateSecretFile } from "./secret-file";
import type { SubscriptionRegistry } from "./subscriptions";

/**
 * The process's webhooks: the management service (REST and the dashboard), the dispatcher that
 * delivers the log's events to endpoints, and their store. Any process can manage endpoints and
 * accepts first attempts for the events its subscription receives; only processes that run workers
 * (boot.ts) poll for retries, resends and catch-ups and prune old attempts.
 */
export interface WebhookServices {
  service: WebhookService;
  dispatcher: WebhookDispatcher;
  store: WebhookStore;
  /** Its connection pools close with the container. */
  sender: WebhookSender;
}

export type WebhookEnv = Pick<
  Env,
  | "DATA_DIR"
  | "DATABASE_URL"
  | "WEBHOOK_ALLOWED_HOSTS"
  | "WEBHOOK_SECRETS_KEY"
  | "WEBHOOK_AUTO_DISABLE_AFTER_MS"
  | "WEBHOOK_TIMEOUT_MS"
>;

export interface WebhookServicesDependencies {
  env: WebhookEnv;
  database: Database;
  /** Knows the event types endpoints may subscribe to, and upcasts stored events before delivery. */
  registry: EventTypeRegistry;
  /** The log: events by id for deliveries, recent events for the filter preview. */
  store: EventStore;
  /** webhook.endpoint.* audit events go through it. */
  publisher: EventPublisher;
  subscriptions: SubscriptionRegistry;
  metrics: WebhookMetrics;
}

export const WEBHOOK_SECRETS_KEY_FILE = "webhook-secrets-key";

/**
 * The key endpoint secrets are encrypted with at rest: WEBHOOK_SECRETS_KEY, else 32 random bytes
 * generated once into `${DATA_DIR}/webhook-secrets-key` (0600). Losing the key (or changing it)
 * makes every stored secret unreadable, so several hosts on one database must share it.
 */
export async function resolveWebhookSecretsKey(env: Pick<Env, "WEBHOOK_SECRETS_KEY" | "DATA_DIR" | "DATABASE_URL">): Promise<Buffer> {
  if (env.WEBHOOK_SECRETS_KEY) return Buffer.from(env.WEBHOOK_SECRETS_KEY, "base64");
  if (env.DATABASE_URL) {
    logger.warn("WEBHOOK_SECRETS_KEY is not set: using a per-host key file; set it when running more than one host, or the others cannot read the webhook secrets this one stores");
  }
  const { path, secret } = await readOrCreateSecretFile(env.DATA_DIR, WEBHOOK_SECRETS_KEY_FILE, () => randomBytes(32).toString("base64"));
  const key = Buffer.from(secret, "base64");
  if (key.length !== 32) throw new Error(`${path} does not hold the base64 of 32 bytes; restore it or set WEBHOOK_SECRETS_KEY`);
  return key;
}

/** Every address a host name resolves to (IPv4 and IPv6): the SSRF rules judge each of them. */
async function resolveHost(host: string): Promise<string[]> {
  const addresses = await lookup(host, { all: true, verbatim: true });
  return addresses.map((address) => address.address);
}

/**
 * Endpoints, deliveries and attempts in Postgres (or PGlite), secrets encrypted with the key
 * above; requests sent with undici under the SSRF rules and WEBHOOK_ALLOWED_HOSTS; the dispatcher
 * fed by the `webhook-dispatcher` subscription on the configured transport.
 */
export async function createWebhookServices({ env, database, registry, store, publisher, subscriptions, metrics }: WebhookServicesDependencies): Promise<WebhookServices> {
  const allow = parseAllowList(env.WEBHOOK_ALLOWED_HOSTS ?? "");
  const webhookStore = new PostgresWebhookStore(database, { secretsKey: await resolveWebhookSecretsKey(env) });
  const sender = new UndiciWebhookSender({ allow });
  const dispatcher = new WebhookDispatcher({
    store: webhookStore,
    sender,
    events: publisher,
    eventStore: store,
    registry,
    owner: defaultConsumerName(),
    metrics,
    timeoutMs: env.WEBHOOK_TIMEOUT_MS,
    autoDisableAfterMs: env.WEBHOOK_AUTO_DISABLE_AFTER_MS,
    onError: ({ stage, error, endpointId, deliveryId }) => logger.warn("webhook dispatcher problem", { stage, endpointId, deliveryId, error }),
  });
  const service = new WebhookService({
    store: webhookStore,
    dispatcher,
    registry,
    eventStore: store,
    publish: (drafts) => publisher.publish(drafts),
    allow,
    resolve: resolveHost,
  });
  subscriptions.define(dispatcher.subscription());
  return { service, dispatcher, store: webhookStore, sender };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Starts the dispatcher's loops (retries, resends, catch-ups) and the hourly pruning of attempts
 * older than WEBHOOK_ATTEMPT_RETENTION_DAYS, and returns how to stop them.
 */
export function startWebhookWorkers(
  { dispatcher, store }: Pick<WebhookServices, "dispatcher" | "store">,
  env: Pick<Env, "WEBHOOK_ATTEMPT_RETENTION_DAYS">,
): { stop(): Promise<void> } {
  dispatcher.start();
  let pruning: Promise<void> = Promise.resolve();
  const prune = () => {
    pruning = store
      .pruneAttempts(new Date(Date.now() - env.WEBHOOK_ATTEMPT_RETENTION_DAYS * DAY_MS).toISOString())
      .then((removed) => {
        if (removed > 0) logger.info("pruned webhook attempts", { removed, retentionDays: env.WEBHOOK_ATTEMPT_RETENTION_DAYS });
      })
      .catch((error: unknown) => logger.warn("pruning webhook attempts failed, trying again in an hour", { error }));
  };
  prune();
  const timer = setInterval(prune, HOUR_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await dispatcher.stop();
      await pruning;
    },
  };
}
