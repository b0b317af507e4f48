import { v5 as uuidv5 } from "uuid";
import { describeError, isEngineError, NonRetryableError, RetryAfterError, RuleViolationError } from "../core/errors";
import { systemPrincipal } from "../core/principal";
import { backoffDelayMs, resolveRetryPolicy } from "../transport/retry-policy";
import type { TaskRecord } from "../tasks/task-store";
import type { SagaActionPorts, StartSagaOptions, StartedSaga } from "./ports";
import type { SagaAction, SagaChildrenResult, SagaHttpRequest, SagaHttpResponse, SagaRetryPolicy, StepContext } from "./saga-definition";
import type { SagaErrorInfo, SagaRecord, SagaSignalOutcome, SagaStatus, SagaStepEvent } from "./saga-store";

/**
 * Running one saga action (the five kinds) for one attempt, and everything about its outcome the
 * orchestrator needs: how an awaited action's signals resolve it, how a failure is classified
 * (retry or give up), the delay before the next attempt, and the deterministic ids sagas derive.
 */

/** Namespace of every id a saga derives (lifecycle event ids, child saga ids). */
const SAGA_NAMESPACE = "69ed24d3-3399-4830-a296-786a079b432b";

/** Sagas run commands as this principal; command idempotency keys are scoped by it. */
export const SAGA_PRINCIPAL = systemPrincipal("sagas");

/** The id of a saga's lifecycle event for one transition: a republish after a crash is stored once. */
export function sagaEventId(sagaId: string, transition: string): string {
  return uuidv5(`${sagaId}:${transition}`, SAGA_NAMESPACE);
}

/** A child saga's id when its entry names none: the same on every attempt and after a restart. */
export function childSagaId(parentId: string, step: string, key: string): string {
  return uuidv5(`${parentId}:${step}:${key}`, SAGA_NAMESPACE);
}

/** An attempt ran longer than its step's timeout (or an awaited outcome did not come in time). Retryable. */
export class SagaStepTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SagaStepTimeoutError";
  }
}

/** The orchestrator stopped while the attempt ran: not a failure, the next claimer runs it again. */
export class SagaShutdownError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SagaShutdownError";
  }
}

/** The defaults overridden by a step's own policy; rejects values that make no schedule. */
export function resolveSagaRetry(defaults: Readonly<SagaRetryPolicy>, overrides: Partial<SagaRetryPolicy> | undefined): SagaRetryPolicy {
  const { maxAttempts, initialDelayMs, multiplier, maxDelayMs, jitter } = resolveRetryPolicy({ ...defaults, ...overrides });
  return { maxAttempts, initialDelayMs, multiplier, maxDelayMs, jitter };
}

export interface FailureVerdict {
  /** False: retrying cannot help; the step fails at once. */
  retryable: boolean;
  /** The failure named when to try again (Retry-After). */
  retryAfterMs?: number;
}

/** Non-retryable: NonRetryableError (or `nonRetryable: true`), EngineError validation / forbidden / not_found, a broken rule. */
export function classifyFailure(error: unknown): FailureVerdict {
  if (error instanceof NonRetryableError || (typeof error === "object" && error !== null && (error as { nonRetryable?: unknown }).nonRetryable === true)) {
    return { retryable: false };
  }
  if (error instanceof RuleViolationError) return { retryable: false };
  if (isEngineError(error) && (error.code === "validation" || error.code === "forbidden" || error.code === "not_found")) return { retryable: false };
  if (error instanceof RetryAfterError) return { retryable: true, retryAfterMs: Math.max(0, Math.round(error.retryAfterMs)) };
  if (isEngineError(error) && error.retryAfterSeconds !== undefined) return { retryable: true, retryAfterMs: error.retryAfterSeconds * 1000 };
  return { retryable: true };
}

/** The delay before attempt `attempt + 1`: what the failure asked for, else exponential backoff with jitter. */
export function retryDelayMs(verdict: FailureVerdict, attempt: number, policy: SagaRetryPolicy, random: () => number): number {
  return verdict.retryAfterMs ?? backoffDelayMs(attempt, policy, random);
}

/** An error as a saga records it: printable, storable, bounded. */
export function sagaErrorInfo(error: unknown): SagaErrorInfo {
  const { type, message } = describeError(error);
  return { type: withoutNul(type).slice(0, 200), message: withoutNul(message).slice(0, 2_000) };
}

/** A failed outcome delivered by a signal, as an error the classification understands. */
function outcomeError(outcome: Extract<SagaSignalOutcome, { ok: false }>): Error {
  const error = new Error(outcome.error.message);
  error.name = outcome.error.type;
  return outcome.retryable ? error : Object.assign(error, { nonRetryable: true });
}

export type ActionOutcome =
  | { kind: "done"; result: unknown; events: SagaStepEvent[] }
  /** Started; the step waits for the outcomes of `keys`. `settled`: those known already (a replayed task that ended). */
  | { kind: "await"; keys: string[]; settled: Record<string, SagaSignalOutcome> }
  | { kind: "failed"; error: unknown };

export interface ActionDeps {
  ports: SagaActionPorts;
  startChild(type: string, input: unknown, options: StartSagaOptions): Promise<StartedSaga>;
  getSaga(id: string): Promise<SagaRecord | undefined>;
}

/** A readable label of an action, for the type catalog. */
export function describeAction(action: SagaAction<never>): string {
  switch (action.kind) {
    case "command":
      return `command ${action.command}`;
    case "task":
      return `task ${action.taskType}`;
    case "children":
      return `children ${action.sagaType}`;
    case "http":
    case "local":
      return action.kind;
  }
}

/** Runs one attempt of `action` (starting it, for awaited kinds). Throws what the action throws. */
export async function runAction<TData>(action: SagaAction<TData>, context: StepContext<TData>, deps: ActionDeps): Promise<ActionOutcome> {
  switch (action.kind) {
    case "command": {
      const result = await deps.ports.commands.execute(action.command, action.input(context), {
        principal: SAGA_PRINCIPAL,
        idempotencyKey: context.idempotencyKey,
        correlationid: context.correlationid,
        ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
      });
      return { kind: "done", result, events: result.events.map(({ id, type, position }) => ({ id, type, position })) };
    }
    case "local": {
      const result = jsonOf(await action.run(context));
      if (!result.ok) throw new NonRetryableError(`step ${context.step} returned a value that is not JSON`);
      return { kind: "done", result: result.value, events: [] };
    }
    case "http": {
      const response = await sendHttp(action.request(context), context, deps.ports);
      return { kind: "done", result: response, events: [] };
    }
    case "task": {
      const submitted = await deps.ports.tasks.submit({
        type: action.taskType,
        input: action.input(context),
        idempotencyKey: context.idempotencyKey,
        correlationid: context.correlationid,
        ...(action.priority === undefined ? {} : { priority: action.priority }),
        ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
      });
      const key = `task:${submitted.id}`;
      const known = taskOutcome(submitted.task);
      return { kind: "await", keys: [key], settled: known ? { [key]: known } : {} };
    }
    case "children": {
      const keys: string[] = [];
      const settled: Record<string, SagaSignalOutcome> = {};
      for (const child of action.children(context)) {
        const sagaId = child.sagaId ?? childSagaId(context.sagaId, context.step, child.key);
        const { saga } = await deps.startChild(action.sagaType, child.input, {
          id: sagaId,
          parentId: context.sagaId,
          correlationid: context.correlationid,
          ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
        });
        const key = `saga:${saga.id}`;
        keys.push(key);
        const known = childOutcome(saga);
        if (known) settled[key] = known;
      }
      return { kind: "await", keys, settled };
    }
  }
}

/**
 * An awaited action's outcome once every awaited key has one (undefined before): a task's result
 * or failure, or the children's summary (a child that did not complete does not fail the step;
 * the summary counts it, and `apply` decides).
 */
export function resolveAwaited<TData>(action: SagaAction<TData>, context: StepContext<TData>, awaiting: readonly string[], signals: Record<string, SagaSignalOutcome>): ActionOutcome | undefined {
  if (!awaiting.every((key) => key in signals)) return undefined;
  if (action.kind === "children") {
    const keyOf = childKeys(action, context);
    const children = awaiting.map((awaitedKey) => {
      const sagaId = awaitedKey.slice("saga:".length);
      const outcome = signals[awaitedKey];
      const status = outcome?.ok ? String((outcome.result as { status?: unknown } | null)?.status ?? "completed") : "failed";
      return { key: keyOf.get(sagaId) ?? sagaId, sagaId, status };
    });
    const completed = children.filter((child) => child.status === "completed").length;
    const result: SagaChildrenResult = { total: children.length, completed, failed: children.length - completed, children };
    return { kind: "done", result, events: [] };
  }
  const outcome = signals[awaiting[0] ?? ""];
  if (!outcome) return undefined;
  if (!outcome.ok) return { kind: "failed", error: outcomeError(outcome) };
  return { kind: "done", result: outcome.result, events: outcome.events ?? [] };
}

/** The children's entry keys by saga id (an entry list that can no longer be built leaves the ids as keys). */
function childKeys<TData>(action: Extract<SagaAction<TData>, { kind: "children" }>, context: StepContext<TData>): Map<string, string> {
  try {
    return new Map(action.children(context).map((child) => [child.sagaId ?? childSagaId(context.sagaId, context.step, child.key), child.key]));
  } catch {
    return new Map();
  }
}

/** The current outcome of an awaited key, looked up at its source (tasks, child sagas), if it has one yet. */
export async function lookupOutcome(key: string, deps: ActionDeps): Promise<SagaSignalOutcome | undefined> {
  if (key.startsWith("task:")) {
    const task = await deps.ports.tasks.get(key.slice("task:".length));
    return task && taskOutcome(task);
  }
  if (key.startsWith("saga:")) {
    const saga = await deps.getSaga(key.slice("saga:".length));
    return saga && childOutcome(saga);
  }
  return undefined;
}

/** A task's outcome once it ended: its result, or its death (retryable only when it ran out of attempts). */
export function taskOutcome(task: TaskRecord): SagaSignalOutcome | undefined {
  if (task.status === "succeeded") return { ok: true, result: task.result };
  if (task.status === "dead") {
    return {
      ok: false,
      error: task.error ?? { type: "TaskDead", message: `task ${task.id} is dead` },
      retryable: task.attempts >= task.maxAttempts,
    };
  }
  return undefined;
}

/** Where a child saga ended, for its parent: terminal, or `failed` (waiting for an operator). */
export const CHILD_END_STATUSES: readonly SagaStatus[] = ["completed", "compensated", "cancelled", "failed"];

export function childOutcome(saga: Pick<SagaRecord, "id" | "status">): SagaSignalOutcome | undefined {
  if (!CHILD_END_STATUSES.includes(saga.status)) return undefined;
  return { ok: true, result: { sagaId: saga.id, status: saga.status } };
}

const HTTP_BODY_LIMIT = 64 * 1024;
/** Statuses worth trying again even though they are 4xx. */
const RETRYABLE_CLIENT_STATUSES = new Set([408, 409, 425, 429]);

async function sendHttp(request: SagaHttpRequest, context: StepContext<unknown>, ports: SagaActionPorts): Promise<SagaHttpResponse> {
  const headers = { ...request.headers, "Idempotency-Key": context.idempotencyKey };
  const response = await (ports.http ?? fetchHttp)({ ...request, headers }, context.signal);
  if (response.status >= 200 && response.status < 300) return response;
  const message = `${request.method ?? "POST"} ${request.url} answered ${response.status}`;
  if (response.status === 429 || response.status === 503) {
    const retryAfter = Object.entries(response.headers).find(([name]) => name.toLowerCase() === "retry-after")?.[1];
    const retryAfterMs = retryAfterHeaderMs(retryAfter, Date.now());
    if (retryAfterMs !== undefined) throw new RetryAfterError(message, retryAfterMs);
  }
  if (response.status >= 400 && response.status < 500 && !RETRYABLE_CLIENT_STATUSES.has(response.status)) throw new NonRetryableError(message);
  throw new Error(message);
}

/** `Retry-After` in seconds or as an HTTP date. */
function retryAfterHeaderMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && value.trim() !== "") return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

async function fetchHttp(request: SagaHttpRequest & { headers: Record<string, string> }, signal: AbortSignal): Promise<SagaHttpResponse> {
  const hasBody = request.body !== undefined;
  const response = await fetch(request.url, {
    method: request.method ?? "POST",
    headers: hasBody ? { "content-type": "application/json", ...request.headers } : request.headers,
    ...(hasBody ? { body: JSON.stringify(request.body) } : {}),
    signal,
  });
  const text = (await response.text()).slice(0, HTTP_BODY_LIMIT);
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  let body: unknown = text;
  if ((response.headers.get("content-type") ?? "").includes("json")) {
    try {
      body = JSON.parse(text);
    } catch {
      // A truncated or broken JSON body is kept as text.
    }
  }
  return { status: response.status, headers, body };
}

/** The value as JSON carries it (dates become strings, undefined properties vanish). */
function jsonOf(value: unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    const text = JSON.stringify(value === undefined ? null : value);
    return text === undefined ? { ok: false } : { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function withoutNul(text: string): string {
  return text.replaceAll("\u0000", "\uFFFD");
}
