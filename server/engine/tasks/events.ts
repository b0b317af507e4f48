import { z } from "zod";
import { priorities } from "../core/envelope";
import type { EventTypeRegistry } from "../core/registry";

/**
 * The events a task queue publishes through the EventPublisher (so tasks show up in the event
 * log, the live tail and traces). Every event of a task has the task id as `subject` (one stream
 * per task) and `partitionkey`, and the task's correlation id.
 */
export const TASK_EVENT_TYPES = {
  queued: "task.queued",
  started: "task.started",
  progress: "task.progress",
  succeeded: "task.succeeded",
  failed: "task.failed",
  dead: "task.dead",
} as const;

const taskId = z.uuid();
const taskType = z.string().min(1).max(100);
const attempt = z.number().int().positive();
const taskError = z.object({ type: z.string(), message: z.string() });

export const taskQueuedSchema = z.object({
  taskId,
  taskType,
  priority: z.enum(priorities),
  key: z.string().nullable(),
  maxAttempts: attempt,
  timeoutMs: z.number().int().positive(),
});

export const taskStartedSchema = z.object({ taskId, taskType, attempt, maxAttempts: attempt });

export const taskProgressSchema = z.object({
  taskId,
  taskType,
  attempt,
  percent: z.number().min(0).max(100),
  message: z.string().max(500).optional(),
});

export const taskSucceededSchema = z.object({
  taskId,
  taskType,
  attempt,
  durationMs: z.number().int().nonnegative(),
  result: z.unknown(),
});

export const taskFailedSchema = z.object({
  taskId,
  taskType,
  attempt,
  maxAttempts: attempt,
  error: taskError,
  retryInMs: z.number().int().nonnegative(),
  nextAttemptAt: z.iso.datetime({ offset: true }),
});

export const taskDeadSchema = z.object({
  taskId,
  taskType,
  /** 0 when the task never ran (`not_queued`). */
  attempts: z.number().int().nonnegative(),
  error: taskError,
  /**
   * `non_retryable`: the handler said retrying cannot help. `attempts_exhausted`: the last attempt
   * failed. `not_queued`: the transport refused the task's message; the task was removed and its
   * submitter told to retry.
   */
  reason: z.enum(["non_retryable", "attempts_exhausted", "not_queued"]),
});

export type TaskQueuedData = z.infer<typeof taskQueuedSchema>;
export type TaskStartedData = z.infer<typeof taskStartedSchema>;
export type TaskProgressData = z.infer<typeof taskProgressSchema>;
export type TaskSucceededData = z.infer<typeof taskSucceededSchema>;
export type TaskFailedData = z.infer<typeof taskFailedSchema>;
export type TaskDeadData = z.infer<typeof taskDeadSchema>;

/** Registers the six `task.*` event types (the publisher refuses unknown types). */
export function registerTaskEventTypes(registry: EventTypeRegistry): void {
  const define = (type: string, description: string, schema: z.ZodType) => registry.define({ type, version: 1, description, schema });
  define(TASK_EVENT_TYPES.queued, "A task was submitted and waits for a worker.", taskQueuedSchema);
  define(TASK_EVENT_TYPES.started, "A worker started an attempt of a task.", taskStartedSchema);
  define(TASK_EVENT_TYPES.progress, "A running task reported progress.", taskProgressSchema);
  define(TASK_EVENT_TYPES.succeeded, "A task finished; `result` is the handler's result.", taskSucceededSchema);
  define(TASK_EVENT_TYPES.failed, "An attempt failed (an error or its timeout); a retry is scheduled.", taskFailedSchema);
  define(TASK_EVENT_TYPES.dead, "A task failed for good (non-retryable, or out of attempts) and was dead-lettered, or could not be queued.", taskDeadSchema);
}
