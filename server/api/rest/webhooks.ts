import { v5 as uuidv5 } from "uuid";
import { isEngineError } from "@/server/engine/core/errors";
import { isUuid } from "@/server/engine/core/ids";
import type { CreateEndpointInput, EndpointWithSecret } from "@/server/engine/webhooks/ports";
import type { Page, WebhookAttempt, WebhookEndpoint, WebhookEndpointStats } from "@/server/engine/webhooks/webhook-store";
import { WebhookEndpointConflictError } from "@/server/engine/webhooks/webhook-store";
import { canonicalJson } from "@/server/engine/core/canonical-json";
import { badQuery } from "./http";
import { IDEMPOTENT_REPLAYED_HEADER, idempotencyKeyOf } from "./idempotency";
import { HttpProblem, problemResponse } from "./problem";
import { json, type RestContext } from "./route";
import {
  ATTEMPT_LIST_BODY_CHARS,
  createWebhookEndpointBody,
  filterPreviewBody,
  listWebhookAttemptsQuery,
  listWebhookEndpointsQuery,
  recoverWebhookBody,
  rotateWebhookSecretBody,
  testWebhookBody,
  updateWebhookEndpointBody,
  type WebhookAttemptResource,
  type WebhookAttemptSummaryResource,
  type WebhookEndpointResource,
  type WebhookEndpointWithSecretResource,
  type WebhookEndpointWithStatsResource,
} from "./webhooks-schemas";

/**
 * REST v1 webhooks: endpoints (create, list, get, update, delete, enable, disable, rotate the
 * secret, send a test), the attempts log, resend, recover and the filter preview. WebhookService
 * does the work (validation of URLs, event types and filters included: its ValidationErrors name
 * the field); this file turns HTTP into its calls and its records into resources, and makes sure
 * a secret leaves only in the answers to create and rotate.
 */

const JSON_TYPE = ["application/json"] as const;

/** Namespace of endpoint ids derived from a caller's Idempotency-Key: the same key creates one endpoint. */
const IDEMPOTENT_ENDPOINT_NAMESPACE = "8d7c2f4e-3b1a-4e5f-9c6d-2a8b7e1f0c93";

const endpointLocation = (id: string) => `/api/v1/webhooks/endpoints/${id}`;

export function toEndpointResource(endpoint: WebhookEndpoint): WebhookEndpointResource {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    eventTypes: endpoint.eventTypes,
    filter: endpoint.filter,
    headers: endpoint.headers,
    rateLimitPerSecond: endpoint.rateLimitPerSecond,
    orderedByKey: endpoint.orderedByKey,
    status: endpoint.status,
    disabledReason: endpoint.disabledReason,
    disabledAt: endpoint.disabledAt,
    failingSince: endpoint.failingSince,
    // When, never what: the secrets themselves leave only through withSecret.
    secrets: endpoint.secrets.map((secret) => ({ createdAt: secret.createdAt, expiresAt: secret.expiresAt })),
    createdBy: endpoint.createdBy,
    createdAt: endpoint.createdAt,
    updatedAt: endpoint.updatedAt,
    version: endpoint.version,
  };
}

function withStats(endpoint: WebhookEndpoint & { stats: WebhookEndpointStats }): WebhookEndpointWithStatsResource {
  const { endpointId: _endpointId, ...stats } = endpoint.stats;
  return { ...toEndpointResource(endpoint), stats };
}

function withSecret({ endpoint, secret }: EndpointWithSecret): WebhookEndpointWithSecretResource {
  return { ...toEndpointResource(endpoint), secret };
}

function toAttemptSummary(attempt: WebhookAttempt): WebhookAttemptSummaryResource {
  const body = attempt.response?.body ?? null;
  return {
    id: attempt.id,
    deliveryId: attempt.deliveryId,
    endpointId: attempt.endpointId,
    eventId: attempt.eventId,
    eventType: attempt.eventType,
    attempt: attempt.attempt,
    status: attempt.status,
    trigger: attempt.trigger,
    responseStatus: attempt.response?.status ?? null,
    durationMs: attempt.durationMs,
    error: attempt.error,
    nextAttemptAt: attempt.nextAttemptAt,
    createdAt: attempt.createdAt,
    responseBody: body === null ? null : body.slice(0, ATTEMPT_LIST_BODY_CHARS),
    responseBodyTruncated: (body !== null && body.length > ATTEMPT_LIST_BODY_CHARS) || (attempt.response?.truncated ?? false),
  };
}

export function toAttemptResource(attempt: WebhookAttempt): WebhookAttemptResource {
  const { responseBody: _body, responseBodyTruncated: _truncated, ...summary } = toAttemptSummary(attempt);
  return { ...summary, request: attempt.request, response: attempt.response };
}

/** Ids are UUIDs: anything else names nothing and is not worth a database round trip. */
function endpointNotFound(id: string): Response {
  return problemResponse("not_found", `No webhook endpoint with id ${id}`);
}

/**
 * A cursor the store did not hand out is a bad query parameter (400), like any other; the store's
 * ValidationError names it.
 */
async function listed<T>(read: () => Promise<Page<T>>): Promise<Page<T>> {
  try {
    return await read();
  } catch (error) {
    if (isEngineError(error) && error.code === "validation") throw badQuery(error.issues.length > 0 ? error.issues : [{ path: "cursor", message: "must be the `next` of a previous page" }]);
    throw error;
  }
}

/** A write that raced another: the store's own error, as the 409 the contract names. */
async function unlessConflict<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof WebhookEndpointConflictError) throw new HttpProblem("conflict", error.message);
    throw error;
  }
}

/** A body is optional for some actions: none (or an empty one) means all defaults. */
async function optionalBody(context: RestContext<unknown>): Promise<unknown> {
  const { request } = context;
  if (request.body === null || request.headers.get("content-length") === "0") return {};
  return (await context.readJson(JSON_TYPE)).value;
}

// ---------------------------------------------------------------------------------------------
// Endpoints

/** What the create body says, as the stored endpoint holds it (defaults filled in), to tell a replay from another request. */
function sameSettings(endpoint: WebhookEndpoint, input: CreateEndpointInput): boolean {
  const settings = (from: Omit<CreateEndpointInput, "id" | "disabled">) =>
    canonicalJson({
      url: from.url,
      eventTypes: from.eventTypes,
      description: from.description ?? "",
      filter: from.filter ?? null,
      headers: from.headers ?? {},
      rateLimitPerSecond: from.rateLimitPerSecond ?? null,
      orderedByKey: from.orderedByKey ?? false,
    });
  return settings(endpoint) === settings(input);
}

/**
 * `POST /api/v1/webhooks/endpoints`: 201 with the endpoint, its secret (the only time it is shown
 * besides rotation) and its Location. With an Idempotency-Key the endpoint's id is derived from
 * the caller and the key: repeating the request answers the original response again (the secret
 * included: a client that lost the first answer would otherwise have to rotate), with
 * `Idempotent-Replayed: true`; the key reused with other settings is a 409.
 */
export async function createWebhookEndpoint(context: RestContext<unknown>): Promise<Response> {
  const body = context.body(createWebhookEndpointBody, (await context.readJson(JSON_TYPE)).value);
  const { service } = context.container.webhooks;
  const key = idempotencyKeyOf(context.request);
  const input: CreateEndpointInput = key === undefined ? body : { ...body, id: uuidv5(`${context.principal.id}:${key}`, IDEMPOTENT_ENDPOINT_NAMESPACE) };

  if (input.id !== undefined) {
    const existing = await service.getEndpoint(input.id).catch((error: unknown) => {
      if (isEngineError(error) && error.code === "not_found") return undefined;
      throw error;
    });
    if (existing) {
      if (!sameSettings(existing, input)) {
        return problemResponse("conflict", `This Idempotency-Key created webhook endpoint ${existing.id}, whose settings differ from this request's`);
      }
      const current = existing.secrets[0];
      if (!current) throw new Error(`webhook endpoint ${existing.id} has no signing secret`);
      return json(withSecret({ endpoint: existing, secret: current.secret }), 201, { location: endpointLocation(existing.id), [IDEMPOTENT_REPLAYED_HEADER]: "true" });
    }
  }

  const created = await service.createEndpoint(input, context.principal);
  return json(withSecret(created), 201, { location: endpointLocation(created.endpoint.id) });
}

/** `GET /api/v1/webhooks/endpoints`: newest first, each with its health and queue. */
export async function listWebhookEndpoints(context: RestContext<unknown>): Promise<Response> {
  const query = context.query(listWebhookEndpointsQuery);
  const page = await listed(() =>
    context.container.webhooks.service.listEndpoints({ limit: query.limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) }),
  );
  return json({ items: page.items.map(withStats), next: page.next });
}

export async function getWebhookEndpoint(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  if (!isUuid(id)) return endpointNotFound(id);
  return json(withStats(await context.container.webhooks.service.getEndpoint(id)));
}

/** `PATCH /api/v1/webhooks/endpoints/{id}`: changes the fields given (`disabled` included); 409 when another change raced it. */
export async function updateWebhookEndpoint(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  if (!isUuid(id)) return endpointNotFound(id);
  const body = context.body(updateWebhookEndpointBody, (await context.readJson(JSON_TYPE)).value);
  const endpoint = await unlessConflict(() => context.container.webhooks.service.updateEndpoint(id, body, context.principal));
  return json(toEndpointResource(endpoint));
}

/** `DELETE /api/v1/webhooks/endpoints/{id}`: the endpoint with its deliveries and attempts. */
export async function deleteWebhookEndpoint(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  if (!isUuid(id)) return endpointNotFound(id);
  await context.container.webhooks.service.deleteEndpoint(id, context.principal);
  return new Response(null, { status: 204, headers: { "cache-control": "no-store" } });
}

/** `POST .../{id}/enable` and `.../{id}/disable`: enabling catches up what was skipped meanwhile. */
export function setWebhookEndpointEnabled(enabled: boolean) {
  return async (context: RestContext<{ id: string }>): Promise<Response> => {
    const { id } = context.params;
    if (!isUuid(id)) return endpointNotFound(id);
    const endpoint = await unlessConflict(() => context.container.webhooks.service.setEnabled(id, enabled, context.principal));
    return json(toEndpointResource(endpoint));
  };
}

const SECOND_MS = 1000;

/** `POST .../{id}/rotate-secret` `{graceSeconds?}`: the new secret, shown only now; the old one keeps signing for the grace period. */
export async function rotateWebhookSecret(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  if (!isUuid(id)) return endpointNotFound(id);
  const body = context.body(rotateWebhookSecretBody, await optionalBody(context));
  const rotated = await unlessConflict(() =>
    context.container.webhooks.service.rotateSecret(id, context.principal, body.graceSeconds === undefined ? undefined : body.graceSeconds * SECOND_MS),
  );
  return json(withSecret(rotated));
}

/** `POST .../{id}/test` `{type?, data?}`: one signed delivery now; the answer is its attempt (failed or not). */
export async function testWebhookEndpoint(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  if (!isUuid(id)) return endpointNotFound(id);
  const body = context.body(testWebhookBody, await optionalBody(context));
  const attempt = await context.container.webhooks.service.sendTest(
    id,
    { ...(body.type === undefined ? {} : { type: body.type }), ...(body.data === undefined ? {} : { data: body.data }) },
    context.principal,
  );
  return json(toAttemptResource(attempt));
}

/** `POST .../{id}/recover` `{since}`: 202 with how many failed deliveries were made due again. */
export async function recoverWebhookEndpoint(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  if (!isUuid(id)) return endpointNotFound(id);
  const body = context.body(recoverWebhookBody, (await context.readJson(JSON_TYPE)).value);
  const { recovered } = await context.container.webhooks.service.recover(id, new Date(body.since).toISOString(), context.principal);
  return json({ recovered }, 202);
}

// ---------------------------------------------------------------------------------------------
// Attempts

/** `GET .../{id}/attempts?status=&limit=&cursor=`: newest first, response bodies shortened (the attempt has them whole). */
export async function listWebhookAttempts(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  const query = context.query(listWebhookAttemptsQuery);
  if (!isUuid(id)) return endpointNotFound(id);
  const { service } = context.container.webhooks;
  // An unknown endpoint is a 404, not an empty list.
  await service.getEndpoint(id);
  const page = await listed(() =>
    service.listAttempts({
      endpointId: id,
      limit: query.limit,
      ...(query.status === undefined ? {} : { status: query.status }),
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
    }),
  );
  return json({ items: page.items.map(toAttemptSummary), next: page.next });
}

/** `GET /api/v1/webhooks/attempts/{id}`: the attempt with its request and response. */
export async function getWebhookAttempt(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  const attempt = isUuid(id) ? await context.container.webhooks.service.getAttempt(id) : undefined;
  return attempt ? json(toAttemptResource(attempt)) : problemResponse("not_found", `No webhook attempt with id ${id}`);
}

/** `POST /api/v1/webhooks/attempts/{id}/resend`: 202; the attempt's delivery is due again now (a new attempt, trigger `manual`). */
export async function resendWebhookAttempt(context: RestContext<{ id: string }>): Promise<Response> {
  const { id } = context.params;
  if (!isUuid(id)) return problemResponse("not_found", `No webhook attempt with id ${id}`);
  return json(await context.container.webhooks.service.resend(id, context.principal), 202);
}

/** `POST /api/v1/webhooks/filter-preview`: how a filter fares against recent events of the types (a compile error is an answer, not a 422). */
export async function previewWebhookFilter(context: RestContext<unknown>): Promise<Response> {
  const body = context.body(filterPreviewBody, (await context.readJson(JSON_TYPE)).value);
  return json(await context.container.webhooks.service.previewFilter(body));
}
