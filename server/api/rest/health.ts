import { logger } from "@/server/runtime/logger";
import { json, type PublicContext } from "./route";

/** How long the store may take to answer before health reports it down. */
const PING_TIMEOUT_MS = 2_000;
const RETRY_AFTER_SECONDS = "5";

/**
 * `GET /api/health`: public, so it reveals no error text (that goes to the log), only which
 * component is down. Load balancers take 503 to mean "send traffic elsewhere for now".
 */
export async function health(context: PublicContext<unknown>): Promise<Response> {
  const started = performance.now();
  try {
    const container = await context.container();
    await withTimeout(container.store.ping(), PING_TIMEOUT_MS);
    return json({ status: "ok" });
  } catch (error) {
    const latencyMs = Math.round(performance.now() - started);
    logger.warn("health check failed", { component: "database", latencyMs, error });
    return json(
      { status: "degraded", components: { database: { status: "down", latencyMs, error: error instanceof TimeoutError ? "timeout" : "unreachable" } } },
      503,
      { "retry-after": RETRY_AFTER_SECONDS },
    );
  }
}

class TimeoutError extends Error {}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
