import type { EventDraft, StoredEvent } from "@/server/engine/core/envelope";
import type { FieldIssue } from "@/server/engine/core/errors";
import { toEventResource } from "@/server/engine/core/event-resource";
import { isUuid } from "@/server/engine/core/ids";
import type { EventTypeRegistry } from "@/server/engine/core/registry";
import type { PublishOutcome } from "@/server/engine/store/publisher";
import { safeParse } from "./http";
import { IDEMPOTENT_REPLAYED_HEADER, idempotencyClaimFor } from "./idempotency";
import { HttpProblem, problemResponse } from "./problem";
import { json, type RestContext } from "./route";
import {
  cloudEventBatchBody,
  cloudEventBody,
  listEventsQuery,
  publishBatchBody,
  publishEventBody,
  type BatchAccepted,
  type CloudEventBody,
  type PublishAccepted,
  type PublishEventBody,
} from "./schemas";
import type { z } from "zod";

/**
 * REST v1 events: publish (single and batch, plain JSON or CloudEvents), list and get. The SSE
 * stream and long poll live in event-stream.ts.
 */

const JSON_TYPE = "application/json";
const CLOUDEVENT_TYPE = "application/cloudevents+json";
const CLOUDEVENT_BATCH_TYPE = "application/cloudevents-batch+json";

function draftFromBody(body: PublishEventBody, traceparent: string | null): EventDraft {
  const draft: EventDraft = { type: body.type, data: body.data };
  if (body.id !== undefined) draft.id = body.id.toLowerCase();
  if (body.source !== undefined) draft.source = body.source;
  if (body.subject !== undefined) draft.subject = body.subject;
  if (body.partitionkey !== undefined) draft.partitionkey = body.partitionkey;
  if (body.priority !== undefined) draft.priority = body.priority;
  if (body.correlationid !== undefined) draft.correlationid = body.correlationid;
  if (body.causationid !== undefined) draft.causationid = body.causationid;
  if (traceparent !== null) draft.traceparent = traceparent;
  return draft;
}

function draftFromCloudEvent(event: CloudEventBody, traceparent: string | null): EventDraft {
  const draft: EventDraft = {
    id: event.id.toLowerCase(),
    type: event.type,
    source: event.source,
    data: event.data ?? null,
  };
  if (event.subject !== undefined) draft.subject = event.subject;
  if (event.time !== undefined) draft.time = event.time;
  if (event.datacontenttype !== undefined) draft.datacontenttype = event.datacontenttype;
  if (event.dataschema !== undefined) draft.dataschema = event.dataschema;
  if (event.partitionkey !== undefined) draft.partitionkey = event.partitionkey;
  if (event.priority !== undefined) draft.priority = event.priority;
  if (event.correlationid !== undefined) draft.correlationid = event.correlationid;
  if (event.causationid !== undefined) draft.causationid = event.causationid;
  if (event.tracestate !== undefined) draft.tracestate = event.tracestate;
  // The event's own Distributed Tracing context is where it was created; the request header may be
  // a proxy's hop. The event's wins, the header is the fallback.
  const parent = event.traceparent ?? traceparent;
  if (parent !== null) draft.traceparent = parent;
  return draft;
}

/** Where the events sit in one kind of request body, and how each becomes a draft. */
interface BodyShape {
  /** The whole body's schema: the one the OpenAPI document shows. */
  schema: z.ZodType;
  /** The items of the raw body (valid or not), so each can be checked on its own. */
  rawItems(value: unknown): unknown[];
  /** Path prefix of item `index` (`""` for a single event, `events[3].` in a batch). */
  prefix(index: number): string;
  /** The drafts of a body that passed `schema`. */
  drafts(body: unknown, traceparent: string | null): EventDraft[];
}

function shape<S extends z.ZodType, I>(definition: {
  schema: S;
  items(body: z.output<S>): I[];
  rawItems(value: unknown): unknown[];
  prefix(index: number): string;
  toDraft(item: I, traceparent: string | null): EventDraft;
}): BodyShape {
  return {
    schema: definition.schema,
    rawItems: definition.rawItems,
    prefix: definition.prefix,
    // `drafts` is only called with what `schema` produced.
    drafts: (body, traceparent) => definition.items(body as z.output<S>).map((item) => definition.toDraft(item, traceparent)),
  };
}

const bodyShapes = {
  [JSON_TYPE]: shape({
    schema: publishEventBody,
    items: (body) => [body],
    rawItems: (value) => [value],
    prefix: () => "",
    toDraft: draftFromBody,
  }),
  [CLOUDEVENT_TYPE]: shape({
    schema: cloudEventBody,
    items: (body) => [body],
    rawItems: (value) => [value],
    prefix: () => "",
    toDraft: draftFromCloudEvent,
  }),
};

const batchShapes = {
  [JSON_TYPE]: shape({
    schema: publishBatchBody,
    items: (body) => body.events,
    rawItems: (value) => {
      const events = isObject(value) ? value.events : undefined;
      return Array.isArray(events) ? events : [];
    },
    prefix: (index) => `events[${index}].`,
    toDraft: draftFromBody,
  }),
  [CLOUDEVENT_BATCH_TYPE]: shape({
    schema: cloudEventBatchBody,
    items: (body) => body,
    rawItems: (value) => (Array.isArray(value) ? value : []),
    prefix: (index) => `[${index}].`,
    toDraft: draftFromCloudEvent,
  }),
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Validates the body and every event in it, collecting every failing field in one 422: the
 * envelope against the body schema, and the data against the event-type registry for each item
 * whose type and data are themselves well-formed. Nothing is stored unless all of it is valid.
 */
function draftsOf(
  bodyShape: BodyShape,
  value: unknown,
  traceparent: string | null,
  registry: EventTypeRegistry,
): EventDraft[] {
  const parsed = safeParse(bodyShape.schema, value);
  const issues: FieldIssue[] = "issues" in parsed ? [...parsed.issues] : [];
  const structural = [...issues];

  const seenIds = new Map<string, number>();
  bodyShape.rawItems(value).forEach((item, index) => {
    if (!isObject(item)) return;
    const prefix = bodyShape.prefix(index);
    const touches = (field: string) =>
      structural.some((issue) => issue.path === prefix + field || issue.path.startsWith(`${prefix}${field}.`) || issue.path.startsWith(`${prefix}${field}[`));
    if (typeof item.type === "string" && !touches("type") && !touches("data")) {
      const validation = registry.validate(item.type, item.data === undefined ? null : item.data);
      if (!validation.ok) for (const issue of validation.error) issues.push({ path: prefix + issue.path, message: issue.message });
    }
    // Two events with one id in a single request is a client mistake, not a repeated delivery.
    if (typeof item.id === "string" && !touches("id")) {
      const id = item.id.toLowerCase();
      const first = seenIds.get(id);
      if (first === undefined) seenIds.set(id, index);
      else issues.push({ path: `${prefix}id`, message: `repeats the id of ${bodyShape.prefix(first)}id` });
    }
  });

  if (issues.length > 0 || !("data" in parsed)) {
    const first = issues[0];
    throw new HttpProblem("validation", issues.length === 1 && first ? `Invalid event: ${first.path}: ${first.message}` : `${issues.length} invalid fields`, {
      errors: issues,
    });
  }
  return bodyShape.drafts(parsed.data, traceparent);
}

function publishResponse(outcome: PublishOutcome, render: (events: StoredEvent[]) => unknown): Response {
  switch (outcome.status) {
    case "idempotency_mismatch":
      return problemResponse("conflict", "This Idempotency-Key was already used with a different request body");
    case "replayed":
      return json(render(outcome.events), 202, { [IDEMPOTENT_REPLAYED_HEADER]: "true" });
    case "accepted": {
      // Every event already stored under its supplied id: this request repeats an earlier one.
      const repeated = outcome.events.every((event) => event.duplicate);
      return json(render(outcome.events), 202, repeated ? { [IDEMPOTENT_REPLAYED_HEADER]: "true" } : undefined);
    }
  }
}

function accepted(event: StoredEvent): PublishAccepted {
  return { id: event.id, position: event.position, correlationid: event.correlationid, traceparent: event.traceparent };
}

/**
 * Publishing, single or batch: read the body in one of the shapes' media types, validate it whole,
 * claim the Idempotency-Key in the same append, and answer 202 (or the original answer on a repeat).
 */
async function publishWith(
  context: RestContext<unknown>,
  operation: string,
  shapes: Record<string, BodyShape>,
  render: (events: StoredEvent[]) => unknown,
): Promise<Response> {
  const body = await context.readJson(Object.keys(shapes));
  // readJson only returns one of the media types it was given.
  const bodyShape = shapes[body.mediaType]!;
  const drafts = draftsOf(bodyShape, body.value, context.request.headers.get("traceparent"), context.container.registry);
  const idempotency = idempotencyClaimFor(context.request, context.principal, `${operation} ${body.mediaType}`, body.value);
  const outcome = await context.container.publisher.publish(drafts, { idempotency, issuePrefix: bodyShape.prefix });
  return publishResponse(outcome, render);
}

export function publishEvent(context: RestContext<unknown>): Promise<Response> {
  return publishWith(context, "POST /events", bodyShapes, (events) => accepted(events[0]!));
}

export function publishBatch(context: RestContext<unknown>): Promise<Response> {
  return publishWith(
    context,
    "POST /events/batch",
    batchShapes,
    (events): BatchAccepted => ({ items: events.map((event) => ({ id: event.id, position: event.position })) }),
  );
}

export async function getEvent(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  // Only UUIDs can be stored ids; anything else is simply not there (and must not reach a uuid column).
  const event = isUuid(id) ? await context.container.store.getById(id.toLowerCase()) : undefined;
  if (!event) return problemResponse("not_found", `No event with id ${id}`);
  return json(toEventResource(event, context.container.registry));
}

export async function listEvents(context: RestContext<unknown>): Promise<Response> {
  const query = context.query(listEventsQuery, { lists: ["type"] });
  const page = await context.container.store.readAll({
    after: query.after ?? query.next ?? 0,
    types: query.type,
    subject: query.subject,
    correlationid: query.correlationid,
    from: query.from,
    to: query.to,
    limit: query.limit,
  });
  // The store fills a page up to `limit` unless it reached the head, so a short page is the end.
  const next = page.events.length === query.limit ? String(page.lastPosition) : null;
  return json({ items: page.events.map((event) => toEventResource(event, context.container.registry)), next });
}

