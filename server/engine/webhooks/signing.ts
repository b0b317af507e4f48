import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com), both ways: the dispatcher signs
 * what it sends, and {@link verifyWebhook} checks what others send us (and is what receivers of
 * Eventloom's webhooks can copy). Interoperates with the spec's reference library, the
 * `standardwebhooks` npm package; the unit tests check both directions.
 *
 * - secret: `whsec_` + base64 of the key bytes (the HMAC key is the decoded part);
 * - `webhook-signature`: `v1,` + base64 HMAC-SHA256 over `${webhook-id}.${webhook-timestamp}.${body}`;
 *   several signatures are separated by spaces (during a secret rotation, one per secret), and any
 *   matching `v1` one passes.
 */

export const WEBHOOK_HEADER = {
  id: "webhook-id",
  timestamp: "webhook-timestamp",
  signature: "webhook-signature",
} as const;

const SECRET_PREFIX = "whsec_";
const SECRET_BYTES = 32;
const SIGNATURE_VERSION = "v1";
/** The spec's (and the reference library's) default: five minutes, either way, against replays and skewed clocks. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** Canonical, padded base64: Buffer.from(…, "base64") alone would skip junk characters and accept a mistyped secret. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UNIX_SECONDS = /^\d{1,15}$/;

export type WebhookVerificationFailure = "missing_headers" | "timestamp_too_old" | "timestamp_too_new" | "bad_signature" | "bad_secret";

/**
 * Why a webhook was refused. `missing_headers` also covers a malformed `webhook-timestamp`;
 * `bad_secret` is the verifier's own configuration (a secret that is not base64), not the sender's.
 */
export class WebhookVerificationError extends Error {
  constructor(
    readonly reason: WebhookVerificationFailure,
    message: string,
  ) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

/** A new signing secret: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString("base64");
}

/** `v1,<base64 HMAC-SHA256>` of one message under one secret. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = secretKey(secret);
  if (!key) throw new RangeError("not a webhook secret: expected whsec_ followed by base64");
  return `${SIGNATURE_VERSION},${hmac(key, id, timestamp, body)}`;
}

/** The `webhook-signature` value: one signature per secret (current first), space-separated. */
export function signatureHeader(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  if (secrets.length === 0) throw new RangeError("at least one secret is needed to sign a webhook");
  return secrets.map((secret) => signWebhook(secret, id, timestamp, body)).join(" ");
}

export interface VerifyWebhookOptions {
  /** How far `webhook-timestamp` may be from now, in either direction. Default 300. */
  toleranceSeconds?: number;
  now?: Date;
}

type HeaderSource = Record<string, string | string[] | undefined> | Headers;

/**
 * Checks a received webhook; returns when it is authentic, throws {@link WebhookVerificationError}
 * otherwise. `body` must be the raw body exactly as received (not re-serialised JSON). A secret
 * without the `whsec_` prefix is taken as the bare base64 key, as the reference library does.
 */
export function verifyWebhook(secret: string, headers: HeaderSource, body: string, options: VerifyWebhookOptions = {}): void {
  const key = secretKey(secret);
  if (!key) throw new WebhookVerificationError("bad_secret", "the verification secret is not whsec_ followed by base64");

  const read = headerReader(headers);
  const id = read(WEBHOOK_HEADER.id);
  const timestampText = read(WEBHOOK_HEADER.timestamp);
  const signatures = read(WEBHOOK_HEADER.signature);
  if (!id || !timestampText || !signatures) {
    throw new WebhookVerificationError("missing_headers", "webhook-id, webhook-timestamp and webhook-signature are all required");
  }
  if (!UNIX_SECONDS.test(timestampText)) {
    throw new WebhookVerificationError("missing_headers", "webhook-timestamp must be a unix time in seconds");
  }

  const timestamp = Number(timestampText);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (now - timestamp > tolerance) {
    throw new WebhookVerificationError("timestamp_too_old", `webhook-timestamp is more than ${tolerance} s in the past`);
  }
  if (timestamp - now > tolerance) {
    throw new WebhookVerificationError("timestamp_too_new", `webhook-timestamp is more than ${tolerance} s in the future`);
  }

  const expected = Buffer.from(hmac(key, id, timestamp, body));
  for (const versioned of signatures.split(" ")) {
    const comma = versioned.indexOf(",");
    if (comma < 0 || versioned.slice(0, comma) !== SIGNATURE_VERSION) continue;
    const candidate = Buffer.from(versioned.slice(comma + 1));
    // timingSafeEqual needs equal lengths; a length difference reveals nothing about the key.
    if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) return;
  }
  throw new WebhookVerificationError("bad_signature", "no v1 signature in webhook-signature matches");
}

function hmac(key: Buffer, id: string, timestamp: number, body: string): string {
  return createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
}

function secretKey(secret: string): Buffer | undefined {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (encoded === "" || !BASE64.test(encoded)) return undefined;
  return Buffer.from(encoded, "base64");
}

/** Header names are case-insensitive; a repeated header (an array) counts as its values joined. */
function headerReader(headers: HeaderSource): (name: string) => string | undefined {
  if (isHeaders(headers)) return (name) => headers.get(name) ?? undefined;
  const byLowerName = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) byLowerName.set(name.toLowerCase(), Array.isArray(value) ? value.join(" ") : value);
  }
  return (name) => byLowerName.get(name);
}

/** Structural, not instanceof: undici's and the global Headers class are different classes. */
function isHeaders(headers: HeaderSource): headers is Headers {
  return typeof (headers as Headers).get === "function" && typeof (headers as Headers).forEach === "function";
}
