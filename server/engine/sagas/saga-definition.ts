import type { z } from "zod";
import type { Priority } from "../core/envelope";

/**
 * An orchestrated saga: a named list of steps run in order for one input. Each step has an action
 * (a command, a task on the priority queue, an HTTP call, child sagas, or a local function), an
 * optional compensation, a retry policy and a timeout. When a step fails for good, the
 * compensations of the steps that completed run in reverse order; a compensation that keeps
 * failing leaves the saga `failed` for an operator (retry resumes it), never dropped.
 *
 * Steps run at least once per attempt and may run again after a crash, so every action is handed
 * an idempotency key that is the same on every attempt and after a restart
 * (`saga:<sagaId>:<step>`, `saga:<sagaId>:<step>:compensation`): commands and tasks pass it on as
 * their Idempotency-Key, HTTP calls send it as the `Idempotency-Key` header. That is what makes a
 * step's effect happen once.
 */

/** Temporal's defaults, with a cap on attempts: 1 s, x2, at most 60 s apart, ±20 % jitter. */
export interface SagaRetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  initialDelayMs: number;
  multiplier: number;
  maxDelayMs: number;
  /** In [0, 1): each delay is scaled by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
}

export const DEFAULT_STEP_RETRY: Readonly<SagaRetryPolicy> = Object.freeze({
  maxAttempts: 3,
  initialDelayMs: 1_000,
  multiplier: 2,
  maxDelayMs: 60_000,
  jitter: 0.2,
});

/** Compensations try harder than forward steps: giving up means an operator has to step in. */
export const DEFAULT_COMPENSATION_RETRY: Readonly<SagaRetryPolicy> = Object.freeze({
  maxAttempts: 5,
  initialDelayMs: 1_000,
  multiplier: 2,
  maxDelayMs: 300_000,
  jitter: 0.2,
});

/** One attempt of a step (or, for awaited actions, the wait for its outcome) lasts at most this. */
export const DEFAULT_STEP_TIMEOUT_MS = 60_000;

/** Saga and step names: lowercase words joined by `_`, `.` or `-`. */
export const SAGA_NAME_PATTERN = /^[a-z][a-z0-9_.-]{0,99}$/;

export interface StepContext<TData = unknown> {
  sagaId: string;
  sagaType: string;
  /** The step's name. */
  step: string;
  /** 1 on the first attempt of this step (or compensation); counts survive restarts. */
  attempt: number;
  /** `saga:<sagaId>:<step>` forward, `saga:<sagaId>:<step>:compensation` when compensating. */
  idempotencyKey: string;
  /** The saga's conversation: everything a step causes carries it. */
  correlationid: string;
  traceparent?: string;
  /** The saga's data as the completed steps left it. */
  data: TData;
  /** Aborted when the attempt times out or the orchestrator stops. */
  signal: AbortSignal;
}

export interface SagaHttpRequest {
  url: string;
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
}

/** What an `http` action's step result is. A status outside 2xx fails the attempt (429 / 503 honour Retry-After). */
export interface SagaHttpResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the response says so, text otherwise (truncated at 64 KiB). */
  body: unknown;
}

/** What a `children` action's step result is, once every child saga ended. */
export interface SagaChildrenResult {
  total: number;
  completed: number;
  /** Children that ended compensated, failed or cancelled. */
  failed: number;
  children: Array<{ key: string; sagaId: string; status: string }>;
}

/**
 * What a step does. Results (what `apply` gets):
 * - `command`: the CommandResult (stream, version, events);
 * - `task`: the task's result once it succeeded (the step waits for `task.succeeded`; `task.dead`
 *   fails the attempt, and a non-retryable death fails the step at once);
 * - `http`: the SagaHttpResponse;
 * - `children`: starts one child saga per entry and waits until all of them ended: a
 *   SagaChildrenResult. A child's id is the entry's `sagaId`, or else derived from this saga's id
 *   and the key; either way a restart starts none twice, and a child someone else already started
 *   under that id (a reaction, say) is awaited rather than started again;
 * - `local`: whatever `run` returns (JSON). It must itself be idempotent by `ctx.idempotencyKey`.
 */
export type SagaAction<TData = unknown> =
  | { kind: "command"; command: string; input(context: StepContext<TData>): unknown }
  | { kind: "task"; taskType: string; input(context: StepContext<TData>): unknown; priority?: Priority }
  | { kind: "http"; request(context: StepContext<TData>): SagaHttpRequest }
  | { kind: "children"; sagaType: string; children(context: StepContext<TData>): Array<{ key: string; input: unknown; sagaId?: string }> }
  | { kind: "local"; run(context: StepContext<TData>): Promise<unknown> };

export type SagaActionKind = SagaAction["kind"];

export interface SagaStepDefinition<TData = unknown> {
  name: string;
  description?: string;
  action: SagaAction<TData>;
  /** Undoes the action's effect; runs (in reverse step order) when a later step fails for good or the saga is cancelled. */
  compensation?: SagaAction<TData>;
  retry?: Partial<SagaRetryPolicy>;
  compensationRetry?: Partial<SagaRetryPolicy>;
  /** One attempt's limit, including the wait for an awaited outcome. Expiry fails the attempt (retried). Default 60 s. */
  timeoutMs?: number;
  /** The saga's data after the step completed. Default: unchanged. */
  apply?(data: TData, result: unknown): TData;
  /** The step runs only when this holds for the data; otherwise it is `skipped`. */
  when?(data: TData): boolean;
}

/**
 * A deadline on the whole saga, kept as a durable timer (it survives restarts and fires once across
 * processes). `compensate`: the saga is cancelled and what completed is compensated. `escalate`: the
 * escalation action runs once (e.g. a command that flags the case for a person) and the saga goes on.
 */
export interface SagaDeadline<TData = unknown> {
  afterMs: number;
  onExpiry: "compensate" | "escalate";
  escalation?: SagaAction<TData>;
}

export interface SagaDefinition<TInput = unknown, TData = unknown> {
  /** Unique name, e.g. `sheet_grading`. */
  type: string;
  description: string;
  /** Validates the start input (every failing field named). */
  input: z.ZodType<TInput>;
  /** The data the first step sees. */
  initialData(input: TInput): TData;
  steps: Array<SagaStepDefinition<TData>>;
  deadline?: SagaDeadline<TData>;
  /** The saga's subject (e.g. the sheet id): shown in lists and carried on its lifecycle events. */
  subject?(input: TInput): string;
}

/** Identity with inference: `defineSaga({ type, input: z.object(...), initialData, steps: [...] })`. */
export function defineSaga<TInput, TData>(definition: SagaDefinition<TInput, TData>): SagaDefinition<TInput, TData> {
  return definition;
}

/** The deterministic idempotency key of a step's action or compensation. */
export function stepIdempotencyKey(sagaId: string, step: string, phase: "forward" | "compensation"): string {
  return phase === "forward" ? `saga:${sagaId}:${step}` : `saga:${sagaId}:${step}:compensation`;
}
