import { z } from "zod";
import "zod-openapi";
import { SAGA_NAME_PATTERN } from "@/server/engine/sagas/saga-definition";
import { sagaStatuses, sagaStepStatuses } from "@/server/engine/sagas/saga-store";
import { timerStatuses } from "@/server/engine/sagas/timer-store";
import { pageLimit } from "./list-params";

/**
 * The zod schemas of REST v1's sagas: list, detail, start, retry, cancel, the saga types and a
 * saga's timers. Like schemas.ts, they validate the requests and generate the OpenAPI document.
 */

const sagaTypeName = z
  .string()
  .regex(SAGA_NAME_PATTERN, "must be a saga type name, e.g. sheet_grading")
  .meta({ description: "The saga type (see GET /api/v1/saga-types).", example: "sheet_grading" });

const sagaKind = z.enum(["orchestrated", "choreographed"]).meta({
  description: "orchestrated: run step by step by the orchestrator; choreographed: a chain of reactions, its view rebuilt from the events of one correlation id.",
});

const sagaStatus = z.enum(sagaStatuses).meta({
  description:
    "running (forward steps), completed, compensating (a step failed for good or the saga was cancelled: completed steps are being undone), compensated, failed (a compensation kept failing: an operator retries it), cancelled.",
});

const correlationid = z.string().min(1).max(200);
const sagaId = z.string().meta({ description: "The saga's id.", format: "uuid" });

// ---------------------------------------------------------------------------------------------
// Requests

export const sagaIdParams = z.object({ id: sagaId });

export const listSagasQuery = z.strictObject({
  type: sagaTypeName.optional().meta({ description: "Only sagas of this type." }),
  status: sagaStatus.optional().meta({ description: "Only sagas in this status." }),
  correlationid: correlationid.optional().meta({ description: "Only sagas of this conversation." }),
  kind: sagaKind.optional().meta({ description: "Only orchestrated, or only choreographed, sagas." }),
  parentId: z.uuid("must be a saga id (UUID)").optional().meta({ description: "Only the child sagas of this saga." }),
  cursor: z.string().min(1).max(1000).optional().meta({ description: "The `next` of the previous page." }),
  limit: pageLimit(),
});
export type ListSagasQuery = z.output<typeof listSagasQuery>;

export const startSagaBody = z
  .strictObject({
    type: sagaTypeName,
    input: z
      .unknown()
      .refine((value) => value !== undefined, { message: "is required" })
      .meta({ description: "The saga's input, validated against the type's schema (GET /api/v1/saga-types)." }),
    id: z
      .uuid("must be a UUID")
      .optional()
      .meta({ description: "The saga's id. Starting again with an id that exists answers with that saga (200) and starts nothing. Default: a new UUIDv7." }),
    correlationid: correlationid.optional().meta({ description: "Conversation id everything the saga causes carries; default: the saga id." }),
  })
  .meta({ id: "StartSaga", description: "A saga to start." });
export type StartSagaBody = z.infer<typeof startSagaBody>;

export const cancelSagaBody = z
  .strictObject({
    reason: z.string().trim().min(1).max(400).optional().meta({ description: "Why, kept as the saga's error with who cancelled it." }),
  })
  .meta({ id: "CancelSaga" });

// ---------------------------------------------------------------------------------------------
// Responses

const time = z.string().meta({ description: "RFC 3339 UTC", format: "date-time" });
const sagaError = z.object({ type: z.string(), message: z.string() }).meta({ id: "SagaError" });

const sagaFields = {
  id: sagaId,
  type: z.string(),
  kind: sagaKind,
  status: sagaStatus,
  subject: z.string().nullable().meta({ description: "What the saga is about (e.g. a sheet id)." }),
  correlationid: z.string(),
  parentId: z.string().nullable().meta({ description: "The saga that started this one as a child." }),
  startedAt: time,
  updatedAt: time,
  endedAt: time.nullable(),
};

export const sagaSummary = z.object(sagaFields).meta({ id: "SagaSummary", description: "A saga as lists show it." });
export type SagaSummaryResource = z.infer<typeof sagaSummary>;

export const sagaPage = z
  .object({
    items: z.array(sagaSummary).meta({ description: "Newest first." }),
    next: z.string().nullable().meta({ description: "Cursor for the next page (pass as `cursor`), or null on the last page." }),
  })
  .meta({ id: "SagaPage" });

const sagaStep = z
  .object({
    name: z.string(),
    status: z.enum(sagaStepStatuses).meta({
      description: "pending, running (an attempt started), waiting (for a task or child sagas), completed, failed (for good), skipped.",
    }),
    attempts: z.int().min(0),
    startedAt: time.nullable().meta({ description: "Start of the first attempt." }),
    endedAt: time.nullable(),
    durationMs: z.int().min(0).nullable().meta({ description: "From the first attempt's start to the end; null until it ended." }),
    error: sagaError.optional().meta({ description: "The last attempt's error." }),
    nextAttemptAt: time.nullable().optional().meta({ description: "When the next attempt is due, after a failed one." }),
    events: z
      .array(z.object({ id: z.string(), type: z.string(), position: z.int().min(1).optional() }))
      .meta({ description: "Events the step's action caused (GET /api/v1/events/{id})." }),
    history: z
      .array(z.object({ attempt: z.int().min(1), startedAt: time, endedAt: time.nullable(), error: sagaError.optional() }))
      .meta({ description: "Every attempt, oldest first (the last 20)." }),
  })
  .meta({ id: "SagaStep" });
export type SagaStepResource = z.infer<typeof sagaStep>;

export const sagaDetail = sagaSummary
  .extend({
    steps: z.array(sagaStep).meta({ description: "Forward steps in definition order." }),
    compensations: z.array(sagaStep).meta({ description: "Compensations in the order they ran, each named after its step." }),
    error: sagaError.nullable().meta({ description: "Why the saga is compensating, failed or cancelled." }),
    input: z.unknown(),
    data: z.unknown().meta({ description: "What the completed steps left." }),
    cursor: z.int().min(0).meta({ description: "The step the saga is at (while compensating: whose compensation is next)." }),
    awaiting: z.array(z.string()).meta({ description: "What the current step waits for (`task:<id>`, `saga:<id>`)." }),
    cancelRequested: z.boolean().meta({ description: "A cancel was asked for and is being carried out." }),
    revision: z.int().min(1).meta({ description: "Incremented by every transition." }),
  })
  .meta({ id: "Saga", description: "A saga with its steps and compensations." });
export type SagaDetailResource = z.infer<typeof sagaDetail>;

const statusCounts = z.object(Object.fromEntries(sagaStatuses.map((status) => [status, z.int().min(0)])) as Record<(typeof sagaStatuses)[number], z.ZodInt>);

export const sagaTypeResource = z
  .object({
    type: z.string(),
    kind: sagaKind,
    description: z.string(),
    steps: z.array(
      z.object({
        name: z.string(),
        description: z.string(),
        action: z.string().meta({ description: "What the step does (command, task, http, children, local; for choreographies, the events that mark it)." }),
        compensation: z.string().nullable(),
        timeoutMs: z.int().min(0),
        maxAttempts: z.int().min(0),
      }),
    ),
    schema: z.record(z.string(), z.unknown()).nullable().meta({ description: "JSON Schema (draft 2020-12) of the start input; null for choreographies." }),
    deadline: z.object({ afterMs: z.int().min(1), onExpiry: z.enum(["compensate", "escalate"]) }).nullable(),
    counts: statusCounts.meta({ description: "Sagas of this type per status." }),
  })
  .meta({ id: "SagaType" });
export type SagaTypeResource = z.infer<typeof sagaTypeResource>;

export const sagaTypeList = z.object({ items: z.array(sagaTypeResource) }).meta({ id: "SagaTypeList" });

export const sagaTimer = z
  .object({
    id: z.string(),
    kind: z.string().meta({ example: "saga.deadline" }),
    key: z.string(),
    dueAt: time,
    payload: z.unknown(),
    status: z.enum(timerStatuses),
    attempts: z.int().min(0).meta({ description: "Handler runs started." }),
    createdAt: time,
    firedAt: time.nullable(),
    lastError: z.string().nullable(),
  })
  .meta({ id: "SagaTimer" });

export const sagaTimerList = z.object({ items: z.array(sagaTimer).meta({ description: "Soonest due first." }) }).meta({ id: "SagaTimerList" });
