import { z } from "zod";
import type { Priority } from "../core/envelope";
import type { JsonSchema } from "../core/registry";

/**
 * A task type: what a piece of background work takes (a zod input schema), how urgent it is by
 * default, how long one attempt may run, and the handler that does it.
 *
 * Handlers run at least once per successful task (a worker that dies after the work but before
 * recording it runs it again on redelivery), so they should be idempotent, e.g. keyed by an id in
 * their input.
 */

/** One attempt lasts at most this long unless the type says otherwise (the seed's TASK_TIMEOUT). */
export const DEFAULT_TASK_TIMEOUT_MS = 300_000;

/** Task type names: lowercase words joined by `_`, `.` or `-` (e.g. `ocr_processing`). */
export const TASK_TYPE_PATTERN = /^[a-z][a-z0-9_.-]{0,99}$/;

export interface TaskProgress {
  /** 0..100. */
  percent: number;
  message?: string;
}

export interface TaskContext {
  taskId: string;
  /** 1 on the first attempt; every delivery counts (a crash redelivery too). */
  attempt: number;
  /** Aborted when the attempt times out or the worker pool stops; its `reason` says which. */
  signal: AbortSignal;
  /**
   * Reports progress: recorded on the task and published as a `task.progress` event. The promise
   * resolves once recorded; handlers may await it or not. Ignored after the attempt ended.
   */
  progress(percent: number, message?: string): Promise<void>;
}

export interface TaskTypeDefinition<TSchema extends z.ZodType = z.ZodType, TResult = unknown> {
  /** Unique name, e.g. `ocr_processing`. */
  type: string;
  description?: string;
  /** Validates (and may default / transform) the input at submit time; the handler gets the output. */
  input: TSchema;
  /** Used when a submit names none. Default `normal`. */
  priority?: Priority;
  /** Longest an attempt may run before its signal is aborted and it counts as failed. Default 300 s. */
  timeoutMs?: number;
  /** The work. Its result must be JSON (it is stored and sent in `task.succeeded`). */
  handler(input: z.output<TSchema>, context: TaskContext): Promise<TResult>;
}

/** A definition with its defaults filled in and its input schema exported as JSON Schema. */
export interface ResolvedTaskType {
  type: string;
  description: string;
  priority: Priority;
  timeoutMs: number;
  /** JSON Schema (draft 2020-12) of the input producers send. */
  schema: JsonSchema;
  input: z.ZodType;
  handler(input: unknown, context: TaskContext): Promise<unknown>;
}

/** Identity with inference: `defineTaskType({ type, input: z.object(...), handler: async (input) => ... })`. */
export function defineTaskType<TSchema extends z.ZodType, TResult>(
  definition: TaskTypeDefinition<TSchema, TResult>,
): TaskTypeDefinition<TSchema, TResult> {
  return definition;
}

export function resolveTaskType(definition: TaskTypeDefinition<z.ZodType, unknown>): ResolvedTaskType {
  const { type } = definition;
  if (typeof type !== "string" || !TASK_TYPE_PATTERN.test(type)) {
    throw new RangeError(`task type name ${JSON.stringify(type)} must match ${TASK_TYPE_PATTERN}`);
  }
  const timeoutMs = definition.timeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError(`task type ${type}: timeoutMs must be a positive integer, got ${timeoutMs}`);
  let schema: JsonSchema;
  try {
    schema = z.toJSONSchema(definition.input, { target: "draft-2020-12", io: "input", unrepresentable: "throw" }) as JsonSchema;
  } catch (cause) {
    throw new RangeError(`task type ${type}: the input schema cannot be exported as JSON Schema`, { cause });
  }
  return {
    type,
    description: definition.description ?? "",
    priority: definition.priority ?? "normal",
    timeoutMs,
    schema,
    input: definition.input,
    handler: definition.handler as (input: unknown, context: TaskContext) => Promise<unknown>,
  };
}
