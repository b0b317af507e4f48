import { matchesAnyType, type StoredEvent } from "../core/envelope";
import { ValidationError } from "../core/errors";
import { parseRfc3339 } from "./append-input";
import type { ReadAllFilter } from "./event-store";

export type EventFilter = Pick<ReadAllFilter, "types" | "subject" | "correlationid" | "from" | "to">;

/** A `from` / `to` filter bound in epoch ms; a malformed one is the caller's error. */
export function timeBoundMs(value: string | undefined, name: "from" | "to"): number | undefined {
  if (value === undefined) return undefined;
  const epochMs = parseRfc3339(value);
  if (epochMs === undefined) throw new ValidationError(`invalid ${name}`, [{ path: name, message: "must be an RFC 3339 timestamp" }]);
  return epochMs;
}

/** The attribute part of a ReadAllFilter as a predicate (positions and limits are the reader's business). */
export function eventMatcher(filter: EventFilter): (event: StoredEvent) => boolean {
  const fromMs = timeBoundMs(filter.from, "from");
  const toMs = timeBoundMs(filter.to, "to");
  return (event) => {
    if (!matchesAnyType(filter.types, event.type)) return false;
    if (filter.subject !== undefined && event.subject !== filter.subject) return false;
    if (filter.correlationid !== undefined && event.correlationid !== filter.correlationid) return false;
    if (fromMs === undefined && toMs === undefined) return true;
    const timeMs = Date.parse(event.time);
    return (fromMs === undefined || timeMs >= fromMs) && (toMs === undefined || timeMs <= toMs);
  };
}

/** Shared limit check: a page size below 1 can never make progress. */
export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ValidationError("invalid limit", [{ path: "limit", message: "must be a positive integer" }]);
  }
}

/**
 * `lastPosition` of a page that ran out of matches before its limit: everything up to the head
 * (or `toPosition`) was scanned. Never below `after`, so a cursor only moves forward.
 */
export function scannedUpTo(filter: Pick<ReadAllFilter, "after" | "toPosition">, headPosition: number): number {
  const end = Math.min(headPosition, filter.toPosition ?? headPosition);
  return Math.max(filter.after ?? 0, end);
}
