import { createHash } from "node:crypto";
import { canonicalJson } from "@/server/engine/core/canonical-json";
import type { Principal } from "@/server/engine/core/principal";
import type { IdempotencyClaim } from "@/server/engine/store/event-store";
import { HttpProblem } from "./problem";

/**
 * `Idempotency-Key` for POSTs that publish events. The claim is made by the event store in the
 * same transaction as the append, so a retry racing the original cannot store twice.
 */
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
export const IDEMPOTENT_REPLAYED_HEADER = "idempotent-replayed";

// Visible ASCII: keys end up in logs and database keys, where control characters only cause harm.
export const IDEMPOTENCY_KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

/**
 * The claim for this request, or undefined when the client sent no key. The key is scoped by the
 * caller so that two clients choosing the same key never see each other's responses; the
 * fingerprint covers the operation and the canonical body, so the same key reused for another
 * request is a mismatch (409) rather than a wrong replay.
 */
export function idempotencyClaimFor(
  request: Request,
  principal: Principal,
  operation: string,
  body: unknown,
): IdempotencyClaim | undefined {
  const key = idempotencyKeyOf(request);
  if (key === undefined) return undefined;
  return {
    key: `events:${principal.id}:${key}`,
    // Two bodies that differ only in key order or white space are the same request.
    fingerprint: createHash("sha256").update(`${operation}\n${canonicalJson(body)}`, "utf8").digest("hex"),
  };
}

/** The request's `Idempotency-Key`, checked (400 naming the header), or undefined when it has none. */
export function idempotencyKeyOf(request: Request): string | undefined {
  const key = request.headers.get(IDEMPOTENCY_KEY_HEADER);
  if (key === null) return undefined;
  if (!IDEMPOTENCY_KEY_FORMAT.test(key)) {
    throw new HttpProblem("bad_request", "Idempotency-Key must be 1 to 255 visible ASCII characters", {
      errors: [{ path: "Idempotency-Key", message: "must be 1 to 255 visible ASCII characters" }],
    });
  }
  return key;
}
