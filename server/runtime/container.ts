import { EventBus } from "@/server/engine/bus";
import { EventTypeRegistry } from "@/server/engine/core/registry";
import { LogTail } from "@/server/engine/store/log-tail";
import { EventPublisher } from "@/server/engine/store/publisher";
import { GroupCommitAppender } from "@/server/engine/store/group-commit";
import type { EventStore } from "@/server/engine/store/event-store";
import { openDatabase, migrate, type Database } from "@/server/adapters/postgres/database";
import { PostgresEventStore } from "@/server/adapters/postgres/postgres-event-store";
import { PostgresEventTypeRepository } from "@/server/adapters/postgres/postgres-event-type-repository";
import { registerDomainEventTypes } from "@/server/domain/events";
import { bootstrapFirstAdmin, createAuthServices, type AuthServices } from "./auth";
import { loadEnv, type Env } from "./env";
import { logger } from "./logger";

/**
 * Everything a request handler or worker needs, wired once per process. This is the ONLY place
 * that chooses adapters (ARCHITECTURE.md): PGlite when DATABASE_URL is unset, Postgres otherwise.
 */
export interface Container {
  env: Env;
  database: Database;
  registry: EventTypeRegistry;
  eventTypes: PostgresEventTypeRepository;
  store: EventStore;
  bus: EventBus;
  publisher: EventPublisher;
  tail: LogTail;
  /** API keys, dashboard sessions (better-auth) and the one `authenticate(request)` both use. */
  authServices: AuthServices;
  close(): Promise<void>;
}

export async function createContainer(env: Env): Promise<Container> {
  const database = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: `${env.DATA_DIR}/pglite` });
  await migrate(database);
  const authServices = await createAuthServices(database, env);
  await bootstrapFirstAdmin(authServices, database, env);

  const registry = new EventTypeRegistry();
  registerDomainEventTypes(registry);
  const eventTypes = new PostgresEventTypeRepository(database);
  await registry.loadRuntimeTypes(eventTypes);

  const store = new PostgresEventStore(database);
  const bus = new EventBus({
    onError: ({ event, subscription, error }) =>
      logger.error("bus handler failed", { subscription, eventId: event.id, type: event.type, error }),
  });
  const publisher = new EventPublisher(new GroupCommitAppender(store), registry, bus, ({ subscription, error }) =>
    logger.error("sync handler failed", { subscription, error }),
  );
  const tail = new LogTail({ store, pollIntervalMs: env.LOG_POLL_INTERVAL_MS });

  return {
    env,
    database,
    registry,
    eventTypes,
    store,
    bus,
    publisher,
    tail,
    authServices,
    async close() {
      tail.close();
      await bus.close();
      await store.close();
      await database.close();
    },
  };
}

// Next.js loads instrumentation and every route handler as separate bundles in one process; the
// container must be one per process, so it lives on globalThis rather than in a module variable.
const CONTAINER_KEY = Symbol.for("eventloom.container");
type ContainerSlot = { [CONTAINER_KEY]?: Promise<Container> };

/** The process's container, created on first use from the environment. */
export function getContainer(): Promise<Container> {
  const slot = globalThis as ContainerSlot;
  slot[CONTAINER_KEY] ??= createContainer(loadEnv()).catch((error: unknown) => {
    delete slot[CONTAINER_KEY];
    throw error;
  });
  return slot[CONTAINER_KEY];
}

/** Tests install a container built for them (own database, fake settings) before calling routes. */
export function installContainer(container: Promise<Container> | Container): void {
  (globalThis as ContainerSlot)[CONTAINER_KEY] = Promise.resolve(container);
}

export async function closeContainer(): Promise<void> {
  const slot = globalThis as ContainerSlot;
  const pending = slot[CONTAINER_KEY];
  delete slot[CONTAINER_KEY];
  if (pending) await (await pending).close();
}
