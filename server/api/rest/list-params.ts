import { z } from "zod";
import "zod-openapi";
import { isUuid } from "@/server/engine/core/ids";

/** Query parameters of REST v1's paged lists. */

export const MAX_LIST_LIMIT = 1000;
export const DEFAULT_LIST_LIMIT = 100;

/** `limit`: a page size from 1 to `max` (a query string, so digits), `fallback` when absent. */
export function pageLimit(max = MAX_LIST_LIMIT, fallback = DEFAULT_LIST_LIMIT, description = `Page size, 1 to ${max}; default ${fallback}.`) {
  return z
    .string()
    .regex(/^\d+$/, "must be a positive integer")
    .transform(Number)
    .refine((value) => value >= 1 && value <= max, { message: `must be between 1 and ${max}` })
    .optional()
    .transform((value) => value ?? fallback)
    .meta({ description, override: { type: "string", pattern: "^\\d+$" } });
}

/** The `next` of the previous page, for lists paged by id (UUIDv7, newest first). */
export const pageCursor = z
  .string()
  .refine(isUuid, { message: "must be the `next` of a previous page" })
  .optional()
  .meta({ description: "The `next` cursor of the previous page." });
