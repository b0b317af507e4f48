import { startOutboxRelay, type OutboxRelay } from "@/server/engine/transport/outbox-relay";
import { defaultConsumerName } from "@/server/engine/transport/subscriber";
import type { Container } from "./container";
import { connectWithBackoff } from "./transport";
import { logger } from "./logger";

export interface TransportWorkers {
  /** Resolves once the transport connected and the subscriptions and the relay started. */
  readonly ready: Promise<void>;
  /** The outbox relay, once started. */
  readonly relay: OutboxRelay | undefined;
  /** Stops connecting and the relay (the container's close stops the subscriptions and task workers). */
  stop(): Promise<void>;
}

/**
 * The transport side of a process: connect to the broker in the background (with backoff), then
 * start every defined subscription, the task queue's workers and the outbox relay. The web and
 * worker processes (boot.ts) and the integration tests start it the same way.
 */
export function startTransportWorkers(container: Pick<Container, "transport" | "store" | "env" | "tasks">): TransportWorkers {
  const { transport, store, env, tasks } = container;
  let relay: OutboxRelay | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const connection = connectWithBackoff(transport.driver, async () => {
    await transport.subscriptions.startAll();
    // The task queue's worker pool (TASK_WORKERS attempts at once) on the `tasks` topic.
    await tasks.start();
    relay ??= startOutboxRelay({
      store,
      driver: transport.driver,
      topic: transport.topic,
      lease: transport.lease,
      owner: defaultConsumerName(),
      pollIntervalMs: env.LOG_POLL_INTERVAL_MS,
      onError: (error, attempt) => logger.warn("outbox relay failed, retrying", { attempt, error }),
    });
    markReady();
  });
  return {
    ready,
    get relay() {
      return relay;
    },
    async stop() {
      connection.stop();
      await relay?.stop();
    },
  };
}
