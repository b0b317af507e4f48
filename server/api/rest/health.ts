import { probeHealth } from "@/server/runtime/health";
import { json, type PublicContext } from "./route";

const RETRY_AFTER_SECONDS = "5";

/**
 * `GET /api/health`: public, so it names components and their state but no error text (that goes
 * to the log). Load balancers take 503 to mean "send traffic elsewhere for now".
 */
export async function health(context: PublicContext<unknown>): Promise<Response> {
  let report;
  try {
    report = await probeHealth(await context.container());
  } catch {
    // The container itself could not start (database unreachable at boot).
    return json({ status: "degraded", components: { database: { status: "down", reason: "unreachable" } } }, 503, {
      "retry-after": RETRY_AFTER_SECONDS,
    });
  }
  if (report.status !== "unhealthy") return json({ status: "ok" });
  const components = Object.fromEntries(report.components.map(({ name, ...rest }) => [name, rest]));
  return json({ status: "degraded", components }, 503, { "retry-after": RETRY_AFTER_SECONDS });
}
