import { v5 as uuidv5 } from "uuid";
import type { EventDraft } from "@/server/engine/core/envelope";
import { domainSchemaVersions, type DomainEventData } from "./events";

export type Notification = DomainEventData["notification.sent"];

/** Namespace of notification ids: uuidv5 of what caused them (an event id, a saga step's idempotency key). */
const NOTIFICATION_NAMESPACE = "e56f9a3f-93c0-4569-a3a1-08109f8a1bbc";

/**
 * A `notification.sent` draft whose id is derived from `cause`: telling the same person about the
 * same thing again (a redelivered event, a saga step run again) stores one notification.
 */
export function notificationDraft(
  notification: Notification,
  cause: { name: string; correlationid?: string; causationid?: string; traceparent?: string },
): EventDraft<Notification> {
  return {
    id: uuidv5(cause.name, NOTIFICATION_NAMESPACE),
    type: "notification.sent",
    data: notification,
    subject: notification.recipient,
    partitionkey: notification.recipient,
    ...(cause.correlationid === undefined ? {} : { correlationid: cause.correlationid }),
    ...(cause.causationid === undefined ? {} : { causationid: cause.causationid }),
    ...(cause.traceparent === undefined ? {} : { traceparent: cause.traceparent }),
    priority: "low",
    schemaversion: domainSchemaVersions["notification.sent"],
  };
}
