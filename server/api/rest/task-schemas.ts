import { z } from "zod";
import "zod-openapi";
import { priorities } from "@/server/engine/core/envelope";
import { taskStatuses } from "@/server/engine/tasks/task-store";
import { TASK_TYPE_PATTERN } from "@/server/engine/tasks/task-type";
import { pageCursor, pageLimit } from "./list-params";

/**
 * The zod schemas of REST v1's task queue: submit, get, list, and the task types. Like schemas.ts,
 * they validate the requests and generate the OpenAPI document.
 */

const taskTypeName = z
  .string()
  .regex(TASK_TYPE_PATTERN, "must be a task type name, e.g. ocr_processing")
  .meta({ description: "The task type (see GET /api/v1/task-types).", example: "ocr_processing" });

const taskStatus = z.enum(taskStatuses).meta({
  description:
    "queued (waiting for a worker), running, succeeded, failed (an attempt failed; a retry is scheduled at nextAttemptAt), dead (non-retryable or out of attempts; dead-lettered).",
});

// ---------------------------------------------------------------------------------------------
// Requests

export const submitTaskBody = z
  .strictObject({
    type: taskTypeName,
    input: z
      .unknown()
      .refine((value) => value !== undefined, { message: "is required" })
      .meta({ description: "The task's input, validated against the type's schema." }),
    priority: z.enum(priorities).optional().meta({ description: "high, normal or low; default: the type's priority." }),
    key: z
      .string()
      .min(1)
      .max(500)
      .optional()
      .meta({ description: "Order key: tasks with one key run one at a time, in submit order (e.g. an exam id)." }),
    correlationid: z.string().min(1).max(200).optional().meta({ description: "Conversation id the task's events carry; default: the task id." }),
  })
  .meta({ id: "SubmitTask", description: "A task to run in the background." });
export type SubmitTaskBody = z.infer<typeof submitTaskBody>;

export const listTasksQuery = z.strictObject({
  status: taskStatus.optional().meta({ description: "Only tasks in this status." }),
  type: taskTypeName.optional().meta({ description: "Only tasks of this type." }),
  next: pageCursor,
  limit: pageLimit(),
});

export const taskIdParams = z.object({ id: z.string().meta({ description: "Task id" }) });

// ---------------------------------------------------------------------------------------------
// Responses

const time = z.string().meta({ description: "RFC 3339 UTC", format: "date-time" });

export const taskAccepted = z
  .object({ id: z.string().meta({ format: "uuid" }), status: taskStatus })
  .meta({ id: "TaskAccepted", description: "The task's id (poll GET /api/v1/tasks/{id}) and its status now." });
export type TaskAccepted = z.infer<typeof taskAccepted>;

export const taskResource = z
  .object({
    id: z.string().meta({ format: "uuid" }),
    type: z.string(),
    priority: z.enum(priorities),
    key: z.string().nullable(),
    status: taskStatus,
    input: z.unknown(),
    result: z.unknown().meta({ description: "The handler's result once succeeded, else null." }),
    error: z
      .object({ type: z.string(), message: z.string() })
      .nullable()
      .meta({ description: "The last failure (kept while a retry is scheduled or running; null once succeeded)." }),
    attempts: z.int().min(0).meta({ description: "Attempts started so far." }),
    maxAttempts: z.int().min(1),
    timeoutMs: z.int().min(1).meta({ description: "Longest one attempt may run." }),
    progress: z
      .object({ percent: z.number().min(0).max(100), message: z.string().optional() })
      .nullable()
      .meta({ description: "Progress of the current (or last) attempt." }),
    correlationid: z.string(),
    createdAt: time,
    updatedAt: time,
    startedAt: time.nullable().meta({ description: "Start of the current (or last) attempt." }),
    finishedAt: time.nullable(),
    nextAttemptAt: time.nullable().meta({ description: "When the scheduled retry is due (status failed)." }),
  })
  .meta({ id: "Task", description: "A task and its status." });
export type TaskResource = z.infer<typeof taskResource>;

export const taskPage = z
  .object({
    items: z.array(taskResource).meta({ description: "Newest first." }),
    next: z.string().nullable().meta({ description: "Cursor for the next page (pass as `next`), or null on the last page." }),
  })
  .meta({ id: "TaskPage" });

const statusCounts = z.object(Object.fromEntries(taskStatuses.map((status) => [status, z.int().min(0)])) as Record<(typeof taskStatuses)[number], z.ZodInt>);

export const taskTypeResource = z
  .object({
    type: z.string(),
    description: z.string(),
    priority: z.enum(priorities).meta({ description: "Used when a submit names none." }),
    timeoutMs: z.int().min(1),
    schema: z.record(z.string(), z.unknown()).meta({ description: "JSON Schema (draft 2020-12) of the input." }),
    counts: statusCounts.meta({ description: "Tasks of this type per status." }),
  })
  .meta({ id: "TaskType" });
export type TaskTypeResource = z.infer<typeof taskTypeResource>;

export const taskTypeList = z.object({ items: z.array(taskTypeResource) }).meta({ id: "TaskTypeList" });
