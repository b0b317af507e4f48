import { z } from "zod";
import { decodeOpaqueCursor, encodeOpaqueCursor } from "../core/opaque-cursor";
import type { ReadModelValue } from "./read-model";

/**
 * The keyset cursor of `ReadModelReader.find`: where the previous page ended, as the last row's
 * value in the order column and its key. Every ReadModelStore encodes it here, so a cursor means
 * the same to all of them. To clients it is opaque (base64url of JSON `[orderValue, key]`, a Date
 * as `{"$date": ISO}`), and it is checked on the way back in: a cursor is user input.
 */

/** Values a row can be ordered by: scalars and times (not jsonb). */
export type OrderValue = string | number | boolean | null | Date;

export interface FindCursor {
  value: OrderValue;
  key: string;
}

const encodedOrderValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.null(),
  z.strictObject({ $date: z.iso.datetime() }).transform(({ $date }) => new Date($date)),
]);
const encodedCursor = z.tuple([encodedOrderValue, z.string()]);

export function isOrderValue(value: ReadModelValue): value is OrderValue {
  return value === null || value instanceof Date || typeof value !== "object";
}

export function encodeCursor(value: ReadModelValue, key: string): string {
  if (!isOrderValue(value)) throw new TypeError(`a find cursor needs a scalar or Date order value, got ${JSON.stringify(value)}`);
  if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError(`a find cursor cannot carry the order value ${value}`);
  const encoded = value instanceof Date ? { $date: value.toISOString() } : value;
  return encodeOpaqueCursor([encoded, key]);
}

/** ValidationError (path `after`) for anything {@link encodeCursor} did not make. */
export function decodeCursor(cursor: string): FindCursor {
  const [value, key] = decodeOpaqueCursor(cursor, encodedCursor, "after");
  return { value, key };
}
