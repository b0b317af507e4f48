import { v5 as uuidv5 } from "uuid";
import { isUuid } from "@/server/engine/core/ids";
import { isEngineError } from "@/server/engine/core/errors";
import type { StartSagaOptions } from "@/server/engine/sagas/ports";
import type { SagaRecord, SagaStepRecord } from "@/server/engine/sagas/saga-store";
import { sagaStatuses } from "@/server/engine/sagas/saga-store";
import type { TimerRecord } from "@/server/engine/sagas/timer-store";
import { badQuery } from "./http";
import { IDEMPOTENT_REPLAYED_HEADER, idempotencyKeyOf } from "./idempotency";
import { HttpProblem, problemResponse } from "./problem";
import { json, type RestContext } from "./route";
import {
  cancelSagaBody,
  listSagasQuery,
  startSagaBody,
  type SagaDetailResource,
  type SagaStepResource,
  type SagaSummaryResource,
  type SagaTypeResource,
} from "./sagas-schemas";

/**
 * REST v1 sagas: list and detail (orchestrated and choreographed alike), start, retry a failed
 * saga, cancel a running one, the saga types, and a saga's durable timers. The orchestrator does
 * the work; this file turns HTTP into its calls and its records into resources.
 */

const JSON_TYPE = ["application/json"] as const;

/** Namespace of saga ids derived from a caller's Idempotency-Key: the same key starts one saga. */
const IDEMPOTENT_SAGA_NAMESPACE = "3f0d7a52-8f0e-4c8e-9a41-6f3f2b8f1d27";

/** How many timers `GET /api/v1/sagas/{id}/timers` lists: a saga keeps a deadline or two. */
const SAGA_TIMERS_LIMIT = 100;

export function toSagaSummary(saga: SagaRecord): SagaSummaryResource {
  return {
    id: saga.id,
    type: saga.type,
    kind: saga.kind,
    status: saga.status,
    subject: saga.subject,
    correlationid: saga.correlationid,
    parentId: saga.parentId,
    startedAt: saga.startedAt,
    updatedAt: saga.updatedAt,
    endedAt: saga.endedAt,
  };
}

function durationMs(step: SagaStepRecord): number | null {
  if (step.startedAt === null || step.endedAt === null) return null;
  return Math.max(0, Date.parse(step.endedAt) - Date.parse(step.startedAt));
}

function toStepResource(step: SagaStepRecord): SagaStepResource {
  return {
    name: step.name,
    status: step.status,
    attempts: step.attempts,
    startedAt: step.startedAt,
    endedAt: step.endedAt,
    durationMs: durationMs(step),
    ...(step.error === undefined ? {} : { error: step.error }),
    ...(step.nextAttemptAt === undefined ? {} : { nextAttemptAt: step.nextAttemptAt }),
    events: step.events,
    history: step.history,
  };
}

export function toSagaDetail(saga: SagaRecord): SagaDetailResource {
  return {
    ...toSagaSummary(saga),
    steps: saga.steps.map(toStepResource),
    compensations: saga.compensations.map(toStepResource),
    error: saga.error,
    input: saga.input,
    data: saga.data,
    cursor: saga.cursor,
    awaiting: saga.awaiting,
    cancelRequested: saga.cancelRequested,
    revision: saga.revision,
  };
}

function toTimerResource(timer: TimerRecord) {
  return {
    id: timer.id,
    kind: timer.kind,
    key: timer.key,
    dueAt: timer.dueAt,
    payload: timer.payload,
    status: timer.status,
    attempts: timer.attempts,
    createdAt: timer.createdAt,
    firedAt: timer.firedAt,
    lastError: timer.lastError,
  };
}

/** Saga ids are UUIDs: anything else names no saga, and is not worth a database round trip. */
function notFound(id: string): Response {
  return problemResponse("not_found", `No saga with id ${id}`);
}

const sagaLocation = (id: string) => `/api/v1/sagas/${id}`;

/** `GET /api/v1/sagas`: newest first, filtered by type, status, correlation id, kind or parent. */
export async function listSagas(context: RestContext<unknown>): Promise<Response> {
  const query = context.query(listSagasQuery);
  let page;
  try {
    page = await context.container.sagas.orchestrator.list({
      limit: query.limit,
      ...(query.type === undefined ? {} : { type: query.type }),
      ...(query.status === undefined ? {} : { status: query.status }),
      ...(query.correlationid === undefined ? {} : { correlationid: query.correlationid }),
      ...(query.kind === undefined ? {} : { kind: query.kind }),
      ...(query.parentId === undefined ? {} : { parentId: query.parentId }),
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
    });
  } catch (error) {
    // The cursor is opaque: only the store can tell one it did not hand out.
    if (isEngineError(error) && error.code === "validation") throw badQuery([{ path: "cursor", message: "must be the `next` of a previous page" }]);
    throw error;
  }
  return json({ items: page.items.map(toSagaSummary), next: page.nextCursor });
}

export async function getSaga(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  const saga = isUuid(id) ? await context.container.sagas.orchestrator.get(id) : undefined;
  return saga ? json(toSagaDetail(saga)) : notFound(id);
}

/**
 * `POST /api/v1/sagas`: 201 with the new saga and its Location. An `id` (or an Idempotency-Key,
 * from which the id is derived per caller) that names an existing saga answers 200 with it and
 * starts nothing; naming a saga of another type is a 409.
 */
export async function startSaga(context: RestContext<unknown>): Promise<Response> {
  const { value } = await context.readJson(JSON_TYPE);
  const body = context.body(startSagaBody, value);
  const { orchestrator } = context.container.sagas;

  const types = orchestrator.listTypes();
  const descriptor = types.find((type) => type.type === body.type);
  if (descriptor?.kind !== "orchestrated") {
    const startable = types.filter((type) => type.kind === "orchestrated").map((type) => type.type);
    const message = descriptor ? "is a choreographed saga: it starts from its events, not by request" : `is not a saga type; known: ${startable.join(", ")}`;
    throw new HttpProblem("validation", `Invalid field type: ${body.type} ${message}`, { errors: [{ path: "type", message }] });
  }

  const idempotencyKey = idempotencyKeyOf(context.request);
  const id = body.id ?? (idempotencyKey === undefined ? undefined : uuidv5(`${context.principal.id}:${idempotencyKey}`, IDEMPOTENT_SAGA_NAMESPACE));
  const traceparent = context.request.headers.get("traceparent");
  const options: StartSagaOptions = {
    ...(id === undefined ? {} : { id }),
    ...(body.correlationid === undefined ? {} : { correlationid: body.correlationid }),
    ...(traceparent === null ? {} : { traceparent }),
  };

  // Invalid input is a ValidationError naming each field under `input`, as the body holds them.
  const { saga, created } = await orchestrator.start(body.type, body.input, options);
  if (!created && saga.type !== body.type) {
    return problemResponse("conflict", `Saga ${saga.id} exists and is a ${saga.type} saga, not ${body.type}`);
  }
  const headers: Record<string, string> = { location: sagaLocation(saga.id) };
  if (!created && idempotencyKey !== undefined) headers[IDEMPOTENT_REPLAYED_HEADER] = "true";
  return json(toSagaDetail(saga), created ? 201 : 200, headers);
}

/** `POST /api/v1/sagas/{id}/retry`: a failed saga tries its failed compensation again, then the rest. 409 unless failed. */
export async function retrySaga(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  if (!isUuid(id)) return notFound(id);
  return json(toSagaDetail(await context.container.sagas.orchestrator.retry(id)));
}

/**
 * The cancel body is optional: `{reason}` when given. A POST without one (no body, or an empty
 * one) is a cancel for no stated reason.
 */
async function cancelReason(context: RestContext<{ id: string }>): Promise<string | undefined> {
  const { request } = context;
  if (request.body === null || request.headers.get("content-length") === "0") return undefined;
  const { value } = await context.readJson(JSON_TYPE);
  return context.body(cancelSagaBody, value).reason;
}

/**
 * `POST /api/v1/sagas/{id}/cancel`: 202 with the saga as it is now; its worker compensates what
 * completed and ends it `cancelled` (follow it with GET /api/v1/sagas/{id}). 409 once it ended.
 */
export async function cancelSaga(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  if (!isUuid(id)) return notFound(id);
  const reason = await cancelReason(context);
  const by = `cancelled by ${context.principal.name}`;
  const saga = await context.container.sagas.orchestrator.cancel(id, reason === undefined ? by : `${reason} (${by})`);
  return json(toSagaDetail(saga), 202, { location: sagaLocation(saga.id) });
}

/** `GET /api/v1/saga-types`: orchestrated and choreographed types, with steps, input schema and counts per status. */
export async function listSagaTypes(context: RestContext<unknown>): Promise<Response> {
  const { orchestrator } = context.container.sagas;
  const { byType } = await orchestrator.counts();
  const zeros = Object.fromEntries(sagaStatuses.map((status) => [status, 0])) as SagaTypeResource["counts"];
  const items: SagaTypeResource[] = orchestrator.listTypes().map((type) => ({
    type: type.type,
    kind: type.kind,
    description: type.description,
    steps: type.steps,
    schema: type.schema === null ? null : { ...type.schema },
    deadline: type.deadline,
    counts: { ...zeros, ...byType[type.type] },
  }));
  return json({ items });
}

/** `GET /api/v1/sagas/{id}/timers`: the durable timers kept for a saga (its deadline), soonest first. */
export async function listSagaTimers(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  const { orchestrator } = context.container.sagas;
  const saga = isUuid(id) ? await orchestrator.get(id) : undefined;
  if (!saga) return notFound(id);
  const timers = await orchestrator.timers({ key: saga.id, limit: SAGA_TIMERS_LIMIT });
  return json({ items: timers.map(toTimerResource) });
}
