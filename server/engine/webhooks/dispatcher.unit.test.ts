import { afterEach, describe, expect, it } from "vitest";
import { newId } from "../core/ids";
import { WEBHOOK_SUBSCRIPTION, WEBHOOK_USER_AGENT } from "./dispatcher";
import { WEBHOOK_EVENT_TYPES } from "./events";
import { WebhookSendError } from "./ports";
import { STANDARD_WEBHOOK_SCHEDULE_MS } from "./retry-schedule";
import { generateWebhookSecret, verifyWebhook } from "./signing";
import { webhookHarness } from "./webhook.fixtures";

type Harness = ReturnType<typeof webhookHarness>;
const harnesses: Harness[] = [];

function setup(options: Parameters<typeof webhookHarness>[0] = {}): Harness {
  const harness = webhookHarness(options);
  harnesses.push(harness);
  return harness;
}

afterEach(async () => {
  for (const harness of harnesses.splice(0)) await harness.dispatcher.stop();
});

/** Lets promise chains run until `condition` holds (bounded: never a timing assertion). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 2_000; turn++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function deliveriesOf(harness: Harness, endpointId: string) {
  const page = await harness.store.listAttempts({ endpointId, limit: 1000 });
  return page.items.reverse();
}

describe("WebhookDispatcher", () => {
  it("is the webhook-dispatcher subscription of every type", () => {
    const { handler } = setup();
    expect(handler).toMatchObject({ name: WEBHOOK_SUBSCRIPTION, types: ["*"] });
  });

  it("fans an event out to the endpoints whose types and filter take it, and keeps skipped ones for disabled endpoints", async () => {
    const harness = setup();
    const exams = await harness.addEndpoint({ eventTypes: ["exam.*"], headers: { "x-tenant": "t1" } });
    const grading = await harness.addEndpoint({ eventTypes: ["grading.completed"] });
    const highScores = await harness.addEndpoint({ eventTypes: ["*"], filter: "data.score >= 50" });
    const off = await harness.addEndpoint({ eventTypes: ["exam.*"], status: "disabled", disabledReason: "manual" });

    const [created] = await harness.emit({ type: "exam.created", data: { score: 10 }, partitionkey: "exam-1" });
    const [completed] = await harness.emit({ type: "grading.completed", data: { score: 70 } });
    await harness.dispatcher.runDue();

    expect(harness.sender.to(exams.url).map((request) => request.headers["webhook-id"])).toEqual([created!.id]);
    expect(harness.sender.to(grading.url).map((request) => request.headers["webhook-id"])).toEqual([completed!.id]);
    expect(harness.sender.to(highScores.url).map((request) => request.headers["webhook-id"])).toEqual([completed!.id]);
    expect(harness.sender.to(off.url)).toEqual([]);
    expect(await harness.store.endpointStats({ since: "2026-01-01T00:00:00.000Z", endpointIds: [off.id] })).toMatchObject([{ skipped: 1, pending: 0 }]);

    const [request] = harness.sender.to(exams.url);
    const { streamid: _streamid, streamversion: _streamversion, ...resource } = created!;
    expect(JSON.parse(request!.body)).toEqual(resource);
    expect(request!.headers).toMatchObject({
      "x-tenant": "t1",
      "content-type": "application/json",
      "user-agent": WEBHOOK_USER_AGENT,
      "webhook-id": created!.id,
      "webhook-timestamp": String(Math.floor(harness.clock.now() / 1000)),
    });
    expect(() => verifyWebhook(exams.secrets[0]!.secret, request!.headers, request!.body, { now: new Date(harness.clock.now()) })).not.toThrow();
  });

  it("takes a lease long enough for a long timeout, and refuses one too short for it", () => {
    expect(() => setup({ timeoutMs: 60_000 })).not.toThrow();
    expect(() => setup({ timeoutMs: 60_000, leaseMs: 60_000 })).toThrow(/leaseMs/);
  });

  it("stores no second delivery for a redelivered event", async () => {
    const harness = setup();
    const endpoint = await harness.addEndpoint();
    const [event] = await harness.emit({ type: "exam.created", data: {} });
    await harness.handler.handle(event!);
    await harness.dispatcher.runDue();
    expect(harness.sender.to(endpoint.url)).toHaveLength(1);
    expect((await harness.store.endpointStats({ since: "2026-01-01T00:00:00.000Z" }))[0]).toMatchObject({ pending: 0, failed: 0 });
  });

  it("retries on the schedule with its jitter: three failures, then one success in four attempts", async () => {
    // Jitter at both ends of its range, in turn.
    const randoms = [0, 0.999999];
    let draws = 0;
    const harness = setup({ random: () => randoms[draws++ % 2]! });
    const endpoint = await harness.addEndpoint();
    harness.sender.script(endpoint.url, [{ status: 500 }, { status: 502 }, { status: 504 }, { status: 204 }]);
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();

    for (let failure = 1; failure <= 3; failure++) {
      const [delivery] = (await deliveriesOf(harness, endpoint.id)).slice(-1);
      expect(delivery).toMatchObject({ attempt: failure, status: "failed" });
      const delayMs = Date.parse(delivery!.nextAttemptAt!) - harness.clock.now();
      const scheduled = STANDARD_WEBHOOK_SCHEDULE_MS[failure]!;
      expect(delayMs).toBeGreaterThanOrEqual(scheduled * 0.8);
      expect(delayMs).toBeLessThanOrEqual(scheduled * 1.2);
      // Not due a moment early.
      harness.clock.advance(delayMs - 1);
      expect(await harness.dispatcher.runDue()).toBe(0);
      harness.clock.advance(1);
      expect(await harness.dispatcher.runDue()).toBe(1);
    }

    const attempts = await deliveriesOf(harness, endpoint.id);
    expect(attempts.map((attempt) => [attempt.attempt, attempt.status, attempt.response?.status])).toEqual([
      [1, "failed", 500],
      [2, "failed", 502],
      [3, "failed", 504],
      [4, "succeeded", 204],
    ]);
    expect(attempts.map((attempt) => attempt.trigger)).toEqual(["scheduled", "scheduled", "scheduled", "scheduled"]);
    const delivery = await harness.store.getDelivery(attempts[0]!.deliveryId);
    expect(delivery).toMatchObject({ status: "succeeded", attempts: 4, nextAttemptAt: null, lastResponseStatus: 204, lastError: null });
    expect(harness.sender.to(endpoint.url).map((request) => request.headers["webhook-id"])).toEqual(Array(4).fill(attempts[0]!.eventId));
    harness.clock.advance(STANDARD_WEBHOOK_SCHEDULE_MS.at(-1)! * 2);
    expect(await harness.dispatcher.runDue()).toBe(0);
  });

  it("fails a delivery for good after the tenth failed attempt", async () => {
    // The schedule (about three days) ends before auto-disabling would.
    const harness = setup({ autoDisableAfterMs: 30 * 24 * 3_600_000 });
    const endpoint = await harness.addEndpoint();
    harness.sender.script(endpoint.url, [{ status: 500 }]);
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    for (let round = 0; round < 20; round++) {
      harness.clock.advance(25 * 3_600_000);
      await harness.dispatcher.runDue();
    }
    const attempts = await deliveriesOf(harness, endpoint.id);
    expect(attempts).toHaveLength(STANDARD_WEBHOOK_SCHEDULE_MS.length);
    expect(attempts.at(-1)).toMatchObject({ attempt: 10, nextAttemptAt: null });
    expect(await harness.store.getDelivery(attempts[0]!.deliveryId)).toMatchObject({ status: "failed", attempts: 10, nextAttemptAt: null });
  });

  it("honours a longer Retry-After on 429 and 503 (seconds or an HTTP date), never a shorter one", async () => {
    const harness = setup();
    const endpoint = await harness.addEndpoint();
    const inTwoHours = new Date(harness.clock.now() + 2 * 3_600_000).toUTCString();
    harness.sender.script(endpoint.url, [
      { status: 429, headers: { "Retry-After": "120" } },
      { status: 503, headers: { "retry-after": inTwoHours } },
      { status: 503, headers: { "retry-after": "1" } },
      { status: 500, headers: { "retry-after": "36000" } },
    ]);
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const [last] = (await deliveriesOf(harness, endpoint.id)).slice(-1);
      const delayMs = Date.parse(last!.nextAttemptAt!) - harness.clock.now();
      delays.push(delayMs);
      harness.clock.advance(delayMs);
      await harness.dispatcher.runDue();
    }
    expect(delays).toEqual([120_000, 2 * 3_600_000 - 120_000, STANDARD_WEBHOOK_SCHEDULE_MS[3], STANDARD_WEBHOOK_SCHEDULE_MS[4]]);
  });

  it("counts a redirect as a failure and does not follow it", async () => {
    const harness = setup();
    const endpoint = await harness.addEndpoint();
    harness.sender.script(endpoint.url, [{ status: 301, headers: { location: "https://elsewhere.example/" } }]);
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    const [attempt] = await deliveriesOf(harness, endpoint.id);
    expect(attempt).toMatchObject({ status: "failed", error: "redirect (HTTP 301) not followed", response: { status: 301 } });
    expect(attempt!.nextAttemptAt).not.toBeNull();
    expect(harness.metrics.attempts).toEqual([{ outcome: "failed", reason: "http_3xx", endpointId: endpoint.id }]);
    expect(harness.sender.requests.map((request) => request.url)).toEqual([endpoint.url]);
  });

  it("disables the endpoint at once on 410, announces it, and keeps later events as skipped", async () => {
    const harness = setup();
    const endpoint = await harness.addEndpoint();
    harness.sender.script(endpoint.url, [{ status: 410 }]);
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();

    const [attempt] = await deliveriesOf(harness, endpoint.id);
    expect(attempt).toMatchObject({ status: "failed", nextAttemptAt: null });
    expect(await harness.store.getDelivery(attempt!.deliveryId)).toMatchObject({ status: "failed" });
    expect(await harness.store.getEndpoint(endpoint.id)).toMatchObject({ status: "disabled", disabledReason: "gone", disabledAt: new Date(harness.clock.now()).toISOString() });
    const notices = harness.published.filter((event) => event.type === WEBHOOK_EVENT_TYPES.disabled);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ subject: endpoint.id, data: { endpointId: endpoint.id, url: endpoint.url, reason: "gone", actor: { id: "dispatcher" } } });
    expect(harness.metrics.attempts).toEqual([{ outcome: "failed", reason: "gone", endpointId: endpoint.id }]);

    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    expect(harness.sender.to(endpoint.url)).toHaveLength(1);
    expect((await harness.store.endpointStats({ since: "2026-01-01T00:00:00.000Z", endpointIds: [endpoint.id] }))[0]).toMatchObject({ skipped: 1 });
  });

  it("marks the start of a run of failures, clears it on success, and disables after failing for the whole period", async () => {
    const harness = setup({ autoDisableAfterMs: 3_600_000 });
    const endpoint = await harness.addEndpoint({ eventTypes: ["exam.*"] });
    harness.sender.script(endpoint.url, [{ status: 500 }, { status: 200 }, { status: 500 }]);
    const start = new Date(harness.clock.now()).toISOString();
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    expect(await harness.store.getEndpoint(endpoint.id)).toMatchObject({ status: "enabled", failingSince: start });

    await harness.emit({ type: "exam.graded", data: {} });
    await harness.dispatcher.runDue();
    expect(await harness.store.getEndpoint(endpoint.id)).toMatchObject({ failingSince: null });

    const failingFrom = harness.clock.now();
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    harness.clock.advance(3_600_000 - 1);
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    expect(await harness.store.getEndpoint(endpoint.id)).toMatchObject({ status: "enabled", failingSince: new Date(failingFrom).toISOString() });

    harness.clock.advance(1);
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    expect(await harness.store.getEndpoint(endpoint.id)).toMatchObject({ status: "disabled", disabledReason: "failing" });
    const notices = harness.published.filter((event) => event.type === WEBHOOK_EVENT_TYPES.disabled);
    expect(notices.map((event) => event.data)).toEqual([
      expect.objectContaining({ reason: "failing", failingSince: new Date(failingFrom).toISOString(), actor: expect.objectContaining({ id: "dispatcher" }) }),
    ]);
    const requests = harness.sender.to(endpoint.url).length;
    await harness.emit({ type: "exam.created", data: {} });
    harness.clock.advance(3_600_000);
    await harness.dispatcher.runDue();
    expect(harness.sender.to(endpoint.url)).toHaveLength(requests);
  });

  it("catches up skipped deliveries in throttled batches after the endpoint is enabled", async () => {
    const harness = setup({ catchUpBatch: 2 });
    const endpoint = await harness.addEndpoint({ status: "disabled", disabledReason: "manual", orderedByKey: true });
    const events = await harness.emit(...[1, 2, 3, 4, 5].map((n) => ({ type: "exam.created", data: { n }, partitionkey: "exam-1" })));
    await harness.dispatcher.runDue();
    expect(harness.sender.to(endpoint.url)).toEqual([]);

    const stored = (await harness.store.getEndpoint(endpoint.id))!;
    await harness.store.updateEndpoint({ ...stored, status: "enabled", disabledReason: null });
    harness.dispatcher.invalidateEndpoints();
    expect(await harness.dispatcher.catchUp(endpoint.id)).toBe(2);
    const sentAfter: number[] = [];
    for (let second = 0; second < 5; second++) {
      await harness.dispatcher.runDue();
      sentAfter.push(harness.sender.to(endpoint.url).length);
      harness.clock.advance(1_000);
    }
    expect(sentAfter).toEqual([2, 4, 5, 5, 5]);
    // In log order: the catch-up keeps an ordered endpoint's order.
    expect(harness.sender.to(endpoint.url).map((request) => request.headers["webhook-id"])).toEqual(events.map((event) => event.id));
    expect(harness.dispatcher.stats().catchingUp).toEqual([]);
  });

  it("resumes an unfinished catch-up when it starts", async () => {
    const harness = setup({ catchUpBatch: 2, pollIntervalMs: 1 });
    const endpoint = await harness.addEndpoint({ status: "disabled", disabledReason: "manual" });
    await harness.emit(...[1, 2, 3].map((n) => ({ type: "exam.created", data: { n } })));
    // Enabled by a process that stopped before catching up.
    const stored = (await harness.store.getEndpoint(endpoint.id))!;
    await harness.store.updateEndpoint({ ...stored, status: "enabled", disabledReason: null });

    harness.dispatcher.start();
    await until(() => harness.sender.to(endpoint.url).length === 2, "the first batch");
    harness.clock.advance(1_000);
    await until(() => harness.sender.to(endpoint.url).length === 3, "the second batch");
    await harness.dispatcher.stop();
    expect((await harness.store.endpointStats({ since: "2026-01-01T00:00:00.000Z", endpointIds: [endpoint.id] }))[0]).toMatchObject({ skipped: 0, pending: 0 });
  });

  it("does not let a slow endpoint hold back another, and keeps the slow one to its own slots", async () => {
    const harness = setup({ perEndpointConcurrency: 2 });
    const slow = await harness.addEndpoint();
    const fast = await harness.addEndpoint();
    harness.sender.script(slow.url, [{ status: 200, gated: true }]);
    const events = await harness.emit(...[1, 2, 3].map((n) => ({ type: "exam.created", data: { n } })));

    await until(() => harness.sender.to(fast.url).length === 3 && harness.sender.timeline.filter((entry) => entry.startsWith(`end ${fast.url}`)).length === 3, "the fast endpoint");
    // The fast endpoint got all three while the slow one has two requests hanging and holds its third.
    expect(harness.sender.to(slow.url)).toHaveLength(2);
    expect(harness.sender.timeline.filter((entry) => entry.startsWith(`end ${slow.url}`))).toEqual([]);
    expect(harness.dispatcher.stats().endpoints.find((lane) => lane.endpointId === slow.id)).toMatchObject({ inFlight: 2, held: 1 });

    harness.sender.open(slow.url);
    await harness.dispatcher.runDue();
    expect(harness.sender.to(slow.url).map((request) => request.headers["webhook-id"])).toEqual(events.map((event) => event.id));
    const lastFastEnd = harness.sender.timeline.lastIndexOf(`end ${fast.url} ${events[2]!.id}`);
    const firstSlowEnd = harness.sender.timeline.findIndex((entry) => entry.startsWith(`end ${slow.url}`));
    expect(lastFastEnd).toBeLessThan(firstSlowEnd);
  });

  it("opens the circuit after 5 failures: deliveries wait for the probe without attempts; a good probe closes it", async () => {
    const harness = setup();
    const endpoint = await harness.addEndpoint();
    harness.sender.script(endpoint.url, [{ status: 500 }]);
    await harness.emit(...[1, 2, 3, 4, 5].map((n) => ({ type: "exam.created", data: { n } })));
    await harness.dispatcher.runDue();
    expect(harness.sender.to(endpoint.url)).toHaveLength(5);
    expect(harness.dispatcher.stats().endpoints[0]).toMatchObject({ circuit: "open" });

    const [sixth] = await harness.emit({ type: "exam.created", data: { n: 6 } });
    // The retries come due (5 s) while the circuit is open: still nothing goes out.
    harness.clock.advance(10_000);
    expect(await harness.dispatcher.runDue()).toBe(0);
    expect(harness.sender.to(endpoint.url)).toHaveLength(5);
    expect(harness.metrics.deferrals).toEqual([{ reason: "circuit_open", endpointId: endpoint.id }]);
    const held = (await harness.store.listAttempts({ endpointId: endpoint.id, limit: 100 })).items;
    expect(held.some((attempt) => attempt.eventId === sixth!.id)).toBe(false);

    // A failed probe opens it again: one request only.
    harness.clock.advance(20_000);
    expect(await harness.dispatcher.runDue()).toBe(1);
    expect(harness.sender.to(endpoint.url)).toHaveLength(6);
    expect(harness.dispatcher.stats().endpoints[0]).toMatchObject({ circuit: "open" });

    // A good probe closes it and the rest follow.
    harness.sender.script(endpoint.url, [{ status: 200 }]);
    harness.clock.advance(30_000);
    await harness.dispatcher.runDue();
    expect(harness.dispatcher.stats().endpoints[0]).toMatchObject({ circuit: "closed" });
    const stats = (await harness.store.endpointStats({ since: "2026-01-01T00:00:00.000Z", endpointIds: [endpoint.id] }))[0];
    expect(stats).toMatchObject({ pending: 0, failed: 0 });
    const succeeded = (await deliveriesOf(harness, endpoint.id)).filter((attempt) => attempt.status === "succeeded").map((attempt) => attempt.eventId);
    expect(succeeded).toHaveLength(6);
    expect(new Set(succeeded).size).toBe(6);
  });

  it("delivers in order per key on an ordered endpoint: a failing event holds back its key, not the others", async () => {
    const harness = setup();
    const endpoint = await harness.addEndpoint({ orderedByKey: true });
    let firstTry = true;
    harness.sender.respondWith(endpoint.url, (request) => {
      if (JSON.parse(request.body).data.name === "a1" && firstTry) {
        firstTry = false;
        return { status: 500 };
      }
      return { status: 200 };
    });
    await harness.emit(
      { type: "exam.created", data: { name: "a1" }, partitionkey: "a" },
      { type: "exam.created", data: { name: "a2" }, partitionkey: "a" },
      { type: "exam.created", data: { name: "b1" }, partitionkey: "b" },
      { type: "exam.created", data: { name: "b2" }, partitionkey: "b" },
    );
    await harness.dispatcher.runDue();
    const names = () => harness.sender.to(endpoint.url).map((request) => JSON.parse(request.body).data.name as string);
    expect(names().sort()).toEqual(["a1", "b1", "b2"]);
    expect(names().indexOf("b1")).toBeLessThan(names().indexOf("b2"));

    harness.clock.advance(6_000);
    await harness.dispatcher.runDue();
    expect(names().slice(3)).toEqual(["a1", "a2"]);
  });

  it("keeps to an endpoint's rate limit", async () => {
    const harness = setup();
    const endpoint = await harness.addEndpoint({ rateLimitPerSecond: 2 });
    await harness.emit(...[1, 2, 3, 4, 5].map((n) => ({ type: "exam.created", data: { n } })));
    await harness.dispatcher.runDue();
    expect(harness.sender.to(endpoint.url)).toHaveLength(2);
    expect(harness.metrics.deferrals).toEqual([{ reason: "rate_limited", endpointId: endpoint.id }]);
    harness.clock.advance(500);
    await harness.dispatcher.runDue();
    expect(harness.sender.to(endpoint.url)).toHaveLength(3);
    harness.clock.advance(1_000);
    await harness.dispatcher.runDue();
    expect(harness.sender.to(endpoint.url)).toHaveLength(5);
  });

  it("takes a sender that throws anything as a failed attempt and goes on", async () => {
    const harness = setup();
    // Two endpoints, so that no circuit opens on the way.
    const broken = await harness.addEndpoint({ eventTypes: ["exam.created"] });
    const failing = await harness.addEndpoint({ eventTypes: ["exam.graded"] });
    harness.sender.script(broken.url, [{ error: "a string" }, { error: undefined }, { error: Object.create(null) as object }, { error: new TypeError("boom") }, { status: 200 }]);
    harness.sender.script(failing.url, [
      { error: new WebhookSendError("timeout", "no answer within 15000 ms", 15_000) },
      // Another copy of the class (a second bundle): recognised by its shape.
      { error: { name: "WebhookSendError", kind: "connection", message: "connection reset", durationMs: 4 } },
      { status: 200 },
    ]);
    for (let n = 1; n <= 5; n++) await harness.emit({ type: "exam.created", data: { n } });
    for (let n = 1; n <= 3; n++) await harness.emit({ type: "exam.graded", data: { n } });
    await harness.dispatcher.runDue();

    const byEvent = async (endpointId: string) =>
      (await deliveriesOf(harness, endpointId)).sort((a, b) => (harness.published.findIndex((event) => event.id === a.eventId) - harness.published.findIndex((event) => event.id === b.eventId)));
    const brokenAttempts = await byEvent(broken.id);
    expect(brokenAttempts.map((attempt) => [attempt.status, attempt.response === null])).toEqual([...Array(4).fill(["failed", true]), ["succeeded", false]]);
    expect(brokenAttempts[0]!.error).toContain("a string");
    expect(brokenAttempts[1]!.error).toContain("undefined");
    expect(brokenAttempts[3]!.error).toContain("boom");
    const failingAttempts = await byEvent(failing.id);
    expect(failingAttempts.map((attempt) => [attempt.status, attempt.error, attempt.durationMs])).toEqual([
      ["failed", "no answer within 15000 ms", 15_000],
      ["failed", "connection reset", 4],
      ["succeeded", null, 3],
    ]);
    expect(harness.metrics.attempts.filter((attempt) => attempt.endpointId === broken.id).map((attempt) => attempt.reason)).toEqual(["error", "error", "error", "error", null]);
    expect(harness.metrics.attempts.filter((attempt) => attempt.endpointId === failing.id).map((attempt) => attempt.reason)).toEqual(["timeout", "connection", null]);
    expect(harness.errors).toEqual([]);
  });

  it("signs with every unexpired secret: both signatures verify during a rotation", async () => {
    const harness = setup();
    const [current, previous, expired] = [generateWebhookSecret(), generateWebhookSecret(), generateWebhookSecret()];
    const now = harness.clock.now();
    const endpoint = await harness.addEndpoint({
      secrets: [
        { secret: current, createdAt: new Date(now).toISOString(), expiresAt: null },
        { secret: previous, createdAt: new Date(now - 1_000).toISOString(), expiresAt: new Date(now + 3_600_000).toISOString() },
        { secret: expired, createdAt: new Date(now - 2_000).toISOString(), expiresAt: new Date(now).toISOString() },
      ],
    });
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    const [request] = harness.sender.to(endpoint.url);
    expect(request!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    const at = { now: new Date(now) };
    expect(() => verifyWebhook(current, request!.headers, request!.body, at)).not.toThrow();
    expect(() => verifyWebhook(previous, request!.headers, request!.body, at)).not.toThrow();
    expect(() => verifyWebhook(expired, request!.headers, request!.body, at)).toThrow(/signature/);
  });

  it("makes a resent delivery due now with trigger manual, and labels recovered ones", async () => {
    const harness = setup();
    const endpoint = await harness.addEndpoint();
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    const [first] = await deliveriesOf(harness, endpoint.id);
    await harness.store.requeue(first!.deliveryId, new Date(harness.clock.now()).toISOString());
    expect(await harness.dispatcher.deliverNow(first!.deliveryId)).toBe(true);
    await harness.dispatcher.runDue();
    expect((await deliveriesOf(harness, endpoint.id)).map((attempt) => [attempt.attempt, attempt.trigger])).toEqual([
      [1, "scheduled"],
      [2, "manual"],
    ]);
    // Nothing pending: nothing to claim.
    expect(await harness.dispatcher.deliverNow(first!.deliveryId)).toBe(false);
    expect(await harness.dispatcher.deliverNow(newId())).toBe(false);
  });

  it("fails for good a delivery whose event is not in the log, without a request", async () => {
    const harness = setup();
    const endpoint = await harness.addEndpoint();
    const [delivery] = await harness.store.createDeliveries([
      {
        id: newId(),
        endpointId: endpoint.id,
        eventId: newId(),
        eventType: "webhook.test",
        position: 0,
        partitionKey: null,
        status: "pending",
        nextAttemptAt: new Date(harness.clock.now()).toISOString(),
        createdAt: new Date(harness.clock.now()).toISOString(),
        leaseOwner: null,
        leaseUntil: null,
      },
    ]);
    await harness.dispatcher.runDue();
    expect(harness.sender.requests).toEqual([]);
    expect(await harness.store.getDelivery(delivery!.id)).toMatchObject({ status: "failed", attempts: 1, lastError: expect.stringContaining("not in the log") });
  });

  it("stop() lets running attempts finish and writes their records", async () => {
    const harness = setup();
    const endpoint = await harness.addEndpoint();
    harness.sender.script(endpoint.url, [{ status: 200, gated: true }]);
    await harness.emit({ type: "exam.created", data: {} });
    await until(() => harness.sender.requests.length === 1, "the request");
    const stopped = harness.dispatcher.stop();
    harness.sender.open(endpoint.url);
    await stopped;
    expect(await deliveriesOf(harness, endpoint.id)).toMatchObject([{ status: "succeeded" }]);
  });

  it("delivers again when started after a stop", async () => {
    const harness = setup({ pollIntervalMs: 1 });
    const endpoint = await harness.addEndpoint();
    harness.dispatcher.start();
    await harness.dispatcher.stop();
    harness.dispatcher.start();
    await harness.emit({ type: "exam.created", data: {} });
    await until(() => harness.sender.to(endpoint.url).length === 1, "the delivery");
  });

  it("stop() aborts attempts still running after the grace period; they are recorded as failed", async () => {
    const harness = setup({ stopGraceMs: 0 });
    const endpoint = await harness.addEndpoint();
    harness.sender.script(endpoint.url, [{ status: 200, gated: true }]);
    await harness.emit({ type: "exam.created", data: {} });
    await until(() => harness.sender.requests.length === 1, "the request");
    await harness.dispatcher.stop();
    const [attempt] = await deliveriesOf(harness, endpoint.id);
    expect(attempt).toMatchObject({ status: "failed", error: "the request was aborted" });
    expect(await harness.store.getDelivery(attempt!.deliveryId)).toMatchObject({ status: "pending", attempts: 1 });
  });
});
