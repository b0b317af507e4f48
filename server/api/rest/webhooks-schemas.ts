import { z } from "zod";
import "zod-openapi";
import { createEndpointSchema, updateEndpointSchema } from "@/server/engine/webhooks/endpoint-input";
import { pageLimit } from "./list-params";

/**
 * The zod schemas of REST v1's webhooks: endpoints (create, list, get, update, delete, enable,
 * disable, rotate the secret, send a test), their attempts, resend, recover and the filter
 * preview. The endpoint bodies are the engine's own input schemas (the dashboard validates with
 * the same ones); like schemas.ts, these validate the requests and generate the OpenAPI document.
 */

const time = z.string().meta({ description: "RFC 3339 UTC", format: "date-time" });
const uuid = (description: string) => z.string().meta({ description, format: "uuid" });

// ---------------------------------------------------------------------------------------------
// Requests

export const webhookIdParams = z.object({ id: uuid("The endpoint's id.") });
export const webhookAttemptIdParams = z.object({ id: uuid("The attempt's id.") });

export const createWebhookEndpointBody = createEndpointSchema.meta({
  id: "CreateWebhookEndpoint",
  description:
    "An endpoint to deliver events to. The URL's host is resolved and every address must be allowed by the SSRF rules (or WEBHOOK_ALLOWED_HOSTS); each event type pattern must match a registered type (`*` matches all); the filter is a CEL expression over the event resource.",
});

export const updateWebhookEndpointBody = updateEndpointSchema.meta({
  id: "UpdateWebhookEndpoint",
  description: "The fields to change; the others keep their values. `filter: null` removes the filter, `rateLimitPerSecond: null` the limit.",
});

export const rotateWebhookSecretBody = z
  .strictObject({
    graceSeconds: z
      .int("must be a whole number of seconds")
      .min(0, "must be 0 (the old secret stops signing at once) or more")
      .max(604_800, "must be at most 604800 (7 days)")
      .optional()
      .meta({ description: "How long the old secret keeps signing beside the new one; default 86400 (24 h). 0 retires it at once (a leaked secret)." }),
  })
  .meta({ id: "RotateWebhookSecret" });

export const testWebhookBody = z
  .strictObject({
    type: z.string().min(1).max(200).optional().meta({ description: "The event type the test delivery carries; default `webhook.test`." }),
    data: z.unknown().optional().meta({ description: "The test event's data; default a message naming the endpoint." }),
  })
  .meta({ id: "TestWebhook" });

export const recoverWebhookBody = z
  .strictObject({
    since: z.iso.datetime({ offset: true, error: "must be an RFC 3339 date-time" }).meta({ description: "Failed deliveries of events since then are sent again (at most 10,000)." }),
  })
  .meta({ id: "RecoverWebhookDeliveries" });

export const filterPreviewBody = z
  .strictObject({
    filter: z.string().max(2000, "must be at most 2000 characters").meta({ description: "The CEL expression to try, e.g. `data.score >= 50`." }),
    eventTypes: z.array(z.string().min(1).max(200)).min(1, "must name at least one type pattern").max(50).meta({ description: "Type patterns whose recent events are tried." }),
    limit: z.int().min(1).max(500).optional().meta({ description: "How many recent events to try; default 100." }),
  })
  .meta({ id: "WebhookFilterPreviewRequest" });

export const webhookAttemptStatuses = ["succeeded", "failed"] as const;

export const listWebhookEndpointsQuery = z.strictObject({
  cursor: z.string().min(1).max(1000).optional().meta({ description: "The `next` of the previous page." }),
  limit: pageLimit(),
});

export const listWebhookAttemptsQuery = z.strictObject({
  status: z.enum(webhookAttemptStatuses).optional().meta({ description: "Only succeeded, or only failed, attempts." }),
  cursor: z.string().min(1).max(1000).optional().meta({ description: "The `next` of the previous page." }),
  limit: pageLimit(),
});

// ---------------------------------------------------------------------------------------------
// Responses

const endpointStats = z
  .object({
    successRate: z.number().min(0).max(1).nullable().meta({ description: "Succeeded attempts / all attempts over the last 24 hours; null without attempts." }),
    attempts: z.int().min(0).meta({ description: "Attempts over the last 24 hours." }),
    lastStatus: z.int().nullable().meta({ description: "The HTTP status of the last attempt (null: none, or no answer)." }),
    lastAttemptAt: time.nullable(),
    p95LatencyMs: z.number().min(0).nullable(),
    pending: z.int().min(0).meta({ description: "Deliveries waiting: the endpoint's queue depth." }),
    skipped: z.int().min(0).meta({ description: "Deliveries kept while the endpoint was disabled (caught up after enabling)." }),
    failed: z.int().min(0).meta({ description: "Deliveries that ran out of attempts (see recover)." }),
  })
  .meta({ id: "WebhookEndpointStats" });

const endpointFields = {
  id: uuid("The endpoint's id."),
  url: z.string().meta({ format: "uri" }),
  description: z.string(),
  eventTypes: z.array(z.string()).meta({ description: "Type patterns (`exam.*`, `grading.completed`, `*`)." }),
  filter: z.string().nullable().meta({ description: "A CEL expression over the event resource, or null for every event of the types." }),
  headers: z.record(z.string(), z.string()).meta({ description: "Sent with every delivery." }),
  rateLimitPerSecond: z.int().nullable().meta({ description: "Deliveries per second at most (per process), or null." }),
  orderedByKey: z.boolean().meta({ description: "Later events of a `partitionkey` wait for the earlier one to be delivered (or fail for good)." }),
  status: z.enum(["enabled", "disabled"]),
  disabledReason: z
    .enum(["manual", "gone", "failing"])
    .nullable()
    .meta({ description: "manual: by an operator; gone: the receiver answered 410; failing: failed continuously for WEBHOOK_AUTO_DISABLE_AFTER_MS." }),
  disabledAt: time.nullable(),
  failingSince: time.nullable().meta({ description: "When the current run of failures began; null after any success." }),
  secrets: z
    .array(z.object({ createdAt: time, expiresAt: time.nullable() }))
    .meta({ description: "When each signing secret was made and, for a rotated-out one still signing, when it stops. Never the secrets themselves: those are shown once, on create and rotate." }),
  createdBy: z.string(),
  createdAt: time,
  updatedAt: time,
  version: z.int().min(0).meta({ description: "Incremented by every change." }),
};

export const webhookEndpointResource = z.object(endpointFields).meta({ id: "WebhookEndpoint", description: "A webhook endpoint (without its secret)." });
export type WebhookEndpointResource = z.infer<typeof webhookEndpointResource>;

export const webhookEndpointWithStats = webhookEndpointResource
  .extend({ stats: endpointStats })
  .meta({ id: "WebhookEndpointWithStats", description: "A webhook endpoint with its health and queue." });
export type WebhookEndpointWithStatsResource = z.infer<typeof webhookEndpointWithStats>;

export const webhookEndpointWithSecret = webhookEndpointResource
  .extend({
    secret: z.string().meta({ description: "`whsec_` + base64 of random bytes: the signing secret, shown only in this answer.", example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
  })
  .meta({ id: "WebhookEndpointWithSecret", description: "The endpoint and its new signing secret (shown only now)." });
export type WebhookEndpointWithSecretResource = z.infer<typeof webhookEndpointWithSecret>;

export const webhookEndpointPage = z
  .object({
    items: z.array(webhookEndpointWithStats).meta({ description: "Newest first." }),
    next: z.string().nullable().meta({ description: "Cursor for the next page (pass as `cursor`), or null on the last page." }),
  })
  .meta({ id: "WebhookEndpointPage" });

const attemptFields = {
  id: uuid("The attempt's id."),
  deliveryId: uuid("The delivery (one per endpoint and event) the attempt belongs to."),
  endpointId: uuid("The endpoint."),
  eventId: z.string().meta({ description: "The event delivered: the `webhook-id` header." }),
  eventType: z.string(),
  attempt: z.int().min(1).meta({ description: "1-based, per delivery." }),
  status: z.enum(webhookAttemptStatuses),
  trigger: z.enum(["scheduled", "manual", "recover", "test"]).meta({ description: "scheduled (first attempt and retries), manual (resend), recover, test." }),
  responseStatus: z.int().nullable().meta({ description: "The receiver's HTTP status; null when no answer came (timeout, refused, reset, blocked address)." }),
  durationMs: z.number().min(0),
  error: z.string().nullable().meta({ description: "Why it failed: `timeout`, `HTTP 503`, `redirect (3xx) not followed`, `blocked address 10.0.0.1`..." }),
  nextAttemptAt: time.nullable().meta({ description: "When the delivery is tried again; null when it succeeded or ran out of attempts." }),
  createdAt: time,
};

/** How much of a response body an attempt list shows; the attempt itself has all that was kept (64 KiB). */
export const ATTEMPT_LIST_BODY_CHARS = 1024;

export const webhookAttemptSummary = z
  .object({
    ...attemptFields,
    responseBody: z.string().nullable().meta({ description: `The first ${ATTEMPT_LIST_BODY_CHARS} characters of the response body (GET /api/v1/webhooks/attempts/{id} has up to 64 KiB).` }),
    responseBodyTruncated: z.boolean().meta({ description: "Whether the body is longer than shown here." }),
  })
  .meta({ id: "WebhookAttemptSummary", description: "An attempt as the attempts log lists it." });
export type WebhookAttemptSummaryResource = z.infer<typeof webhookAttemptSummary>;

export const webhookAttemptPage = z
  .object({
    items: z.array(webhookAttemptSummary).meta({ description: "Newest first." }),
    next: z.string().nullable().meta({ description: "Cursor for the next page (pass as `cursor`), or null on the last page." }),
  })
  .meta({ id: "WebhookAttemptPage" });

const headerMap = z.record(z.string(), z.string());

export const webhookAttemptResource = z
  .object({
    ...attemptFields,
    request: z
      .object({ url: z.string(), headers: headerMap, body: z.string() })
      .meta({ description: "What was sent: the URL, the headers (webhook-id, webhook-timestamp, webhook-signature, the endpoint's own) and the body." }),
    response: z
      .object({ status: z.int(), headers: headerMap, body: z.string(), truncated: z.boolean().meta({ description: "The body was cut at 64 KiB." }) })
      .nullable()
      .meta({ description: "What came back; null when no answer came." }),
  })
  .meta({ id: "WebhookAttempt", description: "One attempt with its full request and response." });
export type WebhookAttemptResource = z.infer<typeof webhookAttemptResource>;

export const resendAccepted = z.object({ deliveryId: uuid("The delivery made due again.") }).meta({ id: "WebhookResendAccepted" });
export const recoverAccepted = z.object({ recovered: z.int().min(0).meta({ description: "Deliveries made due again." }) }).meta({ id: "WebhookRecoverAccepted" });

export const filterPreviewResult = z
  .object({
    error: z.string().nullable().meta({ description: "Why the expression does not compile (with the position), or null." }),
    matched: z.array(z.object({ id: z.string(), type: z.string(), time })).meta({ description: "The recent events the filter lets through." }),
    examined: z.int().min(0).meta({ description: "Recent events of the types that were tried." }),
  })
  .meta({ id: "WebhookFilterPreview" });
