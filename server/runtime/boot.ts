import { startDemoTraffic } from "@/server/domain/demo-traffic";
import { closeContainer, getContainer, type Container } from "./container";
import { ConfigError, loadEnv } from "./env";
import { startHealthReporter } from "./health";
import { startSagaWorkers } from "./sagas";
import { startTransportWorkers } from "./transport-workers";
import { startWebhookWorkers } from "./webhooks";
import { logger } from "./logger";

export type ProcessRole = "web" | "worker";

const BOOTED_KEY = Symbol.for("eventloom.booted");

/**
 * Starts this process's engine workers once (Next may call instrumentation more than once in
 * development) and wires SIGTERM/SIGINT to a clean shutdown that drains queued work.
 */
export async function bootProcess(role: ProcessRole): Promise<Container> {
  const slot = globalThis as { [BOOTED_KEY]?: Promise<Container> };
  slot[BOOTED_KEY] ??= boot(role);
  return slot[BOOTED_KEY];
}

async function boot(role: ProcessRole): Promise<Container> {
  let container: Container;
  try {
    const env = loadEnv();
    if (role === "worker" && !env.DATABASE_URL) {
      // PGlite is embedded in one process: a second process cannot open the same data directory.
      console.error("npm run worker needs DATABASE_URL: the embedded database (PGlite) belongs to the web process.");
      process.exit(1);
    }
    container = await getContainer();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
    } else {
      logger.error("startup failed", { error });
    }
    process.exit(1);
  }
  const { env } = container;
  const stoppers: Array<() => Promise<void>> = [];

  if (env.WORKERS === "on") {
    const reporter = startHealthReporter(container);
    stoppers.push(async () => reporter.stop());

    const workers = startTransportWorkers(container);
    stoppers.push(() => workers.stop());

    // Needs no broker: the projections read the log from the database (one process runs each).
    container.cqrs.projections.start();
    stoppers.push(() => container.cqrs.projections.stop());

    // Need no broker either: sagas and timers are claimed from the database (each by one process).
    const sagaWorkers = startSagaWorkers(container.sagas);
    stoppers.push(() => sagaWorkers.stop());

    // Retries, resends and catch-ups are claimed from the database too; first attempts follow the
    // webhook-dispatcher subscription, which the transport workers start.
    const webhookWorkers = startWebhookWorkers(container.webhooks, env);
    stoppers.push(() => webhookWorkers.stop());
  }

  if (env.WORKERS === "on" && env.DEMO === "on") {
    const { commands, queries } = container.cqrs;
    const demo = startDemoTraffic({
      ratePerSecond: env.DEMO_RATE,
      execute: (name, input, context) => commands.execute(name, input, context),
      query: (name, params, context) => queries.execute(name, params, context),
      onError: (error) => logger.warn("demo step failed", { error }),
    });
    stoppers.push(() => demo.stop());
    logger.info("demo traffic on", { ratePerSecond: env.DEMO_RATE, hint: "DEMO=off turns it off" });
  }

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info("shutting down", { role, signal });
    for (const stop of stoppers) await stop();
    await closeContainer();
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));

  logger.info("eventloom started", {
    role,
    database: container.database.kind,
    workers: env.WORKERS,
    demo: env.DEMO,
  });
  return container;
}
