import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { WebhookMetrics } from "@/server/engine/webhooks/metrics";
import type { WebhookStore } from "@/server/engine/webhooks/webhook-store";
import { logger } from "./logger";
import type { SubscriptionFigures } from "./subscriptions";

/**
 * The process's Prometheus metrics, served at `GET /api/metrics`: Node's default process metrics,
 * what the engine reports through its metric ports (webhook attempts as they happen), and gauges
 * read from their sources when scraped (webhook queues, subscription depth and lag). One registry
 * per container, never prom-client's global one: test suites build several containers in one
 * process, and a metric name may be registered once per registry.
 */
export class RuntimeMetrics {
  readonly registry = new Registry();
  /** The engine's webhook dispatcher reports each attempt here. */
  readonly webhooks: WebhookMetrics;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const deliveries = new Counter({
      name: "eventloom_webhook_deliveries_total",
      help: "Webhook delivery attempts by outcome (succeeded, failed).",
      labelNames: ["outcome"] as const,
      registers,
    });
    const failures = new Counter({
      name: "eventloom_webhook_failures_total",
      help: "Failed webhook attempts by reason (timeout, connection, dns, blocked_address, invalid_url, http_3xx, http_4xx, http_5xx, gone, aborted, error).",
      labelNames: ["reason"] as const,
      registers,
    });
    const deferred = new Counter({
      name: "eventloom_webhook_deferred_total",
      help: "Due webhook deliveries held back without an attempt, by reason (circuit_open: the endpoint's circuit breaker is open; rate_limited: its rate limit).",
      labelNames: ["reason"] as const,
      registers,
    });
    const duration = new Histogram({
      name: "eventloom_webhook_attempt_duration_seconds",
      help: "Duration of webhook attempts, from the request's start to the last byte of the answer (or the failure).",
      labelNames: ["outcome"] as const,
      // From a loopback receiver's milliseconds to WEBHOOK_TIMEOUT_MS's maximum of 60 s.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60],
      registers,
    });
    this.webhooks = {
      attempted(outcome, reason, durationMs) {
        deliveries.inc({ outcome });
        if (reason !== null) failures.inc({ reason });
        duration.observe({ outcome }, durationMs / 1000);
      },
      deferred(reason) {
        deferred.inc({ reason });
      },
    };
  }

  /**
   * `eventloom_webhook_queue_depth{endpoint}`: deliveries pending per endpoint, read from the store
   * at each scrape (so every process reports the shared queue, not only its own share of it).
   */
  collectWebhookQueues(store: Pick<WebhookStore, "endpointStats">): void {
    new Gauge({
      name: "eventloom_webhook_queue_depth",
      help: "Webhook deliveries pending per endpoint (due now or waiting for a retry).",
      labelNames: ["endpoint"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const stats = await readOrWarn("webhook queue depth", () => store.endpointStats({ since: new Date().toISOString() }));
        for (const endpoint of stats ?? []) this.set({ endpoint: endpoint.endpointId }, endpoint.pending);
      },
    });
  }

  /** Depth, lag, in-flight and dead-lettered figures of every subscription, as the status page shows them. */
  collectSubscriptions(source: { figures(): Promise<SubscriptionFigures[]> }): void {
    const figures: Array<[keyof SubscriptionFigures & ("depth" | "lag" | "inFlight" | "deadLettered"), string, string]> = [
      ["depth", "eventloom_subscription_depth", "Messages waiting for the subscription's consumer group."],
      ["lag", "eventloom_subscription_lag", "How far the subscription's consumer group is behind the head of its topic."],
      ["inFlight", "eventloom_subscription_in_flight", "Messages the subscription's consumers hold and have not acknowledged."],
      ["deadLettered", "eventloom_subscription_dead_lettered", "Dead letters of the subscription waiting for a redrive."],
    ];
    // One read of the figures serves the four gauges of a scrape: the registry collects every
    // metric at once, so all four ask before the read settles; the next scrape reads afresh.
    let current: Promise<SubscriptionFigures[] | undefined> | undefined;
    const read = () =>
      (current ??= readOrWarn("subscription figures", () => source.figures()).finally(() => {
        current = undefined;
      }));
    for (const [field, name, help] of figures) {
      new Gauge({
        name,
        help,
        labelNames: ["subscription"] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const subscription of (await read()) ?? []) this.set({ subscription: subscription.name }, subscription[field]);
        },
      });
    }
  }

  /** The Prometheus text exposition of every metric. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A source that cannot be read leaves its gauge empty for this scrape; the scrape itself still answers. */
async function readOrWarn<T>(what: string, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    logger.warn("metrics source unavailable", { source: what, error });
    return undefined;
  }
}
