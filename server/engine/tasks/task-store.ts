import type { Priority } from "../core/envelope";
import type { TaskProgress } from "./task-type";

/**
 * Status tracking for tasks: one record per task, written by the queue as the task moves through
 *
 *   queued -> running -> succeeded
 *                     -> failed (an attempt failed, a retry is scheduled) -> running -> ...
 *                     -> dead   (non-retryable, or the last attempt failed; dead-lettered)
 *
 * Implementations: memory (tests, {@link InMemoryTaskStore}) and Postgres (`eventloom_tasks`).
 * Both pass `describeTaskStoreContract`.
 */
export const taskStatuses = ["queued", "running", "succeeded", "failed", "dead"] as const;
export type TaskStatus = (typeof taskStatuses)[number];

/** Statuses a task does not leave on its own (a redriven dead letter revives a dead task). */
export const finalTaskStatuses: readonly TaskStatus[] = ["succeeded", "dead"];

export interface TaskError {
  /** The error's class name (`TaskTimeoutError`, `NonRetryableError`, ...). */
  type: string;
  message: string;
}

export interface TaskRecord {
  /** UUIDv7: sorts by submit time. Also the id of the task's message on the transport. */
  id: string;
  type: string;
  priority: Priority;
  /** Order key: tasks of one key run one at a time, in submit order. Null: the task's own id. */
  key: string | null;
  status: TaskStatus;
  /** The validated input (after the schema's defaults). */
  input: unknown;
  /** The handler's result once succeeded, else null. */
  result: unknown;
  /** The last failure (kept while a retry runs; cleared on success). */
  error: TaskError | null;
  /** Attempts started so far. */
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  /** Progress of the current (or last) attempt. */
  progress: TaskProgress | null;
  idempotencyKey: string | null;
  /** Hash of the submitted request, to tell a repeat from a different request under one key. */
  fingerprint: string | null;
  /** Conversation id of the task's events (the submitter's, else the task id). */
  correlationid: string;
  /** RFC 3339. */
  createdAt: string;
  updatedAt: string;
  /** Start of the current (or last) attempt. */
  startedAt: string | null;
  finishedAt: string | null;
  /** When the scheduled retry is due (status failed), else null. */
  nextAttemptAt: string | null;
}

export type TaskPatch = Partial<
  Pick<TaskRecord, "status" | "attempts" | "progress" | "result" | "error" | "startedAt" | "finishedAt" | "nextAttemptAt" | "updatedAt">
>;

/** Apply a patch only if the record is still in this state (guards against late or stale writes). */
export interface TaskCondition {
  statuses?: readonly TaskStatus[];
  attempts?: number;
}

export interface TaskListFilter {
  status?: TaskStatus;
  type?: string;
  limit: number;
  /** The `next` of the previous page (exclusive). */
  cursor?: string;
}

export interface TaskPage {
  /** Newest first. */
  items: TaskRecord[];
  /** Pass as `cursor` for the next page; null when this page is the last. */
  next: string | null;
}

export interface TaskCount {
  type: string;
  status: TaskStatus;
  count: number;
}

export interface TaskStore {
  /**
   * Inserts a task unless one with its id, or its (non-null) idempotency key, exists: then that
   * one comes back with `created: false`. Atomic: two concurrent creates with one key make one task.
   */
  create(task: TaskRecord): Promise<{ created: boolean; task: TaskRecord }>;
  get(id: string): Promise<TaskRecord | undefined>;
  /** Applies the patch if the task exists and meets `condition`; the updated task, else undefined. */
  update(id: string, patch: TaskPatch, condition?: TaskCondition): Promise<TaskRecord | undefined>;
  /** Removes a task (a submit whose message could not be published). True if it existed. */
  delete(id: string): Promise<boolean>;
  list(filter: TaskListFilter): Promise<TaskPage>;
  /** Tasks per type and status (only pairs with at least one task). */
  counts(): Promise<TaskCount[]>;
}

function meets(task: TaskRecord, condition: TaskCondition | undefined): boolean {
  if (!condition) return true;
  if (condition.statuses && !condition.statuses.includes(task.status)) return false;
  if (condition.attempts !== undefined && task.attempts !== condition.attempts) return false;
  return true;
}

/** Tasks in a map: for unit tests and running without a database. */
export class InMemoryTaskStore implements TaskStore {
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly byIdempotencyKey = new Map<string, string>();

  async create(task: TaskRecord): Promise<{ created: boolean; task: TaskRecord }> {
    const existingId = task.idempotencyKey === null ? undefined : this.byIdempotencyKey.get(task.idempotencyKey);
    const existing = this.tasks.get(task.id) ?? (existingId === undefined ? undefined : this.tasks.get(existingId));
    if (existing) return { created: false, task: structuredClone(existing) };
    this.tasks.set(task.id, structuredClone(task));
    if (task.idempotencyKey !== null) this.byIdempotencyKey.set(task.idempotencyKey, task.id);
    return { created: true, task: structuredClone(task) };
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const task = this.tasks.get(id);
    return task && structuredClone(task);
  }

  async update(id: string, patch: TaskPatch, condition?: TaskCondition): Promise<TaskRecord | undefined> {
    const task = this.tasks.get(id);
    if (!task || !meets(task, condition)) return undefined;
    const defined = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as TaskPatch;
    const updated: TaskRecord = { ...task, ...structuredClone(defined) };
    this.tasks.set(id, updated);
    return structuredClone(updated);
  }

  async delete(id: string): Promise<boolean> {
    const task = this.tasks.get(id);
    if (!task) return false;
    this.tasks.delete(id);
    if (task.idempotencyKey !== null && this.byIdempotencyKey.get(task.idempotencyKey) === id) this.byIdempotencyKey.delete(task.idempotencyKey);
    return true;
  }

  async list(filter: TaskListFilter): Promise<TaskPage> {
    const limit = Math.max(0, filter.limit);
    const matching = [...this.tasks.values()]
      .filter((task) => filter.status === undefined || task.status === filter.status)
      .filter((task) => filter.type === undefined || task.type === filter.type)
      .filter((task) => filter.cursor === undefined || task.id < filter.cursor)
      .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    const items = matching.slice(0, limit);
    const last = items[items.length - 1];
    return { items: items.map((task) => structuredClone(task)), next: matching.length > limit && last ? last.id : null };
  }

  async counts(): Promise<TaskCount[]> {
    const counts = new Map<string, TaskCount>();
    for (const task of this.tasks.values()) {
      const key = `${task.type}\u0000${task.status}`;
      const row = counts.get(key);
      if (row) row.count += 1;
      else counts.set(key, { type: task.type, status: task.status, count: 1 });
    }
    return [...counts.values()].sort((a, b) => a.type.localeCompare(b.type) || a.status.localeCompare(b.status));
  }
}
