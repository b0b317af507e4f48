import type { WebhookAttemptStatus } from "./webhook-store";

/**
 * Why an attempt failed (or a delivery was held back), as a metric label: a small closed set.
 * `error`: the sender threw something that is not a WebhookSendError (a bug, never a crash).
 */
export type WebhookFailureReason =
  | "http_3xx"
  | "http_4xx"
  | "http_5xx"
  | "gone"
  | "timeout"
  | "connection"
  | "dns"
  | "blocked_address"
  | "invalid_url"
  | "aborted"
  | "error";

/** Why a due delivery was not attempted now (no attempt is counted). */
export type WebhookDeferReason = "circuit_open" | "rate_limited";

/**
 * What the dispatcher reports; the runtime implements it with prom-client
 * (`eventloom_webhook_deliveries_total{outcome}`, `eventloom_webhook_failures_total{reason}`,
 * `eventloom_webhook_attempt_duration_seconds`). Queue depth per endpoint is read at scrape time
 * (WebhookStore.endpointStats `pending`, WebhookDispatcher.stats()). Calls must not throw.
 */
export interface WebhookMetrics {
  attempted(outcome: WebhookAttemptStatus, reason: WebhookFailureReason | null, durationMs: number, endpointId: string): void;
  /** Counted as `eventloom_webhook_failures_total{reason}` too (the endpoint is failing or throttled), though no attempt was made. */
  deferred?(reason: WebhookDeferReason, endpointId: string): void;
}

export const noopWebhookMetrics: WebhookMetrics = {
  attempted: () => {},
  deferred: () => {},
};
