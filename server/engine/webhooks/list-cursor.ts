import { z } from "zod";
import { ValidationError } from "../core/errors";

/**
 * The keyset cursor of the webhook lists (endpoints and attempts, both newest first): where the
 * previous page ended, as its last item's creation time and id. Every WebhookStore encodes it
 * here, so a cursor means the same to all of them. Opaque to clients (base64url of JSON
 * `[createdAt, id]`) and checked on the way back in: a cursor is user input.
 */

export interface ListPosition {
  createdAt: string;
  id: string;
}

const encodedPosition = z.tuple([z.iso.datetime(), z.uuid()]);

export function encodeListCursor(item: ListPosition): string {
  return Buffer.from(JSON.stringify([item.createdAt, item.id]), "utf8").toString("base64url");
}

/** ValidationError on `cursor` for anything {@link encodeListCursor} did not make. */
export function decodeListCursor(cursor: string): ListPosition {
  const invalid = () => new ValidationError("Invalid cursor", [{ path: "cursor", message: "is not a cursor this list returned" }]);
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  const parsed = encodedPosition.safeParse(json);
  if (!parsed.success) throw invalid();
  const [createdAt, id] = parsed.data;
  return { createdAt, id };
}

/** Newest first, the id (descending) breaking ties, so pages never skip or repeat an item. */
export function newestFirst(a: ListPosition, b: ListPosition): number {
  const byTime = Date.parse(b.createdAt) - Date.parse(a.createdAt);
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Whether `item` comes after the cursor's position in {@link newestFirst} order. */
export function isAfter(item: ListPosition, position: ListPosition | undefined): boolean {
  return position === undefined || newestFirst(item, position) > 0;
}
