import type { Database } from "@/server/adapters/postgres/database";
import { PostgresSagaStore, PostgresTimerStore } from "@/server/adapters/postgres/sagas";
import { domainChoreographies, domainChoreographyReactions } from "@/server/domain/choreographies";
import { domainSagas } from "@/server/domain/sagas";
import type { CommandExecutor } from "@/server/engine/cqrs/command";
import type { EventStore } from "@/server/engine/store/event-store";
import type { EventPublisher } from "@/server/engine/store/publisher";
import { choreographyTracker, describeChoreography } from "@/server/engine/sagas/choreography";
import { SagaOrchestrator } from "@/server/engine/sagas/orchestrator";
import type { SagaActionPorts } from "@/server/engine/sagas/ports";
import type { SagaStore } from "@/server/engine/sagas/saga-store";
import { DurableTimers } from "@/server/engine/sagas/timers";
import { defaultConsumerName } from "@/server/engine/transport/subscriber";
import type { Env } from "./env";
import { logger } from "./logger";
import type { SubscriptionRegistry } from "./subscriptions";

/** The process's sagas: the orchestrator (start, list, retry, cancel, its workers), the durable timers it keeps deadlines with, and their store. */
export interface SagaServices {
  orchestrator: SagaOrchestrator;
  timers: DurableTimers;
  store: SagaStore;
}

export interface SagaServicesDependencies {
  env: Pick<Env, "SAGA_WORKERS" | "SAGA_LEASE_MS" | "SAGA_POLL_INTERVAL_MS">;
  database: Database;
  /** The event log, which the choreography tracker rebuilds flows from. */
  store: EventStore;
  /** saga.* lifecycle events and the domain sagas' own events go through it. */
  publisher: EventPublisher;
  commands: CommandExecutor;
  tasks: SagaActionPorts["tasks"];
  subscriptions: SubscriptionRegistry;
}

export const SAGA_SIGNALS_SUBSCRIPTION = "saga-signals";

/**
 * Saga state and timers in Postgres (or PGlite), the domain's orchestrated sagas and
 * choreographies, and the subscriptions that feed them from the log: task outcomes and saga ends
 * to the orchestrator (`saga-signals`), every event of a choreography to its tracker, and the
 * choreographies' reactions. Any process can start, retry or cancel a saga; only processes that
 * run workers (boot.ts) advance them.
 */
export function createSagaServices({ env, database, store, publisher, commands, tasks, subscriptions }: SagaServicesDependencies): SagaServices {
  const owner = defaultConsumerName();
  const sagaStore = new PostgresSagaStore(database);
  const publish = (drafts: Parameters<EventPublisher["publish"]>[0]) => publisher.publish(drafts);
  const timers = new DurableTimers({
    store: new PostgresTimerStore(database),
    owner,
    pollIntervalMs: env.SAGA_POLL_INTERVAL_MS,
    leaseMs: env.SAGA_LEASE_MS,
    onError: ({ timerId, error }) => logger.warn("timer run failed, retrying later", { timerId, error }),
  });
  const orchestrator = new SagaOrchestrator({
    store: sagaStore,
    timers,
    // No `http` port: HTTP actions use the global fetch.
    actions: { commands, tasks },
    events: publisher,
    definitions: domainSagas({ publish, commands }),
    extraTypes: domainChoreographies.map(describeChoreography),
    owner,
    leaseMs: env.SAGA_LEASE_MS,
    pollIntervalMs: env.SAGA_POLL_INTERVAL_MS,
    concurrency: env.SAGA_WORKERS,
    onError: ({ sagaId, stage, error }) => logger.warn("saga problem", { sagaId, stage, error }),
  });

  subscriptions.define({
    name: SAGA_SIGNALS_SUBSCRIPTION,
    description: "Delivers task outcomes and child sagas' ends to the sagas waiting for them.",
    types: orchestrator.signalTypes,
    handle: (event) => orchestrator.handleEvent(event),
  });
  subscriptions.define(choreographyTracker(domainChoreographies, { store: sagaStore, events: store }));
  for (const reaction of domainChoreographyReactions({ publish, commands, tasks })) subscriptions.define(reaction);

  return { orchestrator, timers, store: sagaStore };
}

/**
 * Starts the process's saga workers (the timers' loop and the orchestrator's) and returns how to
 * stop them. The orchestrator stops first: a deadline that fires during its grace period still
 * finds the timers running.
 */
export function startSagaWorkers({ orchestrator, timers }: Pick<SagaServices, "orchestrator" | "timers">): { stop(): Promise<void> } {
  timers.start();
  orchestrator.startWorkers();
  return {
    async stop() {
      await orchestrator.stop();
      await timers.stop();
    },
  };
}
