import type { EventDraft, EventEnvelope } from "../core/envelope";
import type { CommandExecutor } from "../cqrs/command";
import type { SubmitTaskRequest, SubmittedTask } from "../tasks/task-queue";
import type { TaskRecord } from "../tasks/task-store";
import type { JsonSchema } from "../core/registry";
import type { SagaHttpRequest, SagaHttpResponse } from "./saga-definition";
import type { SagaCounts, SagaListQuery, SagaPage, SagaRecord, SagaStatus } from "./saga-store";
import type { TimerListQuery, TimerRecord } from "./timer-store";

/** What saga actions run against. The runtime wires the real ones; unit tests pass fakes. */
export interface SagaActionPorts {
  commands: CommandExecutor;
  tasks: {
    submit(request: SubmitTaskRequest): Promise<SubmittedTask>;
    get(taskId: string): Promise<TaskRecord | undefined>;
  };
  /** Sends an `http` action's request (with the step's AbortSignal and Idempotency-Key header). Default: global fetch. */
  http?(request: SagaHttpRequest & { headers: Record<string, string> }, signal: AbortSignal): Promise<SagaHttpResponse>;
}

/** Where lifecycle events (`saga.*`) go: the EventPublisher. */
export interface SagaEventSink {
  publish(drafts: EventDraft[]): Promise<unknown>;
}

export interface StartSagaOptions {
  /** Default: a new UUIDv7. Starting again with the same id returns the existing saga (`created: false`). */
  id?: string;
  /** Default: the saga id. */
  correlationid?: string;
  causationid?: string;
  traceparent?: string;
  parentId?: string;
}

export interface StartedSaga {
  saga: SagaRecord;
  /** False when a saga with this id existed: that one is returned, nothing started. */
  created: boolean;
}

/** Catalog entry of a saga type (orchestrated or choreographed). */
export interface SagaTypeDescriptor {
  type: string;
  kind: "orchestrated" | "choreographed";
  description: string;
  steps: Array<{ name: string; description: string; action: string; compensation: string | null; timeoutMs: number; maxAttempts: number }>;
  /** JSON Schema of the start input (orchestrated only). */
  schema: JsonSchema | null;
  deadline: { afterMs: number; onExpiry: "compensate" | "escalate" } | null;
}

export interface SagaRuntimeStats {
  owner: string;
  running: boolean;
  /** Sagas this process is advancing right now. */
  active: number;
  /** Transitions saved by this process since it started. */
  transitions: number;
  /** Saves lost to another worker (its lease or revision moved on). */
  leaseLost: number;
}

/**
 * What the API layer (REST, tRPC) and the domain's reactions use. SagaOrchestrator implements it.
 *
 * Errors: `start` throws NotFoundError (unknown type), ValidationError (input, every field);
 * `retry` and `cancel` throw NotFoundError (unknown id) and EngineError("conflict") when the saga's
 * status does not allow it (retry: only `failed`; cancel: only `running` or `compensating`... and
 * not a choreographed saga, which nobody orchestrates).
 */
export interface SagaOperations {
  listTypes(): SagaTypeDescriptor[];
  start(type: string, input: unknown, options?: StartSagaOptions): Promise<StartedSaga>;
  get(id: string): Promise<SagaRecord | undefined>;
  list(query: SagaListQuery): Promise<SagaPage>;
  counts(): Promise<SagaCounts>;
  /** A `failed` saga: its failed compensation is tried again (attempts start over), then the rest. */
  retry(id: string): Promise<SagaRecord>;
  /** Compensates what completed, then ends `cancelled`. */
  cancel(id: string, reason: string): Promise<SagaRecord>;
  timers(query: TimerListQuery): Promise<TimerRecord[]>;
  stats(): SagaRuntimeStats;
}

/** Event types the orchestrator must be fed (task outcomes, saga ends) and the feeder. */
export interface SagaSignalSource {
  readonly signalTypes: string[];
  handleEvent(event: EventEnvelope): Promise<void>;
}

export type { SagaStatus };
