import { z } from "zod";
import { decodeOpaqueCursor, encodeOpaqueCursor } from "./opaque-cursor";

/**
 * The keyset cursor of lists ordered newest first (sagas, webhook endpoints and attempts): where
 * the previous page ended, as its last item's creation (or start) time and id. Every store of
 * those lists encodes it here, so a cursor means the same to all of them. Opaque to clients (base64url of JSON
 * `[createdAt, id]`) and checked on the way back in: a cursor is user input.
 */

export interface ListPosition {
  createdAt: string;
  id: string;
}

const encodedPosition = z.tuple([z.iso.datetime(), z.uuid()]);

export function encodeListCursor(item: ListPosition): string {
  return encodeOpaqueCursor([item.createdAt, item.id]);
}

/** ValidationError on `cursor` for anything {@link encodeListCursor} did not make. */
export function decodeListCursor(cursor: string): ListPosition {
  const [createdAt, id] = decodeOpaqueCursor(cursor, encodedPosition, "cursor");
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
