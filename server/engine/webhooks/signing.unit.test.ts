import { Webhook, WebhookVerificationError as ReferenceVerificationError } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
  WEBHOOK_HEADER,
  WebhookVerificationError,
  generateWebhookSecret,
  signWebhook,
  signatureHeader,
  verifyWebhook,
  type WebhookVerificationFailure,
} from "./signing";

const body = JSON.stringify({ specversion: "1.0", id: "evt_1", type: "exam.created", data: { examId: "e-1", title: "Ünïcödé ✓" } });
const id = "0190c7a4-0c8e-7b5a-9f3e-2d1c0b9a8f7e";

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function headersFor(secrets: string[], timestamp = nowSeconds(), messageId = id, payload = body): Record<string, string> {
  return {
    [WEBHOOK_HEADER.id]: messageId,
    [WEBHOOK_HEADER.timestamp]: String(timestamp),
    [WEBHOOK_HEADER.signature]: signatureHeader(secrets, messageId, timestamp, payload),
  };
}

function failureOf(run: () => void): WebhookVerificationFailure {
  try {
    run();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.reason;
    throw error;
  }
  throw new Error("verification passed");
}

describe("generateWebhookSecret", () => {
  it("is whsec_ and the base64 of 32 bytes, different every time", () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), "base64")).toHaveLength(32);
    expect(a).not.toBe(b);
  });
});

describe("signWebhook", () => {
  it("matches the Standard Webhooks spec's published example", () => {
    // From the spec (standard-webhooks.md, "Signature scheme") and the reference library's tests.
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const payload = '{"test": 2432232314}';
    expect(signWebhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, payload)).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("refuses a secret that is not base64", () => {
    expect(() => signWebhook("whsec_not base64!", id, 1, body)).toThrow(RangeError);
    expect(() => signWebhook("whsec_", id, 1, body)).toThrow(RangeError);
  });

  it("needs at least one secret for a header", () => {
    expect(() => signatureHeader([], id, 1, body)).toThrow(RangeError);
  });
});

describe("interoperability with the standardwebhooks reference library", () => {
  it("our signature verifies with the reference library", () => {
    const secret = generateWebhookSecret();
    expect(new Webhook(secret).verify(body, headersFor([secret]))).toEqual(JSON.parse(body));
  });

  it("the reference library's signature verifies with ours", () => {
    const secret = generateWebhookSecret();
    const timestamp = new Date();
    const signature = new Webhook(secret).sign(id, timestamp, body);
    const headers = { "webhook-id": id, "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)), "webhook-signature": signature };
    expect(() => verifyWebhook(secret, headers, body)).not.toThrow();
  });

  it("produces the reference library's signature byte for byte", () => {
    const secret = generateWebhookSecret();
    const timestamp = 1_750_000_000;
    expect(signWebhook(secret, id, timestamp, body)).toBe(new Webhook(secret).sign(id, new Date(timestamp * 1000), body));
  });

  it("the reference library refuses our signature under another secret", () => {
    const headers = headersFor([generateWebhookSecret()]);
    expect(() => new Webhook(generateWebhookSecret()).verify(body, headers)).toThrow(ReferenceVerificationError);
  });
});

describe("rotation: two secrets, two signatures", () => {
  const previous = generateWebhookSecret();
  const current = generateWebhookSecret();
  const headers = headersFor([current, previous]);

  it("puts both signatures in the header, space-separated, current first", () => {
    const parts = headers[WEBHOOK_HEADER.signature]!.split(" ");
    expect(parts).toHaveLength(2);
    expect(parts[0]).toBe(signWebhook(current, id, Number(headers[WEBHOOK_HEADER.timestamp]), body));
    expect(parts[1]).toBe(signWebhook(previous, id, Number(headers[WEBHOOK_HEADER.timestamp]), body));
  });

  it("verifies with either secret, ours and the reference library's", () => {
    for (const secret of [current, previous]) {
      expect(() => verifyWebhook(secret, headers, body)).not.toThrow();
      expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
    }
  });

  it("does not verify with a third secret", () => {
    expect(failureOf(() => verifyWebhook(generateWebhookSecret(), headers, body))).toBe("bad_signature");
  });
});

describe("verifyWebhook", () => {
  const secret = generateWebhookSecret();

  it("accepts the secret without its whsec_ prefix", () => {
    expect(() => verifyWebhook(secret.slice(6), headersFor([secret]), body)).not.toThrow();
  });

  it("reads header names case-insensitively, from a plain object or a Headers", () => {
    const headers = headersFor([secret]);
    const shouting = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]));
    expect(() => verifyWebhook(secret, shouting, body)).not.toThrow();
    expect(() => verifyWebhook(secret, new Headers(headers), body)).not.toThrow();
  });

  it("takes a repeated header's values together (node:http gives arrays for some)", () => {
    const other = generateWebhookSecret();
    const timestamp = nowSeconds();
    const headers = {
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": [signWebhook(other, id, timestamp, body), signWebhook(secret, id, timestamp, body)],
    };
    expect(() => verifyWebhook(secret, headers, body)).not.toThrow();
  });

  it("skips signatures of other versions and passes on a matching v1 one", () => {
    const timestamp = nowSeconds();
    const v1 = signWebhook(secret, id, timestamp, body);
    const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": `v1a,abc v2,${v1.slice(3)} ${v1}` };
    expect(() => verifyWebhook(secret, headers, body)).not.toThrow();
  });

  it("refuses a signature of another version even when its bytes match", () => {
    const timestamp = nowSeconds();
    const bytes = signWebhook(secret, id, timestamp, body).slice(3);
    const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": `v2,${bytes}` };
    expect(failureOf(() => verifyWebhook(secret, headers, body))).toBe("bad_signature");
  });

  it.each([
    ["webhook-id"],
    ["webhook-timestamp"],
    ["webhook-signature"],
  ])("missing_headers without %s", (name) => {
    const headers: Record<string, string | undefined> = headersFor([secret]);
    headers[name] = undefined;
    expect(failureOf(() => verifyWebhook(secret, headers, body))).toBe("missing_headers");
    headers[name] = "";
    expect(failureOf(() => verifyWebhook(secret, headers, body))).toBe("missing_headers");
  });

  it.each([["abc"], ["12.5"], ["-100"], ["1e9"]])("missing_headers for a malformed timestamp %s", (timestamp) => {
    const headers = { ...headersFor([secret]), "webhook-timestamp": timestamp };
    expect(failureOf(() => verifyWebhook(secret, headers, body))).toBe("missing_headers");
  });

  it("timestamp_too_old beyond the tolerance, and not within it", () => {
    const now = new Date("2026-03-01T12:00:00Z");
    const nowS = now.getTime() / 1000;
    expect(failureOf(() => verifyWebhook(secret, headersFor([secret], nowS - 301), body, { now }))).toBe("timestamp_too_old");
    expect(() => verifyWebhook(secret, headersFor([secret], nowS - 300), body, { now })).not.toThrow();
  });

  it("timestamp_too_new beyond the tolerance, and not within it", () => {
    const now = new Date("2026-03-01T12:00:00Z");
    const nowS = now.getTime() / 1000;
    expect(failureOf(() => verifyWebhook(secret, headersFor([secret], nowS + 301), body, { now }))).toBe("timestamp_too_new");
    expect(() => verifyWebhook(secret, headersFor([secret], nowS + 300), body, { now })).not.toThrow();
  });

  it("honours a custom tolerance", () => {
    const now = new Date("2026-03-01T12:00:00Z");
    const nowS = now.getTime() / 1000;
    const headers = headersFor([secret], nowS - 3600);
    expect(failureOf(() => verifyWebhook(secret, headers, body, { now }))).toBe("timestamp_too_old");
    expect(() => verifyWebhook(secret, headers, body, { now, toleranceSeconds: 3600 })).not.toThrow();
  });

  it("bad_secret for a verification secret that is not base64", () => {
    const headers = headersFor([secret]);
    for (const bad of ["whsec_", "", "whsec_%%%", "whsec_abc"]) {
      expect(failureOf(() => verifyWebhook(bad, headers, body)), bad).toBe("bad_secret");
    }
  });

  it("bad_signature for a tampered body", () => {
    const headers = headersFor([secret]);
    expect(failureOf(() => verifyWebhook(secret, headers, body.replace("e-1", "e-2")))).toBe("bad_signature");
    expect(failureOf(() => verifyWebhook(secret, headers, `${body} `))).toBe("bad_signature");
  });

  it("bad_signature for a tampered id", () => {
    const headers = { ...headersFor([secret]), "webhook-id": `${id}x` };
    expect(failureOf(() => verifyWebhook(secret, headers, body))).toBe("bad_signature");
  });

  it("bad_signature for a tampered timestamp (still within tolerance)", () => {
    const original = headersFor([secret]);
    const headers = { ...original, "webhook-timestamp": String(Number(original["webhook-timestamp"]) - 1) };
    expect(failureOf(() => verifyWebhook(secret, headers, body))).toBe("bad_signature");
  });

  it("bad_signature for a truncated or garbled signature", () => {
    const original = headersFor([secret]);
    const signature = original["webhook-signature"]!;
    for (const garbled of [signature.slice(0, -2), `${signature}AA`, "v1,", "v1", "garbage", `v1,${"A".repeat(44)}`]) {
      const headers = { ...original, "webhook-signature": garbled };
      expect(failureOf(() => verifyWebhook(secret, headers, body)), garbled).toBe("bad_signature");
    }
  });
});
