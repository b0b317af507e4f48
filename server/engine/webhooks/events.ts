import { z } from "zod";
import type { EventTypeRegistry } from "../core/registry";

/**
 * What the webhook system records in the event log: every change to an endpoint, with who made it
 * (the audit trail of webhook management), and `webhook.endpoint.disabled` when the dispatcher
 * turns an endpoint off (410, or failing for the auto-disable period), so people can be told.
 * Subject and partition key: the endpoint id. Secrets never appear in them.
 */
export const WEBHOOK_EVENT_TYPES = {
  created: "webhook.endpoint.created",
  updated: "webhook.endpoint.updated",
  deleted: "webhook.endpoint.deleted",
  enabled: "webhook.endpoint.enabled",
  disabled: "webhook.endpoint.disabled",
  secretRotated: "webhook.endpoint.secret_rotated",
  test: "webhook.test",
} as const;

const endpointRef = { endpointId: z.uuid(), url: z.string() };
/** Who acted: a principal's id and name, or `dispatcher` for automatic changes. */
const actor = z.object({ id: z.string(), name: z.string() });

export const webhookEndpointChangedSchema = z.object({ ...endpointRef, actor, changes: z.array(z.string()) });
export const webhookEndpointDisabledSchema = z.object({
  ...endpointRef,
  actor,
  reason: z.enum(["manual", "gone", "failing"]),
  detail: z.string(),
  failingSince: z.string().nullable(),
});
export const webhookTestSchema = z.object({ endpointId: z.uuid(), message: z.string() }).catchall(z.unknown());

export function registerWebhookEventTypes(registry: EventTypeRegistry): void {
  const define = (type: string, description: string, schema: z.ZodType) => registry.define({ type, version: 1, description, schema });
  define(WEBHOOK_EVENT_TYPES.created, "A webhook endpoint was created.", webhookEndpointChangedSchema);
  define(WEBHOOK_EVENT_TYPES.updated, "A webhook endpoint's settings changed (`changes` names the fields).", webhookEndpointChangedSchema);
  define(WEBHOOK_EVENT_TYPES.deleted, "A webhook endpoint was deleted.", webhookEndpointChangedSchema);
  define(WEBHOOK_EVENT_TYPES.enabled, "A webhook endpoint was enabled; deliveries skipped while it was off are caught up.", webhookEndpointChangedSchema);
  define(WEBHOOK_EVENT_TYPES.disabled, "A webhook endpoint was disabled: by an operator, because the receiver answered 410, or after failing continuously.", webhookEndpointDisabledSchema);
  define(WEBHOOK_EVENT_TYPES.secretRotated, "A webhook endpoint's signing secret was rotated (the old one signs during its grace period).", webhookEndpointChangedSchema);
  define(WEBHOOK_EVENT_TYPES.test, "A test delivery sent from the management API (never stored in the log; the type documents the payload).", webhookTestSchema);
}
