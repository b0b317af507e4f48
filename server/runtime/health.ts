import type { EventDraft } from "@/server/engine/core/envelope";
import type { ProjectionStatus } from "@/server/engine/cqrs/projection-runner-types";
import type { SagaOperations } from "@/server/engine/sagas/ports";
import type { Container } from "./container";
import { logger } from "./logger";

export type ComponentStatus = "up" | "degraded" | "down";

export interface ComponentHealth {
  name: string;
  status: ComponentStatus;
  latencyMs: number | null;
  /** Why it is not up, in words safe to show (no hosts, no stack). */
  reason?: string;
}

export interface HealthReport {
  status: "healthy" | "degraded" | "unhealthy";
  components: ComponentHealth[];
}

/** How long the database may take before it counts as down, and as slow. */
const PING_TIMEOUT_MS = 2_000;
const PING_SLOW_MS = 500;
/** Async bus work waiting beyond this means handlers are not keeping up. */
const BUS_BACKLOG_DEGRADED = 10_000;

/** What probeHealth looks at; the transport, the projections and the sagas are optional (unit tests leave them out). */
export type HealthProbeTargets = Pick<Container, "store" | "bus"> & {
  transport?: Pick<Container["transport"], "driver">;
  cqrs?: { projections: { status(): Promise<ProjectionStatus[]> } };
  sagas?: { orchestrator: Pick<SagaOperations, "counts" | "stats"> };
  webhooks?: { dispatcher: { stats(): { running: boolean } } };
  /** Whether this process is meant to run engine workers (then saga workers that do not run are a problem). */
  env?: Pick<Container["env"], "WORKERS">;
};

/** Measures each component of this process now. Never throws: a failure is a component's status. */
export async function probeHealth(container: HealthProbeTargets): Promise<HealthReport> {
  const components = [await probeDatabase(container), probeBus(container)];
  if (container.transport) components.push(await probeTransport(container.transport.driver));
  if (container.cqrs) components.push(await probeProjections(container.cqrs.projections));
  if (container.sagas) components.push(await probeSagas(container.sagas.orchestrator, container.env?.WORKERS === "on"));
  if (container.webhooks) components.push(probeWebhooks(container.webhooks.dispatcher, container.env?.WORKERS === "on"));
  const status = components.some((component) => component.status === "down")
    ? "unhealthy"
    : components.some((component) => component.status === "degraded")
      ? "degraded"
      : "healthy";
  return { status, components };
}

function probeDatabase({ store }: Pick<Container, "store">): Promise<ComponentHealth> {
  return probeRoundTrip("database", () => store.ping());
}

function probeTransport(driver: Pick<Container["transport"]["driver"], "ping" | "kind">): Promise<ComponentHealth> {
  return probeRoundTrip(`transport:${driver.kind}`, () => driver.ping());
}

/** Times one round trip: slow is degraded, no answer (error or timeout) is down. */
async function probeRoundTrip(name: string, ping: () => Promise<void>): Promise<ComponentHealth> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), PING_TIMEOUT_MS);
      }),
    ]);
    const latencyMs = Math.round(performance.now() - started);
    return latencyMs > PING_SLOW_MS
      ? { name, status: "degraded", latencyMs, reason: `answered in ${latencyMs} ms` }
      : { name, status: "up", latencyMs };
  } catch (error) {
    const latencyMs = Math.round(performance.now() - started);
    logger.warn("health check failed", { component: name, latencyMs, error });
    const timedOut = error instanceof Error && error.message === "timeout";
    return { name, status: "down", latencyMs, reason: timedOut ? "timeout" : "unreachable" };
  } finally {
    clearTimeout(timer);
  }
}

function probeBus({ bus }: Pick<Container, "bus">): ComponentHealth {
  const { queued } = bus.stats();
  const backlog = queued.high + queued.normal + queued.low;
  return backlog > BUS_BACKLOG_DEGRADED
    ? { name: "event-bus", status: "degraded", latencyMs: null, reason: `${backlog} handler runs queued` }
    : { name: "event-bus", status: "up", latencyMs: null };
}

/**
 * A failing projection degrades the service (its queries answer ever staler data) but does not
 * take it down: queries still answer, so /api/health stays 200. Only the process running the
 * projection sees its failures; elsewhere the figures come from the database.
 */
async function probeProjections(projections: { status(): Promise<ProjectionStatus[]> }): Promise<ComponentHealth> {
  let statuses: ProjectionStatus[];
  try {
    statuses = await projections.status();
  } catch (error) {
    logger.warn("health check failed", { component: "projections", error });
    return { name: "projections", status: "degraded", latencyMs: null, reason: "their state could not be read" };
  }
  const failing = statuses.filter((projection) => projection.state === "failing").map((projection) => projection.name);
  return failing.length > 0
    ? { name: "projections", status: "degraded", latencyMs: null, reason: `failing: ${failing.join(", ")}` }
    : { name: "projections", status: "up", latencyMs: null };
}

/**
 * A failed saga (a compensation that kept failing) waits for an operator to retry it: the service
 * still works, but something it started is half undone, so it is degraded until someone looks.
 * Saga workers that should run here and do not leave every saga of this process standing still.
 */
async function probeSagas(sagas: Pick<SagaOperations, "counts" | "stats">, workersExpected: boolean): Promise<ComponentHealth> {
  const problems: string[] = [];
  if (workersExpected && !sagas.stats().running) problems.push("saga workers are not running");
  try {
    const { byType } = await sagas.counts();
    const failed = Object.entries(byType)
      .map(([type, counts]) => [type, counts.failed ?? 0] as const)
      .filter(([, count]) => count > 0);
    const total = failed.reduce((sum, [, count]) => sum + count, 0);
    if (total > 0) {
      const which = failed.map(([type, count]) => `${type}: ${count}`).join(", ");
      problems.push(`${total} failed saga${total === 1 ? "" : "s"} wait${total === 1 ? "s" : ""} for an operator to retry (${which})`);
    }
  } catch (error) {
    logger.warn("health check failed", { component: "sagas", error });
    problems.push("their state could not be read");
  }
  return problems.length > 0
    ? { name: "sagas", status: "degraded", latencyMs: null, reason: problems.join("; ") }
    : { name: "sagas", status: "up", latencyMs: null };
}

/**
 * A dispatcher that should poll here and does not leaves retries, resends and catch-ups waiting
 * (first attempts still go out through its subscription): degraded. Receivers that fail are the
 * receivers' problem, shown per endpoint, never this service's health.
 */
function probeWebhooks(dispatcher: { stats(): { running: boolean } }, workersExpected: boolean): ComponentHealth {
  return workersExpected && !dispatcher.stats().running
    ? { name: "webhooks", status: "degraded", latencyMs: null, reason: "the webhook dispatcher is not running: retries wait" }
    : { name: "webhooks", status: "up", latencyMs: null };
}

export const HEALTH_REPORT_INTERVAL_MS = 30_000;

/**
 * Publishes this process's measured health as `system.health_check` events, so health history
 * sits in the log beside the traffic it affected and can be followed like any other event.
 */
export function startHealthReporter(container: Container, intervalMs = HEALTH_REPORT_INTERVAL_MS): { stop(): void } {
  const report = async () => {
    const health = await probeHealth(container);
    const draft: EventDraft = {
      type: "system.health_check",
      source: "urn:eventloom:runtime",
      subject: "system",
      priority: "low",
      data: {
        status: health.status,
        components: health.components.map(({ name, status, latencyMs }) => ({ name, status, latencyMs })),
        uptimeSeconds: Math.floor(process.uptime()),
      },
    };
    await container.publisher.publish([draft]);
  };
  const run = () => void report().catch((error: unknown) => logger.warn("health report failed", { error }));
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
