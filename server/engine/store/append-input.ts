import type { EventEnvelope, StoredEvent } from "../core/envelope";
import { ValidationError, type FieldIssue } from "../core/errors";
import { isUuid } from "../core/ids";
import type { ExpectedVersion, StreamAppend } from "./event-store";

/**
 * Input rules every EventStore applies before it touches storage, so that the in-memory store and
 * the Postgres store accept, reject and normalise exactly the same appends.
 */

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * RFC 3339 in, UTC with milliseconds out. Date.parse alone would also take local-time formats
 * (`Jan 1 2026`) whose meaning depends on the machine's zone, hence the pattern check first.
 */
export function parseRfc3339(value: string): number | undefined {
  if (!RFC3339.test(value)) return undefined;
  const epochMs = Date.parse(value);
  return Number.isNaN(epochMs) ? undefined : epochMs;
}

function isExpectedVersion(value: unknown): value is ExpectedVersion {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0;
  return value === "any" || value === "no_stream" || value === "stream_exists";
}

export function expectedVersionMet(expected: ExpectedVersion, actual: number): boolean {
  switch (expected) {
    case "any":
      return true;
    case "no_stream":
      return actual === 0;
    case "stream_exists":
      return actual > 0;
    default:
      return actual === expected;
  }
}

/**
 * Validates and normalises an append. Ids are lower-cased (Postgres returns uuids that way), times
 * become UTC with milliseconds (what a timestamptz read back through a JS Date yields), and
 * `data: undefined` becomes null (JSON has no undefined). A repeated id inside one append or a
 * stream named twice is a malformed request, not a duplicate: it is rejected as a whole.
 */
export function prepareAppend(appends: readonly StreamAppend[]): StreamAppend[] {
  const issues: FieldIssue[] = [];
  const streamIds = new Set<string>();
  const eventIds = new Set<string>();
  const prepared = appends.map((append, a) => {
    if (typeof append.streamId !== "string" || append.streamId.length === 0) {
      issues.push({ path: `[${a}].streamId`, message: "must be a non-empty string" });
    } else if (streamIds.has(append.streamId)) {
      issues.push({ path: `[${a}].streamId`, message: `stream ${append.streamId} appears more than once in one append` });
    }
    streamIds.add(append.streamId);
    if (!isExpectedVersion(append.expectedVersion)) {
      issues.push({ path: `[${a}].expectedVersion`, message: "must be a non-negative integer, any, no_stream or stream_exists" });
    }
    const events = append.events.map((event, e): EventEnvelope => {
      const path = `[${a}].events[${e}]`;
      const id = typeof event.id === "string" ? event.id.toLowerCase() : "";
      if (!isUuid(id)) issues.push({ path: `${path}.id`, message: "must be a UUID" });
      else if (eventIds.has(id)) issues.push({ path: `${path}.id`, message: `id ${id} appears more than once in one append` });
      eventIds.add(id);
      const epochMs = typeof event.time === "string" ? parseRfc3339(event.time) : undefined;
      if (epochMs === undefined) issues.push({ path: `${path}.time`, message: "must be an RFC 3339 timestamp" });
      return {
        ...event,
        id,
        time: epochMs === undefined ? event.time : new Date(epochMs).toISOString(),
        data: event.data === undefined ? null : event.data,
      };
    });
    return { streamId: append.streamId, expectedVersion: append.expectedVersion, events };
  });
  if (issues.length > 0) throw new ValidationError("invalid append", issues);
  return prepared;
}

const optionalAttributes = ["subject", "dataschema", "causationid", "tracestate", "partitionkey"] as const;

/**
 * The stored form of an accepted envelope: exactly the envelope attributes (extra keys a caller
 * slipped in are not stored anywhere, so they are not echoed either) and no undefined optionals.
 */
export function toStoredEvent(
  event: EventEnvelope,
  placement: { position: number; streamid: string; streamversion: number },
): StoredEvent {
  const stored: StoredEvent = {
    specversion: event.specversion,
    id: event.id,
    type: event.type,
    source: event.source,
    time: event.time,
    datacontenttype: event.datacontenttype,
    data: event.data,
    correlationid: event.correlationid,
    traceparent: event.traceparent,
    priority: event.priority,
    schemaversion: event.schemaversion,
    ...placement,
  };
  for (const name of optionalAttributes) {
    const value = event[name];
    if (value !== undefined) stored[name] = value;
  }
  return stored;
}
