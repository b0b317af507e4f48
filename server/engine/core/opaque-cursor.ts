import type { z } from "zod";
import { ValidationError } from "./errors";

/**
 * Keyset cursors as clients see them: base64url of a JSON value, opaque to them, and checked on
 * the way back in with the schema of what the list encoded (a cursor is user input). Every list
 * (read models, sagas, webhook endpoints and attempts) pages through these two functions.
 */
export function encodeOpaqueCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

/** ValidationError on `path` for anything {@link encodeOpaqueCursor} did not make from a `schema` value. */
export function decodeOpaqueCursor<TSchema extends z.ZodType>(cursor: string, schema: TSchema, path: string): z.output<TSchema> {
  const invalid = () => new ValidationError("Invalid cursor", [{ path, message: "is not a cursor this list returned" }]);
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw invalid();
  return parsed.data;
}
