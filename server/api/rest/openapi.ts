import { z } from "zod";
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiResponsesObject } from "zod-openapi";
import { problemKinds, type ProblemKind, PROBLEM_CONTENT_TYPE } from "./problem";
import { json } from "./route";
import {
  batchAccepted,
  cloudEventBatchBody,
  cloudEventBody,
  eventIdParams,
  eventPage,
  eventResource,
  eventTypeList,
  eventTypeResource,
  healthResponse,
  listEventsQuery,
  pollEventsQuery,
  pollResult,
  problemDocument,
  publishAccepted,
  publishBatchBody,
  publishEventBody,
  registerEventTypeBody,
  streamEventsQuery,
} from "./schemas";
import {
  createReplayBody,
  deadLetterIdParams,
  deadLetterPage,
  deadLetterResource,
  listDeadLettersQuery,
  listReplaysQuery,
  redriveAccepted,
  redriveMatchingBody,
  replayAccepted,
  replayIdParams,
  replayList,
  replayResource,
  statusResponse,
  subscriptionList,
} from "./delivery-schemas";
import { commandCatalog, commandHeaders, commandNameParams, commandResult, queryCatalog, queryNameParams, queryRequestParams } from "./cqrs-schemas";
import { listTasksQuery, submitTaskBody, taskAccepted, taskIdParams, taskPage, taskResource, taskTypeList } from "./task-schemas";
import { cancelSagaBody, listSagasQuery, sagaDetail, sagaIdParams, sagaPage, sagaTimerList, sagaTypeList, startSagaBody } from "./sagas-schemas";
import {
  createWebhookEndpointBody,
  filterPreviewBody,
  filterPreviewResult,
  listWebhookAttemptsQuery,
  listWebhookEndpointsQuery,
  recoverAccepted,
  recoverWebhookBody,
  resendAccepted,
  rotateWebhookSecretBody,
  testWebhookBody,
  updateWebhookEndpointBody,
  webhookAttemptIdParams,
  webhookAttemptPage,
  webhookAttemptResource,
  webhookEndpointPage,
  webhookEndpointResource,
  webhookEndpointWithSecret,
  webhookEndpointWithStats,
  webhookIdParams,
} from "./webhooks-schemas";

/**
 * The OpenAPI 3.1 document of REST v1 (events, delivery, tasks, commands and queries, sagas, webhooks), generated from the zod schemas that validate
 * the requests (schemas.ts), so the document cannot describe an API other than the one served.
 */

const problemDescriptions: Record<ProblemKind, string> = {
  bad_request: "Unparseable JSON, or a bad query parameter or header",
  unauthorized: "Missing or unknown API key",
  forbidden: "The key lacks the required scope, or a command's policy refused the caller (`detail` says why)",
  not_found: "No such resource",
  conflict: "Conflict (an Idempotency-Key reused with a different body, a concurrent change; a stream version conflict has `expected` and `actual`)",
  payload_too_large: "The body exceeds MAX_BODY_BYTES (default 1 MiB)",
  unsupported_media_type: "Wrong Content-Type",
  validation: "Well-formed but invalid: `errors[]` names every failing field; a business rule a command breaks is named in `detail` and `rule`",
  rate_limited: "Too many requests; see Retry-After",
  internal: "Unexpected server error (details are logged, never returned)",
  unavailable: "A dependency is unavailable; see Retry-After",
};

const retryAfter = z.object({ "retry-after": z.string().meta({ description: "Seconds to wait before retrying" }) });

function problems(...kinds: ProblemKind[]): ZodOpenApiResponsesObject {
  const responses: ZodOpenApiResponsesObject = {};
  for (const kind of ["unauthorized", ...kinds, "internal", "unavailable"] as ProblemKind[]) {
    const status = String(problemKinds[kind].status) as `${4 | 5}${string}`;
    responses[status] = {
      description: problemDescriptions[kind],
      content: { [PROBLEM_CONTENT_TYPE]: { schema: problemDocument } },
      ...(kind === "rate_limited" || kind === "unavailable" ? { headers: retryAfter } : {}),
    };
  }
  return responses;
}

const jsonContent = (schema: z.ZodType) => ({ "application/json": { schema } });

const publishHeaders = z.object({
  "idempotency-key": z
    .string()
    .max(255)
    .optional()
    .meta({ description: "Repeat a request safely: the same key with the same body returns the original response (Idempotent-Replayed: true); with a different body, 409." }),
  traceparent: z.string().optional().meta({ description: "W3C trace context to continue; otherwise a new trace starts." }),
});

const replayedHeader = z.object({
  "idempotent-replayed": z.literal("true").optional().meta({ description: "Present when this is the original response to an earlier, identical request." }),
});

function scoped(scope: string, operation: ZodOpenApiOperationObject): ZodOpenApiOperationObject {
  return { ...operation, description: `${operation.description ?? ""}\n\nRequires scope \`${scope}\` (or \`admin\`).`.trim() };
}

export function buildOpenApiDocument(options: { serverUrl?: string } = {}) {
  return createDocument({
    openapi: "3.1.0",
    info: {
      title: "Eventloom REST API",
      version: "1.0.0",
      description:
        "Publish and consume events. Errors are RFC 9457 `application/problem+json`. Lists return `{items, next}`; pass `next` back to continue.",
    },
    servers: [{ url: options.serverUrl ?? "/" }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An Eventloom API key (`el_...`) or ADMIN_API_KEY." },
      },
    },
    paths: {
      "/api/health": {
        get: {
          operationId: "getHealth",
          summary: "Liveness and database reachability",
          security: [],
          responses: {
            "200": { description: "Healthy", content: jsonContent(healthResponse) },
            "503": { description: "Degraded: a component is down", headers: retryAfter, content: jsonContent(healthResponse) },
          },
        },
      },
      "/api/metrics": {
        get: scoped("events:read", {
          operationId: "getMetrics",
          summary: "Prometheus metrics of the process",
          description:
            "Text exposition: Node's process metrics, `eventloom_webhook_deliveries_total{outcome}`, `eventloom_webhook_failures_total{reason}`, `eventloom_webhook_attempt_duration_seconds` (histogram), `eventloom_webhook_queue_depth{endpoint}` and the subscriptions' depth, lag, in-flight and dead-lettered figures. Counters and the histogram count this process; the gauges read the shared state.",
          responses: {
            "200": { description: "Prometheus text format 0.0.4", content: { "text/plain": { schema: z.string() } } },
            ...problems("forbidden"),
          },
        }),
      },
      "/api/v1/events": {
        get: scoped("events:read", {
          operationId: "listEvents",
          summary: "List events in position order",
          requestParams: { query: listEventsQuery },
          responses: { "200": { description: "A page of events", content: jsonContent(eventPage) }, ...problems("bad_request", "forbidden") },
        }),
        post: scoped("events:publish", {
          operationId: "publishEvent",
          summary: "Publish one event",
          description: "A supplied `id` that was already accepted returns the original event's reply, never a second event.",
          requestParams: { header: publishHeaders },
          requestBody: {
            required: true,
            content: {
              "application/json": { schema: publishEventBody },
              "application/cloudevents+json": { schema: cloudEventBody },
            },
          },
          responses: {
            "202": { description: "Accepted and durable", headers: replayedHeader, content: jsonContent(publishAccepted) },
            ...problems("bad_request", "forbidden", "conflict", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/events/batch": {
        post: scoped("events:publish", {
          operationId: "publishBatch",
          summary: "Publish up to 1000 events, all or nothing",
          description: "One invalid event rejects the whole batch (422, `errors[].path` like `events[3].data.examId`) and nothing is stored.",
          requestParams: { header: publishHeaders },
          requestBody: {
            required: true,
            content: {
              "application/json": { schema: publishBatchBody },
              "application/cloudevents-batch+json": { schema: cloudEventBatchBody },
            },
          },
          responses: {
            "202": { description: "All accepted, in request order", headers: replayedHeader, content: jsonContent(batchAccepted) },
            ...problems("bad_request", "forbidden", "conflict", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/events/{id}": {
        get: scoped("events:read", {
          operationId: "getEvent",
          summary: "One event by id",
          requestParams: { path: eventIdParams },
          responses: { "200": { description: "The event", content: jsonContent(eventResource) }, ...problems("forbidden", "not_found") },
        }),
      },
      "/api/v1/events/stream": {
        get: scoped("events:read", {
          operationId: "streamEvents",
          summary: "Server-Sent Events",
          description:
            "Each event is sent as `id: <position>`, `event: <type>`, `data: <event JSON>`. Reconnecting with `Last-Event-ID` resumes after that position with no gap and no repeat. A comment line keeps the connection alive (every SSE_HEARTBEAT_SECONDS, default 15).",
          requestParams: {
            query: streamEventsQuery,
            header: z.object({ "last-event-id": z.string().optional().meta({ description: "Resume after this position" }) }),
          },
          responses: {
            "200": { description: "An event stream", content: { "text/event-stream": { schema: z.string() } } },
            ...problems("bad_request", "forbidden"),
          },
        }),
      },
      "/api/v1/events/poll": {
        get: scoped("events:read", {
          operationId: "pollEvents",
          summary: "Long poll",
          description: "Returns as soon as at least one matching event exists after `after`; otherwise `{items: [], next: after}` when the timeout ends.",
          requestParams: { query: pollEventsQuery },
          responses: { "200": { description: "Events, or none at the timeout", content: jsonContent(pollResult) }, ...problems("bad_request", "forbidden") },
        }),
      },
      "/api/v1/event-types": {
        get: {
          operationId: "listEventTypes",
          summary: "The event types the platform accepts",
          description: "Any authenticated caller.",
          responses: { "200": { description: "Event types", content: jsonContent(eventTypeList) }, ...problems() },
        },
        post: scoped("admin", {
          operationId: "registerEventType",
          summary: "Register a runtime event type from a JSON Schema",
          description: "Re-registering a type with a different schema needs a new version. An identical registration returns the original.",
          requestBody: { required: true, content: jsonContent(registerEventTypeBody) },
          responses: {
            "201": { description: "Registered", content: jsonContent(eventTypeResource) },
            ...problems("bad_request", "forbidden", "conflict", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/status": {
        get: scoped("events:read", {
          operationId: "getStatus",
          summary: "Components, subscriptions, projections, sagas and throughput",
          description:
            "Components (database, event bus, transport, projections, sagas) with state and latency, every subscription's figures, every projection's position and lag behind the head of the log, the sagas per type and status, and events per second over the last minute.",
          responses: { "200": { description: "Status", content: jsonContent(statusResponse) }, ...problems("forbidden") },
        }),
      },
      "/api/v1/subscriptions": {
        get: scoped("events:read", {
          operationId: "listSubscriptions",
          summary: "Subscriptions with depth, lag, in-flight and dead-lettered",
          responses: { "200": { description: "Subscriptions", content: jsonContent(subscriptionList) }, ...problems("forbidden") },
        }),
      },
      "/api/v1/dead-letters": {
        get: scoped("events:read", {
          operationId: "listDeadLetters",
          summary: "Deliveries that failed every retry",
          description: "In order of first failure. Pass `next` back as `after` to continue.",
          requestParams: { query: listDeadLettersQuery },
          responses: { "200": { description: "A page of dead letters", content: jsonContent(deadLetterPage) }, ...problems("bad_request", "forbidden") },
        }),
      },
      "/api/v1/dead-letters/redrive": {
        post: scoped("admin", {
          operationId: "redriveDeadLetters",
          summary: "Redrive every dead letter matching",
          description:
            "Counts the dead letters matching now and, unless `dryRun`, puts them back into their subscriptions' input (attempt 1) in the background, paced by `ratePerSecond`; each leaves the list when redriven.",
          requestBody: { required: true, content: jsonContent(redriveMatchingBody) },
          responses: {
            "202": { description: "Matched (and being redriven unless dryRun)", content: jsonContent(redriveAccepted) },
            ...problems("bad_request", "forbidden", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/dead-letters/{id}": {
        get: scoped("events:read", {
          operationId: "getDeadLetter",
          summary: "One dead letter",
          requestParams: { path: deadLetterIdParams },
          responses: { "200": { description: "The dead letter", content: jsonContent(deadLetterResource) }, ...problems("forbidden", "not_found") },
        }),
        delete: scoped("admin", {
          operationId: "deleteDeadLetter",
          summary: "Discard one dead letter",
          requestParams: { path: deadLetterIdParams },
          responses: { "204": { description: "Deleted" }, ...problems("forbidden", "not_found") },
        }),
      },
      "/api/v1/dead-letters/{id}/redrive": {
        post: scoped("admin", {
          operationId: "redriveDeadLetter",
          summary: "Redrive one dead letter",
          description: "Puts the message back into its subscription's input (attempt 1) and removes the dead letter.",
          requestParams: { path: deadLetterIdParams },
          responses: { "202": { description: "Redriven" }, ...problems("forbidden", "not_found") },
        }),
      },
      "/api/v1/replays": {
        get: scoped("admin", {
          operationId: "listReplays",
          summary: "Recent replays, newest first",
          requestParams: { query: listReplaysQuery },
          responses: { "200": { description: "Replays", content: jsonContent(replayList) }, ...problems("bad_request", "forbidden") },
        }),
        post: scoped("admin", {
          operationId: "createReplay",
          summary: "Replay events of the log to one subscription",
          description:
            "Delivers the matching events of the range again to the subscription, in log order, each with its original `id` and the header `ce_replayid` (the replay's id). The subscription processes them even if it processed them before (its inbox dedups per replay). Runs in the background (paced by `ratePerSecond`); follow it with GET /api/v1/replays/{id}. At most 100,000 events per replay. `dryRun` counts and starts nothing (`id: null`, `status: dry_run`).",
          requestParams: { header: publishHeaders.pick({ "idempotency-key": true }) },
          requestBody: { required: true, content: jsonContent(createReplayBody) },
          responses: {
            "202": { description: "Accepted (queued), or counted for a dry run", headers: replayedHeader, content: jsonContent(replayAccepted) },
            ...problems("bad_request", "forbidden", "conflict", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/replays/{id}": {
        get: scoped("admin", {
          operationId: "getReplay",
          summary: "A replay's status and progress",
          requestParams: { path: replayIdParams },
          responses: { "200": { description: "The replay", content: jsonContent(replayResource) }, ...problems("forbidden", "not_found") },
        }),
        delete: scoped("admin", {
          operationId: "cancelReplay",
          summary: "Cancel a queued or running replay",
          description: "The runner stops before its next batch. 409 when the replay already ended.",
          requestParams: { path: replayIdParams },
          responses: { "200": { description: "Cancelled", content: jsonContent(replayResource) }, ...problems("forbidden", "not_found", "conflict") },
        }),
      },
      "/api/v1/tasks": {
        get: scoped("queries:read", {
          operationId: "listTasks",
          summary: "Tasks of the task queue, newest first",
          requestParams: { query: listTasksQuery },
          responses: { "200": { description: "A page of tasks", content: jsonContent(taskPage) }, ...problems("bad_request", "forbidden") },
        }),
        post: scoped("commands:execute", {
          operationId: "submitTask",
          summary: "Submit a task to the priority task queue",
          description:
            "Validates `input` against the type's schema (422 naming each field; an unknown type fails on `type`) and queues the task on the transport with its priority (default: the type's). Workers run high before normal before low; a failed attempt is retried after 1, 2, 5, 10 and 30 s, then the task is dead (dead-lettered). Follow it with GET /api/v1/tasks/{id} or its `task.*` events (subject = the task id).",
          requestParams: { header: publishHeaders },
          requestBody: { required: true, content: jsonContent(submitTaskBody) },
          responses: {
            "202": {
              description: "Queued",
              headers: replayedHeader.extend({ location: z.string().meta({ description: "The task's URL" }) }),
              content: jsonContent(taskAccepted),
            },
            ...problems("bad_request", "forbidden", "conflict", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/tasks/{id}": {
        get: scoped("queries:read", {
          operationId: "getTask",
          summary: "A task's status, attempts, progress and result or error",
          requestParams: { path: taskIdParams },
          responses: { "200": { description: "The task", content: jsonContent(taskResource) }, ...problems("forbidden", "not_found") },
        }),
      },
      "/api/v1/task-types": {
        get: {
          operationId: "listTaskTypes",
          summary: "The task types the queue runs, with their input schemas and task counts",
          description: "Any authenticated caller.",
          responses: { "200": { description: "Task types", content: jsonContent(taskTypeList) }, ...problems() },
        },
      },
      "/api/v1/commands": {
        get: scoped("commands:execute", {
          operationId: "listCommands",
          summary: "The commands, with their input JSON Schemas and scopes",
          responses: { "200": { description: "The command catalog", content: jsonContent(commandCatalog) }, ...problems("forbidden") },
        }),
      },
      "/api/v1/commands/{name}": {
        post: scoped("commands:execute", {
          operationId: "executeCommand",
          summary: "Run a command",
          description:
            "The body is the command's input (its schema is in GET /api/v1/commands). The command is validated (422 naming every failing field), checked against its own scope and policy (403 with the reason), decided against the aggregate's current state (422 naming the business rule it breaks, in `detail` and `rule`) and its events appended with the loaded version as the expected one. With `If-Match`, a stream at another version is a 409 whose `expected` and `actual` members give both versions. Nothing is appended when a command is rejected. The answer's `ETag` is the stream's new version, to send as the next command's If-Match; pass the last event's `position` as a query's `minPosition` to read your write.",
          requestParams: { path: commandNameParams, header: commandHeaders },
          requestBody: { required: true, content: jsonContent(z.unknown().meta({ description: "The command's input." })) },
          responses: {
            "200": {
              description: "Decided and appended (or the first result again, for a repeated Idempotency-Key)",
              headers: replayedHeader.extend({ etag: z.string().meta({ description: 'The stream\'s version after the command, as an ETag ("4")' }) }),
              content: jsonContent(commandResult),
            },
            ...problems("bad_request", "forbidden", "not_found", "conflict", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/queries": {
        get: scoped("queries:read", {
          operationId: "listQueries",
          summary: "The queries, with their parameters' JSON Schemas, scopes and projections",
          responses: { "200": { description: "The query catalog", content: jsonContent(queryCatalog) }, ...problems("forbidden") },
        }),
      },
      "/api/v1/queries/{name}": {
        get: scoped("queries:read", {
          operationId: "runQuery",
          summary: "Ask a query of a read model",
          description:
            "The query string holds the query's parameters (see its schema in GET /api/v1/queries; a parameter it refuses is a 400 naming it) and, optionally, `minPosition`. The answer is the query's result as JSON; `X-Read-Model-Position` tells how far the projection had caught up with the log when it answered.",
          requestParams: { path: queryNameParams, query: queryRequestParams },
          responses: {
            "200": {
              description: "The query's result",
              headers: z.object({ "x-read-model-position": z.string().meta({ description: "The log position the read model had applied when it answered." }) }),
              content: jsonContent(z.unknown().meta({ description: "The query's result." })),
            },
            ...problems("bad_request", "forbidden", "not_found"),
          },
        }),
      },
      "/api/v1/sagas": {
        get: scoped("events:read", {
          operationId: "listSagas",
          summary: "Sagas, orchestrated and choreographed, newest first",
          requestParams: { query: listSagasQuery },
          responses: { "200": { description: "A page of sagas", content: jsonContent(sagaPage) }, ...problems("bad_request", "forbidden") },
        }),
        post: scoped("commands:execute", {
          operationId: "startSaga",
          summary: "Start a saga of an orchestrated type (an addition to the contract)",
          description:
            "Validates `input` against the type's schema (422 naming each field, under `input`; an unknown or choreographed type fails on `type`), stores the saga with every step pending, publishes `saga.started` and hands it to the saga workers. An `id` that exists (or a repeated Idempotency-Key, from which the id is derived per caller) answers 200 with that saga and starts nothing; if it is a saga of another type, 409.",
          requestParams: { header: publishHeaders.pick({ "idempotency-key": true, traceparent: true }) },
          requestBody: { required: true, content: jsonContent(startSagaBody) },
          responses: {
            "201": {
              description: "Started",
              headers: z.object({ location: z.string().meta({ description: "The saga's URL" }) }),
              content: jsonContent(sagaDetail),
            },
            "200": {
              description: "A saga with this id existed: it, unchanged",
              headers: replayedHeader.extend({ location: z.string().meta({ description: "The saga's URL" }) }),
              content: jsonContent(sagaDetail),
            },
            ...problems("bad_request", "forbidden", "conflict", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/sagas/{id}": {
        get: scoped("events:read", {
          operationId: "getSaga",
          summary: "A saga with its steps and compensations",
          description:
            "Steps in definition order and compensations in the order they ran, each with attempts (and every attempt's error), duration and the events its action caused (GET /api/v1/events/{id}).",
          requestParams: { path: sagaIdParams },
          responses: { "200": { description: "The saga", content: jsonContent(sagaDetail) }, ...problems("forbidden", "not_found") },
        }),
      },
      "/api/v1/sagas/{id}/retry": {
        post: scoped("commands:execute", {
          operationId: "retrySaga",
          summary: "Resume a failed saga",
          description: "A `failed` saga (a compensation that kept failing) tries that compensation again, attempts starting over, then the compensations left. 409 when the saga is not failed.",
          requestParams: { path: sagaIdParams },
          responses: { "200": { description: "Resumed: the saga, compensating again", content: jsonContent(sagaDetail) }, ...problems("forbidden", "not_found", "conflict") },
        }),
      },
      "/api/v1/sagas/{id}/cancel": {
        post: scoped("commands:execute", {
          operationId: "cancelSaga",
          summary: "Cancel a saga: compensate what completed",
          description:
            "The body `{reason}` is optional. The saga's worker stops its forward steps, runs the compensations of the completed steps in reverse order and ends the saga `cancelled`. 409 when the saga already ended, or is choreographed (nobody orchestrates it).",
          requestParams: { path: sagaIdParams },
          requestBody: { required: false, content: jsonContent(cancelSagaBody) },
          responses: {
            "202": {
              description: "Cancel accepted: the saga as it is now (follow it with GET /api/v1/sagas/{id})",
              headers: z.object({ location: z.string().meta({ description: "The saga's URL" }) }),
              content: jsonContent(sagaDetail),
            },
            ...problems("bad_request", "forbidden", "not_found", "conflict", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/sagas/{id}/timers": {
        get: scoped("events:read", {
          operationId: "listSagaTimers",
          summary: "A saga's durable timers (an addition to the contract)",
          description: "The timers kept for the saga (its deadline: kind `saga.deadline`), soonest due first, with their status and attempts.",
          requestParams: { path: sagaIdParams },
          responses: { "200": { description: "Timers", content: jsonContent(sagaTimerList) }, ...problems("forbidden", "not_found") },
        }),
      },
      "/api/v1/saga-types": {
        get: {
          operationId: "listSagaTypes",
          summary: "The saga types, orchestrated and choreographed, with steps, input schemas and counts (an addition to the contract)",
          description: "Any authenticated caller.",
          responses: { "200": { description: "Saga types", content: jsonContent(sagaTypeList) }, ...problems() },
        },
      },
      "/api/v1/webhooks/endpoints": {
        get: scoped("webhooks:manage", {
          operationId: "listWebhookEndpoints",
          summary: "Webhook endpoints, newest first, with their health and queue",
          description: "`stats` covers the attempts of the last 24 hours (success rate, last status, p95 latency) and the deliveries waiting now. Secrets are never listed.",
          requestParams: { query: listWebhookEndpointsQuery },
          responses: { "200": { description: "A page of endpoints", content: jsonContent(webhookEndpointPage) }, ...problems("bad_request", "forbidden") },
        }),
        post: scoped("webhooks:manage", {
          operationId: "createWebhookEndpoint",
          summary: "Create a webhook endpoint; the answer holds its signing secret, shown only here",
          description:
            "422 naming the field for an invalid URL, a scheme other than http(s), a host resolving to an address the SSRF rules block (private, loopback, link-local, CGNAT, reserved; unless WEBHOOK_ALLOWED_HOSTS allows it), an event type pattern matching no registered type, an invalid filter expression (with its position) or a forbidden header. Publishes `webhook.endpoint.created`. With an Idempotency-Key, a repeat answers the original response (secret included) with `Idempotent-Replayed: true`; the key reused with other settings is a 409.",
          requestParams: { header: publishHeaders.pick({ "idempotency-key": true }) },
          requestBody: { required: true, content: jsonContent(createWebhookEndpointBody) },
          responses: {
            "201": {
              description: "Created (or the original answer again, for a repeated Idempotency-Key)",
              headers: replayedHeader.extend({ location: z.string().meta({ description: "The endpoint's URL" }) }),
              content: jsonContent(webhookEndpointWithSecret),
            },
            ...problems("bad_request", "forbidden", "conflict", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/webhooks/endpoints/{id}": {
        get: scoped("webhooks:manage", {
          operationId: "getWebhookEndpoint",
          summary: "A webhook endpoint with its health and queue (never its secret)",
          requestParams: { path: webhookIdParams },
          responses: { "200": { description: "The endpoint", content: jsonContent(webhookEndpointWithStats) }, ...problems("forbidden", "not_found") },
        }),
        patch: scoped("webhooks:manage", {
          operationId: "updateWebhookEndpoint",
          summary: "Change a webhook endpoint's settings",
          description:
            "The fields given change, validated as on create (422 naming the field). `disabled: true|false` disables or enables it (as the enable and disable routes do). Publishes `webhook.endpoint.updated` naming the fields changed. 409 when another change to the endpoint raced this one.",
          requestParams: { path: webhookIdParams },
          requestBody: { required: true, content: jsonContent(updateWebhookEndpointBody) },
          responses: {
            "200": { description: "The endpoint as it is now", content: jsonContent(webhookEndpointResource) },
            ...problems("bad_request", "forbidden", "not_found", "conflict", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
        delete: scoped("webhooks:manage", {
          operationId: "deleteWebhookEndpoint",
          summary: "Delete a webhook endpoint with its deliveries and attempts",
          requestParams: { path: webhookIdParams },
          responses: { "204": { description: "Deleted" }, ...problems("forbidden", "not_found") },
        }),
      },
      "/api/v1/webhooks/endpoints/{id}/enable": {
        post: scoped("webhooks:manage", {
          operationId: "enableWebhookEndpoint",
          summary: "Enable a webhook endpoint (an addition to the contract)",
          description:
            "Deliveries resume, and those skipped while it was disabled are caught up in the background (500 at a time, resumable after a restart). Publishes `webhook.endpoint.enabled`.",
          requestParams: { path: webhookIdParams },
          responses: { "200": { description: "The endpoint, enabled", content: jsonContent(webhookEndpointResource) }, ...problems("forbidden", "not_found", "conflict") },
        }),
      },
      "/api/v1/webhooks/endpoints/{id}/disable": {
        post: scoped("webhooks:manage", {
          operationId: "disableWebhookEndpoint",
          summary: "Disable a webhook endpoint (an addition to the contract)",
          description: "No attempts are made while it is disabled; new events are kept as `skipped` deliveries and caught up after enabling. Publishes `webhook.endpoint.disabled` (reason `manual`).",
          requestParams: { path: webhookIdParams },
          responses: { "200": { description: "The endpoint, disabled", content: jsonContent(webhookEndpointResource) }, ...problems("forbidden", "not_found", "conflict") },
        }),
      },
      "/api/v1/webhooks/endpoints/{id}/rotate-secret": {
        post: scoped("webhooks:manage", {
          operationId: "rotateWebhookSecret",
          summary: "Rotate a webhook endpoint's signing secret; the answer holds the new one, shown only here",
          description:
            "The new secret signs from now on; the old one keeps signing beside it (a second signature in `webhook-signature`) for `graceSeconds` (default 24 h), so receivers can switch without losing a delivery. The body is optional. Publishes `webhook.endpoint.secret_rotated`.",
          requestParams: { path: webhookIdParams },
          requestBody: { required: false, content: jsonContent(rotateWebhookSecretBody) },
          responses: {
            "200": { description: "The endpoint and its new secret", content: jsonContent(webhookEndpointWithSecret) },
            ...problems("bad_request", "forbidden", "not_found", "conflict", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/webhooks/endpoints/{id}/test": {
        post: scoped("webhooks:manage", {
          operationId: "testWebhookEndpoint",
          summary: "Send one signed test delivery now",
          description:
            "Sends an event of `type` (default `webhook.test`) with `data` (default a message) and a fresh `webhook-id`, signed like every delivery, and answers with the attempt, whether the receiver accepted it or not (see `status`, `response`, `error`). The test event is not stored in the log.",
          requestParams: { path: webhookIdParams },
          requestBody: { required: false, content: jsonContent(testWebhookBody) },
          responses: {
            "200": { description: "The attempt", content: jsonContent(webhookAttemptResource) },
            ...problems("bad_request", "forbidden", "not_found", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/webhooks/endpoints/{id}/attempts": {
        get: scoped("webhooks:manage", {
          operationId: "listWebhookAttempts",
          summary: "A webhook endpoint's attempts, newest first",
          description: "Every request made to the endpoint with the answer's status and the start of its body (GET /api/v1/webhooks/attempts/{id} has the full request and response). Attempts older than WEBHOOK_ATTEMPT_RETENTION_DAYS are deleted.",
          requestParams: { path: webhookIdParams, query: listWebhookAttemptsQuery },
          responses: { "200": { description: "A page of attempts", content: jsonContent(webhookAttemptPage) }, ...problems("bad_request", "forbidden", "not_found") },
        }),
      },
      "/api/v1/webhooks/endpoints/{id}/recover": {
        post: scoped("webhooks:manage", {
          operationId: "recoverWebhookEndpoint",
          summary: "Send again the deliveries that failed since a time",
          description: "Deliveries of events since `since` that ran out of attempts are made due now (at most 10,000) and sent in the background; each makes a new attempt with trigger `recover`.",
          requestParams: { path: webhookIdParams },
          requestBody: { required: true, content: jsonContent(recoverWebhookBody) },
          responses: {
            "202": { description: "Made due again", content: jsonContent(recoverAccepted) },
            ...problems("bad_request", "forbidden", "not_found", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/webhooks/attempts/{id}": {
        get: scoped("webhooks:manage", {
          operationId: "getWebhookAttempt",
          summary: "One attempt with its full request and response (an addition to the contract)",
          description: "The request's URL, headers and body; the response's status, headers and body (up to 64 KiB), its duration and error.",
          requestParams: { path: webhookAttemptIdParams },
          responses: { "200": { description: "The attempt", content: jsonContent(webhookAttemptResource) }, ...problems("forbidden", "not_found") },
        }),
      },
      "/api/v1/webhooks/attempts/{id}/resend": {
        post: scoped("webhooks:manage", {
          operationId: "resendWebhookAttempt",
          summary: "Send the attempt's delivery again",
          description: "The delivery is made due now and sent in the background as a new attempt (trigger `manual`), whatever its status.",
          requestParams: { path: webhookAttemptIdParams },
          responses: { "202": { description: "Due again", content: jsonContent(resendAccepted) }, ...problems("forbidden", "not_found") },
        }),
      },
      "/api/v1/webhooks/filter-preview": {
        post: scoped("webhooks:manage", {
          operationId: "previewWebhookFilter",
          summary: "Try a filter expression against recent events (an addition to the contract)",
          description:
            "Compiles the CEL expression and evaluates it on the most recent events of the types (default 100): which would be delivered. An expression that does not compile is answered with `error` (naming the position), not a 422: the form shows it as it is typed.",
          requestBody: { required: true, content: jsonContent(filterPreviewBody) },
          responses: {
            "200": { description: "The preview", content: jsonContent(filterPreviewResult) },
            ...problems("bad_request", "forbidden", "payload_too_large", "unsupported_media_type", "validation"),
          },
        }),
      },
      "/api/v1/openapi.json": {
        get: {
          operationId: "getOpenApi",
          summary: "This document",
          description: "Any authenticated caller (only /api/health is public).",
          responses: {
            "200": { description: "OpenAPI 3.1", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } },
            ...problems(),
          },
        },
      },
    },
  });
}

let cached: ReturnType<typeof buildOpenApiDocument> | undefined;

/** `GET /api/v1/openapi.json`: the document is the same for every caller, so it is built once. */
export async function serveOpenApiDocument(): Promise<Response> {
  cached ??= buildOpenApiDocument();
  return json(cached);
}
