import type { StoredEvent } from "./envelope";
import type { EventTypeRegistry } from "./registry";

/**
 * A stored event as clients see it: `GET /api/v1/events/{id}`, the SSE stream, and the body of
 * every webhook delivery. Upcast to the latest version of its type, store internals removed.
 */
export type EventResource = Omit<StoredEvent, "streamid" | "streamversion">;

export function toEventResource(event: StoredEvent, registry: Pick<EventTypeRegistry, "upcast">): EventResource {
  const { streamid: _streamid, streamversion: _streamversion, ...resource } = registry.upcast(event);
  return resource;
}
