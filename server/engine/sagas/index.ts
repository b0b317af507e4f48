export {
  DEFAULT_COMPENSATION_RETRY,
  DEFAULT_STEP_RETRY,
  DEFAULT_STEP_TIMEOUT_MS,
  SAGA_NAME_PATTERN,
  defineSaga,
  stepIdempotencyKey,
  type SagaAction,
  type SagaActionKind,
  type SagaChildrenResult,
  type SagaDeadline,
  type SagaDefinition,
  type SagaHttpRequest,
  type SagaHttpResponse,
  type SagaRetryPolicy,
  type SagaStepDefinition,
  type StepContext,
} from "./saga-definition";
export {
  SagaLeaseLostError,
  activeSagaStatuses,
  sagaStatuses,
  sagaStepStatuses,
  terminalSagaStatuses,
  type ClaimArgs,
  type SagaCounts,
  type SagaErrorInfo,
  type SagaKind,
  type SagaListQuery,
  type SagaPage,
  type SagaRecord,
  type SagaSignalOutcome,
  type SagaStatus,
  type SagaStepAttempt,
  type SagaStepEvent,
  type SagaStepRecord,
  type SagaStepStatus,
  type SagaStore,
} from "./saga-store";
export { timerStatuses, type ScheduleTimer, type TimerListQuery, type TimerRecord, type TimerStatus, type TimerStore } from "./timer-store";
export {
  SAGA_EVENT_TYPES,
  registerSagaEventTypes,
  type SagaCancelledData,
  type SagaCompensatedData,
  type SagaCompensatingData,
  type SagaCompletedData,
  type SagaFailedData,
  type SagaStartedData,
} from "./events";
export type {
  SagaActionPorts,
  SagaEventSink,
  SagaOperations,
  SagaRuntimeStats,
  SagaSignalSource,
  SagaTypeDescriptor,
  StartSagaOptions,
  StartedSaga,
} from "./ports";
export {
  DEADLINE_STEP,
  DEFAULT_SAGA_CONCURRENCY,
  DEFAULT_SAGA_LEASE_MS,
  DEFAULT_SAGA_POLL_INTERVAL_MS,
  SAGA_DEADLINE_TIMER_KIND,
  SagaOrchestrator,
  type SagaObservation,
  type SagaOrchestratorErrorInfo,
  type SagaOrchestratorOptions,
  type SagaTimers,
} from "./orchestrator";
export { SAGA_PRINCIPAL, SagaShutdownError, SagaStepTimeoutError, childSagaId } from "./step-actions";
export { InMemorySagaStore } from "./memory-saga-store";
export { DurableTimers, type DurableTimersOptions } from "./timers";
export { InMemoryTimerStore } from "./memory-timer-store";
export {
  choreographySagaId,
  choreographyTracker,
  defineChoreography,
  describeChoreography,
  reaction,
  reconstructChoreography,
  taskStepMarkers,
  type ChoreographyDefinition,
  type ChoreographyStepDefinition,
  type ReactionContext,
  type ReactionDefinition,
} from "./choreography";
