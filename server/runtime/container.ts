import { EventBus } from "@/server/engine/bus";
import { CommandBus } from "@/server/engine/cqrs/command-bus";
import { ProjectionRunner } from "@/server/engine/cqrs/projection-runner";
import { QueryBus } from "@/server/engine/cqrs/query-bus";
import { EventTypeRegistry } from "@/server/engine/core/registry";
import { LogTail } from "@/server/engine/store/log-tail";
import { EventPublisher } from "@/server/engine/store/publisher";
import { GroupCommitAppender } from "@/server/engine/store/group-commit";
import type { EventStore } from "@/server/engine/store/event-store";
import { openDatabase, migrate, type Database } from "@/server/adapters/postgres/database";
import { PostgresEventStore } from "@/server/adapters/postgres/postgres-event-store";
import { PostgresEventTypeRepository } from "@/server/adapters/postgres/postgres-event-type-repository";
import { PostgresAdvisoryLease } from "@/server/adapters/postgres/advisory-lease";
import { PostgresDeadLetterStore } from "@/server/adapters/postgres/transport/postgres-dead-letter-store";
import { PostgresInbox } from "@/server/adapters/postgres/transport/postgres-inbox";
import { PostgresReplayStore } from "@/server/adapters/postgres/postgres-replay-store";
import { PostgresReadModelStore } from "@/server/adapters/postgres/read-models";
import { PostgresSnapshotStore } from "@/server/adapters/postgres/snapshot-store";
import type { DeadLetterStore, Inbox } from "@/server/engine/transport/dead-letters";
import type { TransportDriver } from "@/server/engine/transport/driver";
import { InMemoryLease, type Lease } from "@/server/engine/transport/lease";
import { domainCommands } from "@/server/domain/commands";
import { registerDomainEventTypes } from "@/server/domain/events";
import { domainProjections } from "@/server/domain/projections";
import { domainQueries } from "@/server/domain/queries";
import { domainReactions } from "@/server/domain/reactions";
import { registerSagaEventTypes } from "@/server/engine/sagas/events";
import { registerTaskEventTypes } from "@/server/engine/tasks/events";
import { registerWebhookEventTypes } from "@/server/engine/webhooks/events";
import type { TaskQueue } from "@/server/engine/tasks/task-queue";
import { defaultConsumerName } from "@/server/engine/transport/subscriber";
import { DeadLetterActions } from "./dead-letters";
import { diagnosticsSubscription, registerDiagnosticsEventTypes } from "./diagnostics";
import { ReplayService } from "./replays";
import { RuntimeMetrics } from "./metrics";
import { createSagaServices, type SagaServices } from "./sagas";
import { domainReadModelTables } from "./read-models";
import { createTaskQueue } from "./tasks";
import { SubscriptionRegistry } from "./subscriptions";
import { createTransportDriver } from "./transport";
import { createWebhookServices, type WebhookServices } from "./webhooks";
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
  transport: TransportServices;
  /** The priority task queue (submit, status); its worker pool starts with the transport workers. */
  tasks: TaskQueue;
  cqrs: CqrsServices;
  /** Orchestrated and choreographed sagas; their workers start with the engine workers (boot.ts). */
  sagas: SagaServices;
  /** Endpoints, the dispatcher delivering the log to them, and their store; the dispatcher's loops start with the engine workers (boot.ts). */
  webhooks: WebhookServices;
  /** Prometheus metrics of this process (`GET /api/metrics`). */
  metrics: RuntimeMetrics;
  close(): Promise<void>;
}

/** Commands in, read models out. The projection runner starts with the engine workers (boot.ts). */
export interface CqrsServices {
  commands: CommandBus;
  queries: QueryBus;
  projections: ProjectionRunner;
}

/** The broker side: the driver BUS_TRANSPORT names, and what every subscription shares. */
export interface TransportServices {
  driver: TransportDriver;
  topic: string;
  deadLetters: DeadLetterStore;
  inbox: Inbox;
  /** One outbox relay across processes: a Postgres advisory lock, or in-process on PGlite. */
  lease: Lease & { close?(): Promise<void> };
  subscriptions: SubscriptionRegistry;
  /** Redrive and delete dead letters (one, or every match). */
  deadLetterActions: DeadLetterActions;
  /** Replays of the log to a subscription: accepted and run here, reported from any process. */
  replays: ReplayService;
}

export async function createContainer(env: Env): Promise<Container> {
  const database = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: `${env.DATA_DIR}/pglite` });
  await migrate(database);
  const authServices = await createAuthServices(database, env);
  await bootstrapFirstAdmin(authServices, database, env);

  const registry = new EventTypeRegistry();
  registerDomainEventTypes(registry);
  registerDiagnosticsEventTypes(registry);
  registerTaskEventTypes(registry);
  registerSagaEventTypes(registry);
  registerWebhookEventTypes(registry);
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

  const driver = createTransportDriver(env, database);
  const deadLetters = new PostgresDeadLetterStore(database);
  const inbox = new PostgresInbox(database);
  const subscriptions = new SubscriptionRegistry(driver, env.TRANSPORT_TOPIC, deadLetters, inbox);
  subscriptions.define(diagnosticsSubscription());
  const transport: TransportServices = {
    driver,
    topic: env.TRANSPORT_TOPIC,
    deadLetters,
    inbox,
    lease: env.DATABASE_URL ? new PostgresAdvisoryLease(env.DATABASE_URL) : new InMemoryLease(),
    subscriptions,
    deadLetterActions: new DeadLetterActions({ driver, deadLetters }),
    replays: new ReplayService({ store, driver, topic: env.TRANSPORT_TOPIC, replays: new PostgresReplayStore(database), subscriptions }),
  };
  const tasks = createTaskQueue({ env, database, publisher, transport });
  const cqrs = createCqrs({ env, database, registry, store, bus, lease: transport.lease });
  const sagas = createSagaServices({ env, database, store, publisher, commands: cqrs.commands, tasks, subscriptions });
  // The domain's reactions move the pipeline on (sagas, notifications) from the log.
  for (const reaction of domainReactions({ sagas: sagas.orchestrator, publish: (drafts) => publisher.publish(drafts) })) {
    subscriptions.define(reaction);
  }
  const metrics = new RuntimeMetrics();
  const webhooks = await createWebhookServices({ env, database, registry, store, publisher, subscriptions, metrics: metrics.webhooks });
  metrics.collectWebhookQueues(webhooks.store);
  metrics.collectSubscriptions(subscriptions);

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
    transport,
    tasks,
    cqrs,
    sagas,
    webhooks,
    metrics,
    async close() {
      tail.close();
      // Before the store: a delivery being recorded, or an endpoint being disabled, still writes.
      await webhooks.dispatcher.stop();
      await webhooks.sender.close?.();
      // Before the task queue and the store: a saga being advanced may still submit or append.
      await sagas.orchestrator.stop();
      await sagas.timers.stop();
      await cqrs.projections.stop();
      await transport.replays.close();
      await transport.deadLetterActions.close();
      await tasks.stop();
      await subscriptions.stopAll();
      await driver.close();
      await transport.lease.close?.();
      await bus.close();
      await store.close();
      await database.close();
    },
  };
}

/**
 * The command bus appends straight to the store (not through the group commit: every command
 * append carries an expected version) and hands committed events to the in-process bus, as the
 * publisher does. The projection runner shares the outbox relay's lease: one Postgres session (or
 * the in-process lease on PGlite) holds a lock per name.
 */
function createCqrs({
  env,
  database,
  registry,
  store,
  bus,
  lease,
}: {
  env: Env;
  database: Database;
  registry: EventTypeRegistry;
  store: EventStore;
  bus: EventBus;
  lease: Lease;
}): CqrsServices {
  const readModels = new PostgresReadModelStore(database, domainReadModelTables);
  const commands = new CommandBus({
    store,
    validator: registry,
    sink: bus,
    snapshots: new PostgresSnapshotStore(database),
    onHandlerError: ({ subscription, error }) => logger.error("sync handler failed", { subscription, error }),
    onSnapshotError: (error, snapshot) => logger.warn("snapshot not saved", { ...snapshot, error }),
  });
  for (const command of domainCommands) commands.register(command);
  const queries = new QueryBus({ source: readModels });
  for (const query of domainQueries) queries.register(query);
  const projections = new ProjectionRunner({
    store,
    readModels,
    lease,
    owner: defaultConsumerName(),
    projections: domainProjections,
    upcast: (event) => registry.upcast(event),
    // The same cadence as the log tail: how soon appends made by other processes are noticed.
    pollIntervalMs: env.LOG_POLL_INTERVAL_MS,
    onError: (error, { projection, attempt }) => logger.warn("projection batch failed, retrying", { projection, attempt, error }),
  });
  return { commands, queries, projections };
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
