import type { RestContext } from "./route";

/**
 * `GET /api/metrics`: the process's Prometheus text exposition (default process metrics, webhook
 * deliveries, failures, latency and queue depth, subscription figures). Not public: only
 * /api/health is (rest-api.md), so a scraper sends a bearer key with `events:read`, the scope that
 * already reads the same figures through /api/v1/status (Prometheus: `authorization: {credentials: <key>}`).
 */
export async function metrics(context: RestContext<unknown>): Promise<Response> {
  const { contentType, body } = await context.container.metrics.exposition();
  return new Response(body, { status: 200, headers: { "content-type": contentType, "cache-control": "no-store" } });
}
