import type { EventTypeDescriptor, RuntimeEventTypeRecord } from "@/server/engine/core/registry";
import { json, type RestContext } from "./route";
import { registerEventTypeBody, type EventTypeResource } from "./schemas";

/** REST v1 event types: the registry's catalogue, and runtime registration from a JSON Schema. */

function toResource(descriptor: EventTypeDescriptor): EventTypeResource {
  return {
    type: descriptor.type,
    version: descriptor.version,
    versions: descriptor.versions,
    description: descriptor.description,
    schema: { ...descriptor.schema },
    origin: descriptor.origin,
  };
}

export async function listEventTypes(context: RestContext<unknown>): Promise<Response> {
  return json({ items: context.container.registry.list().map(toResource) });
}

/**
 * Registers a runtime type (admin). Repeating an identical registration answers with the original
 * record, so a retried request is harmless; a changed schema under an existing version is refused
 * by the registry (422: register it as the next version).
 */
export async function registerEventType(context: RestContext<unknown>): Promise<Response> {
  const { value } = await context.readJson(["application/json"]);
  const input = context.body(registerEventTypeBody, value);
  const { registry, eventTypes } = context.container;
  const record: RuntimeEventTypeRecord = registry.registerJsonSchema(input);
  await eventTypes.save(record);
  // registerJsonSchema succeeded, so the type is known.
  const descriptor = registry.get(record.type)!;
  const resource: EventTypeResource = {
    ...toResource(descriptor),
    version: record.version,
    description: record.description ?? "",
    schema: { ...record.schema },
  };
  return json(resource, 201);
}
