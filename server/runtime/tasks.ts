import { PostgresTaskStore } from "@/server/adapters/postgres/task-store";
import type { Database } from "@/server/adapters/postgres/database";
import { demoTaskTypes } from "@/server/domain/tasks";
import { TaskQueue, type TaskEventSink } from "@/server/engine/tasks/task-queue";
import type { DeadLetterStore } from "@/server/engine/transport/dead-letters";
import type { TransportDriver } from "@/server/engine/transport/driver";
import type { Env } from "./env";
import { logger } from "./logger";

export const TASK_EVENT_SOURCE = "urn:eventloom:tasks";

export interface TaskQueueDependencies {
  env: Pick<Env, "TASK_WORKERS">;
  database: Database;
  /** The EventPublisher: task.* events go to the event log like any other. */
  publisher: TaskEventSink;
  transport: { driver: TransportDriver; deadLetters: DeadLetterStore };
}

/**
 * The process's task queue: the demo task types on the configured transport's `tasks` topic,
 * status in Postgres (`eventloom_tasks`), dead tasks in the shared dead-letter store. Any process
 * can submit; the worker pool (TASK_WORKERS attempts at once) starts with the other transport
 * workers once the broker is connected (transport-workers.ts).
 *
 * No inbox: the task record already tells a repeated delivery of a finished task (it is skipped),
 * so an inbox row per task would only add a write.
 */
export function createTaskQueue({ env, database, publisher, transport }: TaskQueueDependencies): TaskQueue {
  return new TaskQueue({
    driver: transport.driver,
    store: new PostgresTaskStore(database),
    events: publisher,
    deadLetters: transport.deadLetters,
    types: demoTaskTypes(),
    concurrency: env.TASK_WORKERS,
    source: TASK_EVENT_SOURCE,
    onError: ({ stage, error, taskId, attempt }) => {
      if (stage === "handler") logger.info("task attempt failed", { taskId, attempt, error });
      else logger.warn("task queue problem", { stage, taskId, attempt, error });
    },
  });
}
