import type { EventDraft } from "../core/envelope";
import type { Principal } from "../core/principal";
import type { WebhookEndpoint } from "./webhook-store";

/** The audit trail of webhook management: how its `webhook.endpoint.*` events (events.ts) are drafted. */

export const WEBHOOK_EVENT_SOURCE = "urn:eventloom:webhooks";

export interface WebhookActor {
  id: string;
  name: string;
}

/** Who turns endpoints off on their own (410, continuous failure). */
export const DISPATCHER_ACTOR: WebhookActor = { id: "dispatcher", name: "Eventloom webhook dispatcher" };

export function actorOf(principal: Pick<Principal, "id" | "name">): WebhookActor {
  return { id: principal.id, name: principal.name };
}

/** Subject and partition key: the endpoint, so its history reads in order. */
export function endpointEvent(type: string, endpoint: Pick<WebhookEndpoint, "id" | "url">, data: Record<string, unknown>): EventDraft {
  return {
    type,
    source: WEBHOOK_EVENT_SOURCE,
    subject: endpoint.id,
    partitionkey: endpoint.id,
    data: { endpointId: endpoint.id, url: endpoint.url, ...data },
  };
}
