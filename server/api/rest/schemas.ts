import { z } from "zod";
import "zod-openapi";
import { priorities } from "@/server/engine/core/envelope";
import { isUuid } from "@/server/engine/core/ids";
import { TYPE_NAME_PATTERN } from "@/server/engine/core/registry";
import { pageLimit } from "./list-params";

/**
 * The zod schemas of every REST v1 request and response in the events scope. They validate
 * requests at run time and generate the OpenAPI document (openapi.ts), so the two cannot drift.
 */

export const MAX_BATCH_EVENTS = 1000;
export const MAX_POLL_TIMEOUT_SECONDS = 60;
export const DEFAULT_POLL_TIMEOUT_SECONDS = 30;

// ---------------------------------------------------------------------------------------------
// Building blocks

/** `data` may be any JSON value, including null, but must be present. */
const eventData = z
  .unknown()
  .refine((value) => value !== undefined, { message: "is required" })
  .meta({ description: "The event payload, validated against the type's JSON Schema." });

const eventId = z
  .string()
  .refine(isUuid, { message: "must be a UUID" })
  .meta({
    description: "Event id (UUID). A producer-supplied id is an idempotency key: publishing it again returns the original event.",
    format: "uuid",
  });

const shortText = (max: number) => z.string().min(1).max(max);

const rfc3339 = z.iso.datetime({ offset: true }).meta({ description: "RFC 3339 timestamp" });

const typeName = z
  .string()
  .regex(TYPE_NAME_PATTERN, "must be dotted lowercase, e.g. exam.created")
  .meta({ description: "Dotted event type name", example: "exam.created" });

const optionalAttributes = {
  subject: shortText(500).optional().meta({ description: "The entity the event is about; events with one subject form one stream." }),
  partitionkey: shortText(500).optional().meta({ description: "Ordering key for transports (defaults to the subject)." }),
  priority: z.enum(priorities).optional().meta({ description: "Delivery priority; default normal." }),
  correlationid: shortText(200).optional().meta({ description: "Conversation id; defaults to the event's own id." }),
  causationid: shortText(200).optional().meta({ description: "Id of the message that caused this one." }),
  source: shortText(500).optional().meta({ description: "URI-reference of the producer; default urn:eventloom." }),
};

// ---------------------------------------------------------------------------------------------
// Requests

export const publishEventBody = z
  .strictObject({
    type: typeName,
    data: eventData,
    ...optionalAttributes,
    id: eventId.optional(),
  })
  .meta({ id: "PublishEvent", description: "An event to publish (application/json)." });
export type PublishEventBody = z.infer<typeof publishEventBody>;

/**
 * One CloudEvent 1.0 in structured JSON mode. Extension attributes are limited to Eventloom's own:
 * the envelope has nowhere to keep others, and dropping them silently would lose a producer's data.
 */
export const cloudEventBody = z
  .strictObject({
    specversion: z.literal("1.0"),
    id: eventId,
    source: shortText(500),
    type: typeName,
    subject: optionalAttributes.subject,
    time: rfc3339.optional().meta({ description: "Occurrence time; defaults to the time of acceptance." }),
    datacontenttype: z
      .string()
      .regex(/^application\/(?:[\w.+-]+\+)?json(?:\s*;.*)?$/i, "only JSON data is supported")
      .optional(),
    dataschema: shortText(2000).optional(),
    // Optional in CloudEvents: an absent payload is stored as null (and validated as null).
    data: z.unknown().optional(),
    correlationid: optionalAttributes.correlationid,
    causationid: optionalAttributes.causationid,
    traceparent: z.string().optional().meta({ description: "W3C trace context (Distributed Tracing extension)." }),
    tracestate: z.string().max(512).optional(),
    priority: optionalAttributes.priority,
    partitionkey: optionalAttributes.partitionkey,
  })
  .meta({ id: "CloudEvent", description: "A CloudEvent 1.0 in structured mode (application/cloudevents+json)." });
export type CloudEventBody = z.infer<typeof cloudEventBody>;

export const publishBatchBody = z
  .strictObject({ events: z.array(publishEventBody).min(1).max(MAX_BATCH_EVENTS) })
  .meta({ id: "PublishBatch", description: `Up to ${MAX_BATCH_EVENTS} events, stored all or nothing.` });

export const cloudEventBatchBody = z
  .array(cloudEventBody)
  .min(1)
  .max(MAX_BATCH_EVENTS)
  .meta({ id: "CloudEventBatch", description: "A CloudEvents JSON batch (application/cloudevents-batch+json)." });

export const registerEventTypeBody = z
  .strictObject({
    type: typeName,
    version: z.int().min(1).optional().meta({ description: "Defaults to 1 for a new type, the latest for a known one." }),
    description: z.string().max(2000).optional(),
    schema: z.record(z.string(), z.unknown()).meta({ description: "JSON Schema (draft 2020-12) of the event data." }),
  })
  .meta({ id: "RegisterEventType" });

// Query parameters arrive as strings: these schemas parse them, and say why a value is refused.

const position = z
  .string()
  .regex(/^\d{1,15}$/, "must be a non-negative integer")
  .transform(Number)
  .meta({ description: "A position in the global log", example: "42", override: { type: "string", pattern: "^\\d+$" } });

const typePattern = /^(?:\*|[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*(?:\.\*)?)$/;
const typeList = z
  .string()
  .transform((value) => value.split(",").map((part) => part.trim()).filter((part) => part.length > 0))
  .refine((patterns) => patterns.length > 0, { message: "must name at least one type" })
  .refine((patterns) => patterns.every((pattern) => typePattern.test(pattern)), {
    message: "must be comma-separated type names, each optionally ending in .* (e.g. exam.created,grading.*)",
  })
  .meta({ description: "Comma-separated event types; a trailing `.*` matches a prefix.", example: "exam.*,grade.recorded" });

const subjectParam = z.string().min(1).max(500).optional().meta({ description: "Only events about this subject." });

export const listEventsQuery = z
  .strictObject({
    type: typeList.optional(),
    subject: subjectParam,
    correlationid: z.string().min(1).max(200).optional().meta({ description: "Only events of this conversation." }),
    after: position.optional().meta({ description: "Only events after this position (exclusive)." }),
    next: position.optional().meta({ description: "The `next` cursor of the previous page." }),
    from: rfc3339.optional().meta({ description: "Only events whose time is at or after this." }),
    to: rfc3339.optional().meta({ description: "Only events whose time is at or before this." }),
    limit: pageLimit(),
  })
  .refine((query) => query.after === undefined || query.next === undefined, {
    message: "give either after or next, not both",
    path: ["next"],
  });
export type ListEventsQuery = z.infer<typeof listEventsQuery>;

export const streamEventsQuery = z.strictObject({
  type: typeList.optional(),
  subject: subjectParam,
  after: position.optional().meta({ description: "Start after this position; default: only new events. The Last-Event-ID header takes precedence." }),
});

export const pollEventsQuery = z.strictObject({
  type: typeList.optional(),
  subject: subjectParam,
  after: position.optional().meta({ description: "Return events after this position; default: the current head (wait for new events)." }),
  timeout: z
    .string()
    .regex(/^\d+(\.\d+)?$/, "must be a number of seconds")
    .transform(Number)
    .refine((value) => value <= MAX_POLL_TIMEOUT_SECONDS, { message: `must be at most ${MAX_POLL_TIMEOUT_SECONDS}` })
    .optional()
    .transform((value) => value ?? DEFAULT_POLL_TIMEOUT_SECONDS)
    .meta({ description: `Seconds to wait, at most ${MAX_POLL_TIMEOUT_SECONDS}; default ${DEFAULT_POLL_TIMEOUT_SECONDS}.`, override: { type: "string" } }),
  limit: pageLimit(),
});

export const eventIdParams = z.object({ id: z.string().meta({ description: "Event id" }) });

// ---------------------------------------------------------------------------------------------
// Responses

export const eventResource = z
  .object({
    id: z.string(),
    type: z.string(),
    source: z.string(),
    specversion: z.literal("1.0"),
    time: z.string().meta({ description: "RFC 3339 UTC", format: "date-time" }),
    subject: z.string().optional(),
    datacontenttype: z.string(),
    dataschema: z.string().optional(),
    data: z.unknown(),
    position: z.int().min(1).meta({ description: "Place in the global log, increasing in commit order." }),
    correlationid: z.string(),
    causationid: z.string().optional(),
    traceparent: z.string(),
    tracestate: z.string().optional(),
    priority: z.enum(priorities),
    partitionkey: z.string().optional(),
    schemaversion: z.int().min(1).meta({ description: "Version of the type's schema that `data` conforms to (after upcasting: the latest)." }),
  })
  .meta({ id: "Event", description: "An event, with CloudEvents 1.0 attribute names." });
export type EventResource = z.infer<typeof eventResource>;

export const publishAccepted = z
  .object({ id: z.string(), position: z.int().min(1), correlationid: z.string(), traceparent: z.string() })
  .meta({ id: "PublishAccepted" });
export type PublishAccepted = z.infer<typeof publishAccepted>;

export const batchAccepted = z
  .object({ items: z.array(z.object({ id: z.string(), position: z.int().min(1) })) })
  .meta({ id: "BatchAccepted", description: "One item per event, in request order." });
export type BatchAccepted = z.infer<typeof batchAccepted>;

export const eventPage = z
  .object({
    items: z.array(eventResource),
    next: z.string().nullable().meta({ description: "Cursor for the next page (pass as `next`), or null when there is nothing further now." }),
  })
  .meta({ id: "EventPage" });

export const pollResult = z
  .object({
    items: z.array(eventResource),
    next: z.string().meta({ description: "The position to poll after next time." }),
  })
  .meta({ id: "PollResult" });

export const eventTypeResource = z
  .object({
    type: z.string(),
    version: z.int().min(1),
    versions: z.array(z.int().min(1)),
    description: z.string(),
    schema: z.record(z.string(), z.unknown()).meta({ description: "JSON Schema (draft 2020-12) of the latest version." }),
    origin: z.enum(["code", "runtime"]),
  })
  .meta({ id: "EventType" });
export type EventTypeResource = z.infer<typeof eventTypeResource>;

export const eventTypeList = z.object({ items: z.array(eventTypeResource) }).meta({ id: "EventTypeList" });

export const healthResponse = z
  .object({
    status: z.enum(["ok", "degraded"]),
    components: z
      .record(z.string(), z.object({ status: z.enum(["up", "down"]), latencyMs: z.number().optional(), error: z.string().optional() }))
      .optional(),
  })
  .meta({ id: "Health" });

export const problemDocument = z
  .object({
    type: z.string().meta({ format: "uri", example: "https://eventloom.dev/problems/validation" }),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    errors: z
      .array(z.object({ path: z.string().meta({ example: "events[3].data.examId" }), message: z.string() }))
      .optional(),
    rule: z.string().optional().meta({ description: "The business rule a command broke (422).", example: "ocr_failed" }),
    expected: z.union([z.int(), z.string()]).optional().meta({ description: "The stream version the command expected (409 version conflict)." }),
    actual: z.int().optional().meta({ description: "The stream's actual version (409 version conflict)." }),
  })
  .meta({ id: "Problem", description: "RFC 9457 problem details." });
