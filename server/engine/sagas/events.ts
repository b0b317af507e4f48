import { z } from "zod";
import type { EventTypeRegistry } from "../core/registry";

/**
 * The lifecycle events an orchestrated saga publishes (so sagas show in the log, the live tail and
 * traces, and other services can react to their end). Each carries the saga's correlation id, its
 * id as `subject` and partition key, and an id derived from the saga id and the transition, so a
 * transition published again after a crash is stored once.
 *
 * Steps publish no events of their own: their actions' events (commands', tasks') are the record.
 */
export const SAGA_EVENT_TYPES = {
  started: "saga.started",
  compensating: "saga.compensating",
  completed: "saga.completed",
  compensated: "saga.compensated",
  failed: "saga.failed",
  cancelled: "saga.cancelled",
} as const;

const sagaRef = {
  sagaId: z.uuid(),
  sagaType: z.string().min(1).max(100),
  subject: z.string().nullable(),
  parentId: z.uuid().nullable(),
};
const sagaError = z.object({ type: z.string(), message: z.string() });

export const sagaStartedSchema = z.object({ ...sagaRef, steps: z.array(z.string()) });
export const sagaCompensatingSchema = z.object({ ...sagaRef, failedStep: z.string().nullable(), error: sagaError, toCompensate: z.array(z.string()) });
export const sagaCompletedSchema = z.object({ ...sagaRef, durationMs: z.number().int().nonnegative() });
export const sagaCompensatedSchema = z.object({ ...sagaRef, durationMs: z.number().int().nonnegative(), error: sagaError });
export const sagaFailedSchema = z.object({ ...sagaRef, compensation: z.string(), error: sagaError });
export const sagaCancelledSchema = z.object({ ...sagaRef, durationMs: z.number().int().nonnegative(), reason: z.string() });

export type SagaStartedData = z.infer<typeof sagaStartedSchema>;
export type SagaCompensatingData = z.infer<typeof sagaCompensatingSchema>;
export type SagaCompletedData = z.infer<typeof sagaCompletedSchema>;
export type SagaCompensatedData = z.infer<typeof sagaCompensatedSchema>;
export type SagaFailedData = z.infer<typeof sagaFailedSchema>;
export type SagaCancelledData = z.infer<typeof sagaCancelledSchema>;

export function registerSagaEventTypes(registry: EventTypeRegistry): void {
  const define = (type: string, description: string, schema: z.ZodType) => registry.define({ type, version: 1, description, schema });
  define(SAGA_EVENT_TYPES.started, "An orchestrated saga started.", sagaStartedSchema);
  define(SAGA_EVENT_TYPES.compensating, "A saga step failed for good (or the saga was cancelled): the completed steps are being compensated.", sagaCompensatingSchema);
  define(SAGA_EVENT_TYPES.completed, "Every step of a saga completed.", sagaCompletedSchema);
  define(SAGA_EVENT_TYPES.compensated, "A saga that failed was compensated: every completed step was undone.", sagaCompensatedSchema);
  define(SAGA_EVENT_TYPES.failed, "A compensation kept failing: the saga waits for an operator.", sagaFailedSchema);
  define(SAGA_EVENT_TYPES.cancelled, "A saga was cancelled and what it had done was compensated.", sagaCancelledSchema);
}
