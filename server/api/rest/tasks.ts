import type { Principal } from "@/server/engine/core/principal";
import type { TaskRecord } from "@/server/engine/tasks/task-store";
import { IDEMPOTENT_REPLAYED_HEADER, idempotencyKeyOf } from "./idempotency";
import { problemResponse } from "./problem";
import { json, type RestContext } from "./route";
import { listTasksQuery, submitTaskBody, type TaskAccepted, type TaskResource, type TaskTypeResource } from "./task-schemas";

/**
 * REST v1 tasks: submit to the priority task queue, read a task's status, list tasks, and the
 * task types with their input schemas.
 */

/**
 * The queue's idempotency key for this request, scoped by the caller so that two clients choosing
 * the same key never see each other's tasks. The queue compares the request itself (type, input,
 * priority, key): the same key for a different request is a 409.
 */
function taskIdempotencyKey(request: Request, principal: Principal): string | undefined {
  const key = idempotencyKeyOf(request);
  return key === undefined ? undefined : `tasks:${principal.id}:${key}`;
}

/** A task as clients see it: the record without its idempotency internals. */
export function toTaskResource(task: TaskRecord): TaskResource {
  return {
    id: task.id,
    type: task.type,
    priority: task.priority,
    key: task.key,
    status: task.status,
    input: task.input,
    result: task.result,
    error: task.error,
    attempts: task.attempts,
    maxAttempts: task.maxAttempts,
    timeoutMs: task.timeoutMs,
    progress: task.progress,
    correlationid: task.correlationid,
    createdAt: task.createdAt,
    updatedAt: task.updatedAt,
    startedAt: task.startedAt,
    finishedAt: task.finishedAt,
    nextAttemptAt: task.nextAttemptAt,
  };
}

/** `POST /api/v1/tasks`: 202 with the id to poll; a repeated Idempotency-Key answers with the first task. */
export async function submitTask(context: RestContext<unknown>): Promise<Response> {
  const { value } = await context.readJson(["application/json"]);
  const body = context.body(submitTaskBody, value);
  const idempotencyKey = taskIdempotencyKey(context.request, context.principal);
  const traceparent = context.request.headers.get("traceparent");
  const submitted = await context.container.tasks.submit({
    type: body.type,
    input: body.input,
    ...(body.priority === undefined ? {} : { priority: body.priority }),
    ...(body.key === undefined ? {} : { key: body.key }),
    ...(body.correlationid === undefined ? {} : { correlationid: body.correlationid }),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    ...(traceparent === null ? {} : { traceparent }),
  });
  const accepted: TaskAccepted = { id: submitted.id, status: submitted.status };
  const headers: Record<string, string> = { location: `/api/v1/tasks/${submitted.id}` };
  if (submitted.replayed) headers[IDEMPOTENT_REPLAYED_HEADER] = "true";
  return json(accepted, 202, headers);
}

export async function getTask(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  const task = await context.container.tasks.get(id);
  if (!task) return problemResponse("not_found", `No task with id ${id}`);
  return json(toTaskResource(task));
}

export async function listTasks(context: RestContext<unknown>): Promise<Response> {
  const query = context.query(listTasksQuery);
  const page = await context.container.tasks.list({
    limit: query.limit,
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(query.type === undefined ? {} : { type: query.type }),
    ...(query.next === undefined ? {} : { cursor: query.next }),
  });
  return json({ items: page.items.map(toTaskResource), next: page.next });
}

export async function listTaskTypes(context: RestContext<unknown>): Promise<Response> {
  const { tasks } = context.container;
  const counts = await tasks.counts();
  const items: TaskTypeResource[] = tasks.listTypes().map((type) => ({
    type: type.type,
    description: type.description,
    priority: type.priority,
    timeoutMs: type.timeoutMs,
    schema: { ...type.schema },
    counts: counts.byType[type.type] ?? { queued: 0, running: 0, succeeded: 0, failed: 0, dead: 0 },
  }));
  return json({ items });
}
