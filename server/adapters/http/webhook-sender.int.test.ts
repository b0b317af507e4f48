import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseAllowList } from "@/server/engine/webhooks/address-policy";
import { WebhookSendError, type WebhookRequest, type WebhookSendFailureKind } from "@/server/engine/webhooks/ports";
import { TestReceiver } from "./test-receiver";
import { RESPONSE_BODY_LIMIT_BYTES, UndiciWebhookSender } from "./webhook-sender";

/**
 * UndiciWebhookSender against real receivers on loopback (node:http on 127.0.0.1): what each kind
 * of answer becomes, that receivers which hang, reset or talk garbage end as a WebhookSendError of
 * the right kind (never anything else), and the SSRF rules on every connection: a blocked address
 * fails as `blocked_address` and the receiver behind it never sees a request.
 */

let receiver: TestReceiver;
/** Loopback allowed, as the tests' and local development's WEBHOOK_ALLOWED_HOSTS does. */
let sender: UndiciWebhookSender;
/** No allow-list: production's default. */
let strictSender: UndiciWebhookSender;
let pathCounter = 0;

/** A fresh path per test, so what one test scripted or received never leaks into another. */
const freshPath = (name: string) => `/${name}-${(pathCounter += 1)}`;

const requestTo = (url: string, extra: Partial<WebhookRequest> = {}): WebhookRequest => ({
  url,
  headers: { "content-type": "application/json", "webhook-id": "msg_1" },
  body: JSON.stringify({ hello: "world" }),
  timeoutMs: 5_000,
  ...extra,
});

/** The WebhookSendError a send failed with (failing the test if it succeeded or threw anything else). */
async function sendFailure(target: UndiciWebhookSender, request: WebhookRequest): Promise<WebhookSendError> {
  const outcome = await target.send(request).then(
    (response) => ({ response }),
    (error: unknown) => ({ error }),
  );
  if ("response" in outcome) throw new Error(`expected a failure, got HTTP ${outcome.response.status}`);
  expect(outcome.error).toBeInstanceOf(WebhookSendError);
  return outcome.error as WebhookSendError;
}

async function expectKind(target: UndiciWebhookSender, request: WebhookRequest, kind: WebhookSendFailureKind): Promise<WebhookSendError> {
  const error = await sendFailure(target, request);
  expect({ kind: error.kind, message: error.message }).toMatchObject({ kind });
  expect(error.durationMs).toBeGreaterThanOrEqual(0);
  return error;
}

beforeAll(async () => {
  receiver = await TestReceiver.start();
  sender = new UndiciWebhookSender({ allow: parseAllowList("127.0.0.1") });
  strictSender = new UndiciWebhookSender({ allow: parseAllowList("") });
});

afterAll(async () => {
  await sender?.close();
  await strictSender?.close();
  await receiver?.close();
});

describe("UndiciWebhookSender: responses", () => {
  it("posts the headers and body as given and returns a 200 with its headers and body", async () => {
    const path = freshPath("ok");
    receiver.script(path, [{ kind: "status", status: 200, body: "thanks", headers: { "x-receiver": "yes" } }]);
    const request = requestTo(receiver.url(path));

    const response = await sender.send(request);

    expect(response).toMatchObject({ status: 200, body: "thanks", truncated: false });
    expect(response.headers["x-receiver"]).toBe("yes");
    expect(response.durationMs).toBeGreaterThanOrEqual(0);
    const [received] = receiver.requests(path);
    expect(received).toMatchObject({ method: "POST", body: request.body });
    expect(received?.headers).toMatchObject({ "content-type": "application/json", "webhook-id": "msg_1" });
  });

  it("returns a 500 and a 410 as responses (judging them is the dispatcher's call)", async () => {
    const path = freshPath("errors");
    receiver.script(path, [
      { kind: "status", status: 500, body: "boom" },
      { kind: "status", status: 410, body: "gone" },
    ]);

    await expect(sender.send(requestTo(receiver.url(path)))).resolves.toMatchObject({ status: 500, body: "boom" });
    await expect(sender.send(requestTo(receiver.url(path)))).resolves.toMatchObject({ status: 410, body: "gone" });
  });

  it("returns a 302 without following it: the Location target receives nothing", async () => {
    const path = freshPath("redirect");
    const target = freshPath("redirect-target");
    receiver.script(path, [{ kind: "redirect", status: 302, location: receiver.url(target) }]);

    const response = await sender.send(requestTo(receiver.url(path)));

    expect(response.status).toBe(302);
    expect(response.headers.location).toBe(receiver.url(target));
    expect(receiver.requests(path)).toHaveLength(1);
    expect(receiver.requests(target)).toHaveLength(0);
  });

  it("keeps the first 64 KiB of a 5 MiB body and marks it truncated", async () => {
    const path = freshPath("huge");
    receiver.script(path, [{ kind: "huge", bytes: 5 * 1024 * 1024 }]);

    const response = await sender.send(requestTo(receiver.url(path), { timeoutMs: 20_000 }));

    expect(response.status).toBe(200);
    expect(response.truncated).toBe(true);
    expect(Buffer.byteLength(response.body)).toBe(RESPONSE_BODY_LIMIT_BYTES);
  });

  it("keeps a body of exactly 64 KiB whole (not truncated)", async () => {
    const path = freshPath("limit");
    receiver.script(path, [{ kind: "huge", bytes: RESPONSE_BODY_LIMIT_BYTES }]);

    const response = await sender.send(requestTo(receiver.url(path)));

    expect(response).toMatchObject({ status: 200, truncated: false });
    expect(response.body.length).toBe(RESPONSE_BODY_LIMIT_BYTES);
  });

  it("decodes a body that is not UTF-8 leniently", async () => {
    const path = freshPath("binary");
    receiver.script(path, [{ kind: "status", status: 200, body: Buffer.from([0x6f, 0x6b, 0xff, 0xfe, 0xc3]) }]);

    const response = await sender.send(requestTo(receiver.url(path)));

    expect(response.body).toBe("ok\uFFFD\uFFFD\uFFFD");
  });

  it("reuses the keep-alive connection for the next requests to the same origin", async () => {
    // An origin of its own: the shared receiver's pool holds connections other tests opened.
    const own = await TestReceiver.start();
    try {
      for (let index = 0; index < 6; index += 1) await sender.send(requestTo(own.url("/keepalive")));

      expect(own.requests()).toHaveLength(6);
      // undici may open a second connection when a request comes before the last one is released.
      expect(new Set(own.requests().map((request) => request.remotePort)).size).toBeLessThanOrEqual(2);
    } finally {
      await own.close();
    }
  });
});

describe("UndiciWebhookSender: receivers that misbehave", () => {
  it("a receiver that hangs is a timeout once timeoutMs passed", async () => {
    const path = freshPath("hang");
    receiver.script(path, [{ kind: "hang" }]);

    const error = await expectKind(sender, requestTo(receiver.url(path), { timeoutMs: 300 }), "timeout");

    expect(error.message).toContain("300 ms");
    expect(receiver.requests(path)).toHaveLength(1);
  });

  it("a receiver slower than timeoutMs is a timeout too", async () => {
    const path = freshPath("slow");
    receiver.script(path, [{ kind: "status", status: 200, delayMs: 2_000 }]);

    await expectKind(sender, requestTo(receiver.url(path), { timeoutMs: 300 }), "timeout");
  });

  it("a connection reset before any answer is a connection failure", async () => {
    const path = freshPath("reset");
    receiver.script(path, [{ kind: "reset" }]);

    await expectKind(sender, requestTo(receiver.url(path)), "connection");
  });

  it("a connection reset in the middle of the body is a connection failure", async () => {
    const path = freshPath("reset-mid");
    receiver.script(path, [{ kind: "reset_mid_body" }]);

    await expectKind(sender, requestTo(receiver.url(path)), "connection");
  });

  it("a garbage status line or bytes that are not HTTP are a failure, and the sender keeps working", async () => {
    const garbageLine = freshPath("garbage-line");
    const notHttp = freshPath("not-http");
    const fine = freshPath("fine-after-garbage");
    receiver.script(garbageLine, [{ kind: "garbage", bytes: "HTTP/1.1 TWO HUNDRED maybe\r\n\r\n" }]);
    receiver.script(notHttp, [{ kind: "garbage", bytes: Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a, 0x0d, 0x0a, 0x0d]) }]);

    const first = await expectKind(sender, requestTo(receiver.url(garbageLine)), "connection");
    const second = await expectKind(sender, requestTo(receiver.url(notHttp)), "connection");

    expect(first.message).toMatch(/invalid HTTP response|closed|parse/i);
    expect(second.message.length).toBeGreaterThan(0);
    await expect(sender.send(requestTo(receiver.url(fine)))).resolves.toMatchObject({ status: 200 });
  });

  it("nothing listening is a connection failure", async () => {
    const closed = await TestReceiver.start();
    const url = closed.url("/nobody");
    await closed.close();

    const error = await expectKind(sender, requestTo(url), "connection");

    expect(error.message).toContain("refused");
  });

  it("a host that does not resolve is a dns failure", async () => {
    await expectKind(sender, requestTo("http://no-such-host.invalid/hook"), "dns");
  });

  it("a URL that does not parse or is not http(s) is invalid_url", async () => {
    await expectKind(sender, requestTo("not a url"), "invalid_url");
    await expectKind(sender, requestTo("ftp://127.0.0.1/hook"), "invalid_url");
  });

  it("a request aborted by the caller is aborted", async () => {
    const path = freshPath("aborted");
    receiver.script(path, [{ kind: "hang" }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    await expectKind(sender, requestTo(receiver.url(path), { signal: controller.signal }), "aborted");
  });
});

describe("UndiciWebhookSender: SSRF rules on every connection", () => {
  afterEach(() => {
    // Nothing blocked may have reached the receiver, whatever path a test used.
    expect(receiver.requests().filter((request) => request.path.startsWith("/blocked"))).toHaveLength(0);
  });

  it("refuses 127.0.0.1 without an allow-list: blocked_address naming the address, and the receiver gets nothing", async () => {
    const path = freshPath("blocked-loopback");

    const error = await expectKind(strictSender, requestTo(receiver.url(path)), "blocked_address");

    expect(error.message).toContain("127.0.0.1");
    expect(receiver.requests(path)).toHaveLength(0);
  });

  it("refuses a host name that resolves to loopback (localhost)", async () => {
    const path = freshPath("blocked-localhost");

    const error = await expectKind(strictSender, requestTo(`http://localhost:${receiver.port}${path}`), "blocked_address");

    expect(error.message).toMatch(/127\.0\.0\.1|::1/);
    expect(error.message).toContain("localhost");
    expect(receiver.requests(path)).toHaveLength(0);
  });

  it("refuses IPv6 loopback [::1] and the IPv4-mapped [::ffff:127.0.0.1]", async () => {
    const path = freshPath("blocked-v6");

    const loopback = await expectKind(strictSender, requestTo(`http://[::1]:${receiver.port}${path}`), "blocked_address");
    const mapped = await expectKind(strictSender, requestTo(`http://[::ffff:127.0.0.1]:${receiver.port}${path}`), "blocked_address");
    // Allowing 127.0.0.1 does not let the mapped form of another blocked address through.
    const mappedPrivate = await expectKind(sender, requestTo(`http://[::ffff:10.0.0.1]:${receiver.port}${path}`), "blocked_address");

    expect(loopback.message).toContain("::1");
    expect(mapped.message).toMatch(/::ffff:(127\.0\.0\.1|7f00:1)/);
    expect(mappedPrivate.message).toMatch(/::ffff:(10\.0\.0\.1|a00:1)/);
    expect(receiver.requests(path)).toHaveLength(0);
  });

  it("refuses the cloud metadata address 169.254.169.254", async () => {
    const error = await expectKind(sender, requestTo("http://169.254.169.254/latest/meta-data/", { timeoutMs: 10_000 }), "blocked_address");

    expect(error.message).toContain("169.254.169.254");
  });

  it("refuses private and CGNAT addresses even when loopback is allowed", async () => {
    for (const url of ["http://10.0.0.1/hook", "http://192.168.1.10/hook", "http://100.64.0.1/hook"]) {
      await expectKind(sender, requestTo(url), "blocked_address");
    }
  });

  it("allows 127.0.0.1 when the allow-list names it, by IP and by a name resolving to it", async () => {
    const path = freshPath("allowed");
    const byName = new UndiciWebhookSender({ allow: parseAllowList("localhost") });
    try {
      await expect(sender.send(requestTo(receiver.url(path)))).resolves.toMatchObject({ status: 200 });
      await expect(byName.send(requestTo(`http://localhost:${receiver.port}${path}`))).resolves.toMatchObject({ status: 200 });
    } finally {
      await byName.close();
    }
    expect(receiver.requests(path)).toHaveLength(2);
  });
});
