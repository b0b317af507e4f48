import { createKafkaDriver } from "@/server/adapters/kafka";
import { createPostgresDriver } from "@/server/adapters/postgres/transport/postgres-driver";
import type { Database } from "@/server/adapters/postgres/database";
import { createRabbitmqDriver } from "@/server/adapters/rabbitmq";
import { createRedisDriver } from "@/server/adapters/redis";
import type { TransportDriver } from "@/server/engine/transport/driver";
import { MemoryDriver } from "@/server/engine/transport/memory-driver";
import type { Env } from "./env";
import { logger } from "./logger";

/** The broker named by BUS_TRANSPORT; the only place a transport adapter is chosen. */
export function createTransportDriver(env: Env, database: Database): TransportDriver {
  const onError = (error: unknown) => logger.warn("transport error", { transport: env.BUS_TRANSPORT, error });
  switch (env.BUS_TRANSPORT) {
    case "memory":
      return new MemoryDriver();
    case "postgres":
      return createPostgresDriver({ database });
    case "redis":
      return createRedisDriver({ url: env.REDIS_URL, onError });
    case "kafka":
      return createKafkaDriver({ brokers: env.KAFKA_BROKERS.split(",") });
    case "rabbitmq":
      return createRabbitmqDriver({ url: env.AMQP_URL });
  }
}

/**
 * Connects in the background, retrying with capped exponential backoff: a broker that is down at
 * start must not stop the process (health reports it; events wait in the log until it is back).
 */
export function connectWithBackoff(driver: TransportDriver, onConnected: () => Promise<void>): { stop(): void } {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = async (failures: number) => {
    if (stopped) return;
    try {
      await driver.connect();
      await onConnected();
      logger.info("transport connected", { transport: driver.kind });
    } catch (error) {
      const delayMs = Math.min(30_000, 500 * 2 ** failures) * (0.8 + Math.random() * 0.4);
      logger.warn("transport unreachable, retrying", { transport: driver.kind, inMs: Math.round(delayMs), error });
      timer = setTimeout(() => void attempt(failures + 1), delayMs);
    }
  };
  void attempt(0);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
