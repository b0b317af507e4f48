import { z } from "zod";
import { NotFoundError } from "@/server/engine/core/errors";
import { createEndpointSchema, updateEndpointSchema } from "@/server/engine/webhooks/endpoint-input";
import type { WebhookOperations } from "@/server/engine/webhooks/ports";
import type { WebhookAttempt, WebhookEndpoint, WebhookEndpointStats } from "@/server/engine/webhooks/webhook-store";
import type { Container } from "@/server/runtime/container";
import { createTRPCRouter, scoped } from "../init";

/**
 * The dashboard's Webhooks page over WebhookOperations (the same service as REST v1): endpoints
 * with their health, the create/edit form's event types and filter preview, the attempts log and
 * the operator's actions. Everything needs `webhooks:manage` (operators and admins), as the REST
 * routes do.
 *
 * Signing secrets never leave the server except in the answer to create and rotate: endpoints go
 * out as {@link EndpointView}, which keeps only when each secret was made and when it expires.
 */

const manage = scoped("webhooks:manage");
/** The management port (what REST uses too), not the service class behind it. */
const operations = (ctx: { container: Container }): WebhookOperations => ctx.container.webhooks.service;
const endpointId = z.uuid();
const byEndpoint = z.object({ id: endpointId });
const attemptStatuses = ["succeeded", "failed"] as const;

/** An endpoint as the browser sees it: everything but the secrets' values. */
export type EndpointView = Omit<WebhookEndpoint, "secrets"> & { secrets: Array<{ createdAt: string; expiresAt: string | null }> };

function viewOf(endpoint: WebhookEndpoint): EndpointView {
  const { secrets, ...rest } = endpoint;
  return { ...rest, secrets: secrets.map((secret) => ({ createdAt: secret.createdAt, expiresAt: secret.expiresAt })) };
}

function viewWithStats(endpoint: WebhookEndpoint & { stats: WebhookEndpointStats }): EndpointView & { stats: WebhookEndpointStats } {
  return { ...viewOf(endpoint), stats: endpoint.stats };
}

/** A row of the attempts log: the attempt without the request and response bodies (the viewer loads those). */
function attemptSummary(attempt: WebhookAttempt) {
  const { request, response, ...rest } = attempt;
  return { ...rest, requestUrl: request.url, responseStatus: response?.status ?? null };
}

export const webhooksRouter = createTRPCRouter({
  /** Newest first, each with its health over the last 24 hours and its queue. */
  list: manage
    .input(z.object({ cursor: z.string().min(1).max(1_000).optional(), limit: z.number().int().min(1).max(200).default(50) }))
    .query(async ({ ctx, input }) => {
      const page = await operations(ctx).listEndpoints(input);
      return { items: page.items.map(viewWithStats), next: page.next };
    }),

  get: manage.input(byEndpoint).query(async ({ ctx, input }) => viewWithStats(await operations(ctx).getEndpoint(input.id))),

  /** The answer is the only time the secret is shown. */
  create: manage.input(createEndpointSchema).mutation(async ({ ctx, input }) => {
    const created = await operations(ctx).createEndpoint(input, ctx.principal);
    return { endpoint: viewOf(created.endpoint), secret: created.secret };
  }),

  update: manage
    .input(z.object({ id: endpointId, changes: updateEndpointSchema }))
    .mutation(async ({ ctx, input }) => viewOf(await operations(ctx).updateEndpoint(input.id, input.changes, ctx.principal))),

  delete: manage.input(byEndpoint).mutation(async ({ ctx, input }) => {
    await operations(ctx).deleteEndpoint(input.id, ctx.principal);
    return { deleted: input.id };
  }),

  /** Enabling catches up what was skipped while the endpoint was off. */
  setEnabled: manage
    .input(z.object({ id: endpointId, enabled: z.boolean() }))
    .mutation(async ({ ctx, input }) => viewOf(await operations(ctx).setEnabled(input.id, input.enabled, ctx.principal))),

  /** A new secret, shown once; the old one keeps signing during its grace period. */
  rotateSecret: manage.input(byEndpoint).mutation(async ({ ctx, input }) => {
    const rotated = await operations(ctx).rotateSecret(input.id, ctx.principal);
    return { endpoint: viewOf(rotated.endpoint), secret: rotated.secret };
  }),

  /** One signed delivery now; the answer is its attempt, response included. */
  sendTest: manage
    .input(z.object({ id: endpointId, type: z.string().trim().min(1).max(200).optional(), data: z.unknown().optional() }))
    .mutation(({ ctx, input }) =>
      operations(ctx).sendTest(
        input.id,
        { ...(input.type === undefined ? {} : { type: input.type }), ...(input.data === undefined ? {} : { data: input.data }) },
        ctx.principal,
      ),
    ),

  /** The attempts log of one endpoint, newest first, paged by cursor. */
  attempts: manage
    .input(
      z.object({
        endpointId,
        status: z.enum(attemptStatuses).optional(),
        cursor: z.string().min(1).max(1_000).optional(),
        limit: z.number().int().min(1).max(200).default(25),
      }),
    )
    .query(async ({ ctx, input }) => {
      const page = await operations(ctx).listAttempts(input);
      return { items: page.items.map(attemptSummary), next: page.next };
    }),

  /** One attempt with its request and response, for the viewer. */
  attempt: manage.input(z.object({ id: z.uuid() })).query(async ({ ctx, input }) => {
    const attempt = await operations(ctx).getAttempt(input.id);
    if (!attempt) throw new NotFoundError(`No webhook attempt with id ${input.id}`);
    return attempt;
  }),

  /** The attempt's delivery is sent again now (a new attempt, trigger `manual`). */
  resend: manage.input(z.object({ attemptId: z.uuid() })).mutation(({ ctx, input }) => operations(ctx).resend(input.attemptId, ctx.principal)),

  /** Failed deliveries since `since` are sent again. */
  recover: manage
    .input(z.object({ id: endpointId, since: z.iso.datetime({ offset: true }) }))
    .mutation(({ ctx, input }) => operations(ctx).recover(input.id, input.since, ctx.principal)),

  /** How recent events of the types fare against a filter (the form's live preview). */
  previewFilter: manage
    .input(z.object({ filter: z.string().max(2_000), eventTypes: z.array(z.string().trim().min(1).max(200)).max(50), limit: z.number().int().min(1).max(500).optional() }))
    .query(({ ctx, input }) => operations(ctx).previewFilter(input)),

  /** The registry's types for the event-type picker (name and description). */
  eventTypes: manage.query(({ ctx }) =>
    [...ctx.container.registry.list()].map((type) => ({ type: type.type, description: type.description })).sort((a, b) => a.type.localeCompare(b.type)),
  ),
});
