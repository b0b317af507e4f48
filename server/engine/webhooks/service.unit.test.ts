import { afterEach, describe, expect, it } from "vitest";
import { newId } from "../core/ids";
import { WEBHOOK_EVENT_TYPES } from "./events";
import { InMemoryWebhookStore } from "./memory-webhook-store";
import { MAX_RECOVER } from "./service";
import { verifyWebhook } from "./signing";
import { TEST_PRINCIPAL, webhookHarness } from "./webhook.fixtures";
import type { WebhookEndpoint } from "./webhook-store";

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

const receiver = (path = newId()) => `https://receiver.example/${path}`;

function audit(harness: Harness, type?: string) {
  return harness.published.filter((event) => (type === undefined ? event.type.startsWith("webhook.") : event.type === type));
}

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; issues?: Array<{ path: string; message: string }> }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string; issues?: Array<{ path: string; message: string }> };
  }
  throw new Error("expected a rejection");
}

describe("WebhookService", () => {
  describe("createEndpoint", () => {
    it("stores an enabled endpoint with a whsec_ secret shown once, and records who created it", async () => {
      const harness = setup();
      const { endpoint, secret } = await harness.service.createEndpoint(
        { url: receiver("hooks"), eventTypes: ["exam.*"], description: "grading system", headers: { "x-api-key": "k" }, rateLimitPerSecond: 20, orderedByKey: true },
        TEST_PRINCIPAL,
      );
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      expect(endpoint).toMatchObject({ status: "enabled", description: "grading system", filter: null, rateLimitPerSecond: 20, orderedByKey: true, createdBy: TEST_PRINCIPAL.id });
      expect(endpoint.secrets).toEqual([{ secret, createdAt: expect.any(String), expiresAt: null }]);
      expect(audit(harness).map((event) => [event.type, event.subject, event.data])).toEqual([
        [
          WEBHOOK_EVENT_TYPES.created,
          endpoint.id,
          { endpointId: endpoint.id, url: endpoint.url, actor: { id: TEST_PRINCIPAL.id, name: TEST_PRINCIPAL.name }, changes: ["description", "eventTypes", "headers", "orderedByKey", "rateLimitPerSecond", "url"] },
        ],
      ]);
      expect(JSON.stringify(audit(harness))).not.toContain(secret.slice(6));

      // Delivered at once: the dispatcher's routing table knows it.
      await harness.emit({ type: "exam.created", data: {} });
      await harness.dispatcher.runDue();
      const [request] = harness.sender.to(endpoint.url);
      expect(() => verifyWebhook(secret, request!.headers, request!.body, { now: new Date(harness.clock.now()) })).not.toThrow();
    });

    it("answers 422 naming every bad field: scheme, blocked address, unknown type, filter, header, id", async () => {
      const harness = setup();
      const cases: Array<[Record<string, unknown>, string[]]> = [
        [{ url: "ftp://receiver.example/x", eventTypes: ["exam.*"] }, ["url"]],
        [{ url: "not a url", eventTypes: ["exam.*"] }, ["url"]],
        [{ url: "https://internal.example/x", eventTypes: ["exam.craeted", "*"] }, ["url", "eventTypes[0]"]],
        [{ url: "https://nowhere.example/x", eventTypes: ["exam.*"] }, ["url"]],
        [{ url: receiver(), eventTypes: ["exam.*"], filter: "data.score >=" }, ["filter"]],
        [{ url: receiver(), eventTypes: [], headers: { "webhook-id": "x" } }, ["eventTypes", 'headers["webhook-id"]']],
        [{ url: receiver(), eventTypes: ["*"], id: "not-a-uuid" }, ["id"]],
        [{ eventTypes: ["*"] }, ["url"]],
      ];
      for (const [input, paths] of cases) {
        const error = await rejection(harness.service.createEndpoint(input as never, TEST_PRINCIPAL));
        expect({ input, code: error.code, paths: error.issues?.map((issue) => issue.path).sort() }).toEqual({ input, code: "validation", paths: [...paths].sort() });
      }
      const blocked = await rejection(harness.service.createEndpoint({ url: "https://internal.example/x", eventTypes: ["*"] }, TEST_PRINCIPAL));
      expect(blocked.issues?.[0]?.message).toContain("10.0.0.5");
      const filter = await rejection(harness.service.createEndpoint({ url: receiver(), eventTypes: ["*"], filter: "data.score >=" }, TEST_PRINCIPAL));
      expect(filter.issues?.[0]?.message).toMatch(/position/);
      expect(await harness.store.allEndpoints()).toEqual([]);
      expect(audit(harness)).toEqual([]);
    });

    it("answers a repeated create with the same id with the endpoint the first one made", async () => {
      const harness = setup();
      const id = newId();
      const first = await harness.service.createEndpoint({ id, url: receiver(), eventTypes: ["*"] }, TEST_PRINCIPAL);
      const again = await harness.service.createEndpoint({ id, url: receiver(), eventTypes: ["*"] }, TEST_PRINCIPAL);
      expect(again).toEqual(first);
      expect(audit(harness, WEBHOOK_EVENT_TYPES.created)).toHaveLength(1);
    });

    it("creates a disabled endpoint whose events are kept as skipped", async () => {
      const harness = setup();
      const { endpoint } = await harness.service.createEndpoint({ url: receiver(), eventTypes: ["*"], disabled: true }, TEST_PRINCIPAL);
      expect(endpoint).toMatchObject({ status: "disabled", disabledReason: "manual" });
      await harness.emit({ type: "exam.created", data: {} });
      expect((await harness.service.getEndpoint(endpoint.id)).stats).toMatchObject({ skipped: 1 });
    });
  });

  describe("updateEndpoint", () => {
    it("changes only the fields given, records which, and routes by the new settings at once", async () => {
      const harness = setup();
      const { endpoint } = await harness.service.createEndpoint({ url: receiver(), eventTypes: ["exam.*"], filter: "data.score > 90" }, TEST_PRINCIPAL);
      const updated = await harness.service.updateEndpoint(endpoint.id, { eventTypes: ["grading.completed"], filter: null, description: "new" }, TEST_PRINCIPAL);
      expect(updated).toMatchObject({ url: endpoint.url, eventTypes: ["grading.completed"], filter: null, description: "new" });
      expect(audit(harness, WEBHOOK_EVENT_TYPES.updated).map((event) => event.data)).toEqual([expect.objectContaining({ changes: ["description", "eventTypes", "filter"] })]);

      await harness.emit({ type: "exam.created", data: { score: 99 } }, { type: "grading.completed", data: { score: 1 } });
      await harness.dispatcher.runDue();
      expect(harness.sender.to(endpoint.url).map((request) => JSON.parse(request.body).type)).toEqual(["grading.completed"]);

      // Nothing changes, nothing is recorded.
      await harness.service.updateEndpoint(endpoint.id, { description: "new" }, TEST_PRINCIPAL);
      expect(audit(harness, WEBHOOK_EVENT_TYPES.updated)).toHaveLength(1);
    });

    it("validates like create, and answers 404 for an unknown endpoint", async () => {
      const harness = setup();
      const { endpoint } = await harness.service.createEndpoint({ url: receiver(), eventTypes: ["*"] }, TEST_PRINCIPAL);
      const error = await rejection(harness.service.updateEndpoint(endpoint.id, { url: "https://internal.example/", rateLimitPerSecond: 0, extra: 1 } as never, TEST_PRINCIPAL));
      expect(error.issues?.map((issue) => issue.path).sort()).toEqual(["extra", "rateLimitPerSecond", "url"]);
      expect(await rejection(harness.service.updateEndpoint(newId(), { description: "x" }, TEST_PRINCIPAL))).toMatchObject({ code: "not_found" });
      expect(await rejection(harness.service.updateEndpoint("nope", { description: "x" }, TEST_PRINCIPAL))).toMatchObject({ code: "not_found" });
    });

    it("re-applies an edit when the dispatcher wrote the endpoint meanwhile", async () => {
      const harness = setup();
      const { endpoint } = await harness.service.createEndpoint({ url: receiver(), eventTypes: ["*"] }, TEST_PRINCIPAL);
      const store = harness.store as InMemoryWebhookStore;
      const update = store.updateEndpoint.bind(store);
      let raced = false;
      store.updateEndpoint = async (next: WebhookEndpoint) => {
        if (!raced) {
          raced = true;
          const current = (await store.getEndpoint(next.id))!;
          await update({ ...current, failingSince: "2026-03-01T11:00:00.000Z" });
        }
        return update(next);
      };
      const updated = await harness.service.updateEndpoint(endpoint.id, { description: "edited" }, TEST_PRINCIPAL);
      expect(updated).toMatchObject({ description: "edited", failingSince: "2026-03-01T11:00:00.000Z" });
    });
  });

  it("disabling keeps events as skipped; enabling records it, starts the run of failures afresh and catches them up", async () => {
    const harness = setup({ catchUpBatch: 2 });
    const { endpoint } = await harness.service.createEndpoint({ url: receiver(), eventTypes: ["*"] }, TEST_PRINCIPAL);
    const disabled = await harness.service.setEnabled(endpoint.id, false, TEST_PRINCIPAL);
    expect(disabled).toMatchObject({ status: "disabled", disabledReason: "manual" });
    expect(audit(harness, WEBHOOK_EVENT_TYPES.disabled).map((event) => event.data)).toEqual([
      expect.objectContaining({ reason: "manual", actor: { id: TEST_PRINCIPAL.id, name: TEST_PRINCIPAL.name }, detail: `disabled by ${TEST_PRINCIPAL.name}` }),
    ]);
    // Again: nothing changes, nothing is recorded.
    await harness.service.setEnabled(endpoint.id, false, TEST_PRINCIPAL);
    expect(audit(harness, WEBHOOK_EVENT_TYPES.disabled)).toHaveLength(1);

    await harness.emit(...[1, 2, 3].map((n) => ({ type: "exam.created", data: { n } })));
    await harness.dispatcher.runDue();
    expect(harness.sender.to(endpoint.url)).toEqual([]);

    const stored = (await harness.store.getEndpoint(endpoint.id))!;
    await harness.store.updateEndpoint({ ...stored, failingSince: "2026-02-01T00:00:00.000Z" });
    const enabled = await harness.service.setEnabled(endpoint.id, true, TEST_PRINCIPAL);
    expect(enabled).toMatchObject({ status: "enabled", disabledReason: null, disabledAt: null, failingSince: null });
    expect(audit(harness, WEBHOOK_EVENT_TYPES.enabled).map((event) => event.data)).toEqual([expect.objectContaining({ changes: ["status"] })]);
    await harness.dispatcher.runDue();
    expect(harness.sender.to(endpoint.url)).toHaveLength(2);
    harness.clock.advance(1_000);
    await harness.dispatcher.runDue();
    expect(harness.sender.to(endpoint.url)).toHaveLength(3);
  });

  it("rotates the secret: the old one signs beside the new one for the grace period, then stops", async () => {
    const harness = setup();
    const { endpoint, secret: old } = await harness.service.createEndpoint({ url: receiver(), eventTypes: ["*"] }, TEST_PRINCIPAL);
    const rotated = await harness.service.rotateSecret(endpoint.id, TEST_PRINCIPAL);
    expect(rotated.secret).not.toBe(old);
    expect(rotated.endpoint.secrets).toEqual([
      { secret: rotated.secret, createdAt: expect.any(String), expiresAt: null },
      { secret: old, createdAt: expect.any(String), expiresAt: new Date(harness.clock.now() + 24 * 3_600_000).toISOString() },
    ]);
    expect(audit(harness, WEBHOOK_EVENT_TYPES.secretRotated).map((event) => event.data)).toEqual([expect.objectContaining({ changes: ["secrets"] })]);

    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    const [during] = harness.sender.to(endpoint.url);
    expect(during!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    const at = (time: number) => ({ now: new Date(time) });
    expect(() => verifyWebhook(rotated.secret, during!.headers, during!.body, at(during!.at))).not.toThrow();
    expect(() => verifyWebhook(old, during!.headers, during!.body, at(during!.at))).not.toThrow();

    harness.clock.advance(24 * 3_600_000);
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    const after = harness.sender.to(endpoint.url)[1]!;
    expect(after.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
    expect(() => verifyWebhook(rotated.secret, after.headers, after.body, at(after.at))).not.toThrow();
    expect(() => verifyWebhook(old, after.headers, after.body, at(after.at))).toThrow(/signature/);

    // A second rotation drops the secret whose grace is over.
    const again = await harness.service.rotateSecret(endpoint.id, TEST_PRINCIPAL, 0);
    expect(again.endpoint.secrets.map((secret) => secret.secret)).toEqual([again.secret]);
    expect(await rejection(harness.service.rotateSecret(endpoint.id, TEST_PRINCIPAL, -1))).toMatchObject({ code: "validation" });
  });

  it("sends a test delivery now, never retried, with a fresh id each time, and returns its attempt", async () => {
    const harness = setup();
    const { endpoint, secret } = await harness.service.createEndpoint({ url: receiver(), eventTypes: ["exam.*"] }, TEST_PRINCIPAL);
    harness.sender.script(endpoint.url, [{ status: 200, body: "ok" }, { status: 500 }]);
    const first = await harness.service.sendTest(endpoint.id, {}, TEST_PRINCIPAL);
    expect(first).toMatchObject({ trigger: "test", status: "succeeded", eventType: WEBHOOK_EVENT_TYPES.test, attempt: 1, response: { status: 200, body: "ok" } });
    expect(await harness.store.getAttempt(first.id)).toEqual(first);
    const [request] = harness.sender.to(endpoint.url);
    expect(JSON.parse(request!.body)).toMatchObject({ id: first.eventId, type: WEBHOOK_EVENT_TYPES.test, position: 0, data: { endpointId: endpoint.id, message: expect.any(String) } });
    expect(() => verifyWebhook(secret, request!.headers, request!.body, { now: new Date(harness.clock.now()) })).not.toThrow();

    const second = await harness.service.sendTest(endpoint.id, { type: "exam.created", data: { examId: "e-1" } }, TEST_PRINCIPAL);
    expect(second).toMatchObject({ trigger: "test", status: "failed", eventType: "exam.created", nextAttemptAt: null });
    expect(second.eventId).not.toBe(first.eventId);
    expect(JSON.parse(harness.sender.to(endpoint.url)[1]!.body)).toMatchObject({ type: "exam.created", data: { examId: "e-1" } });
    expect(await harness.store.getDelivery(second.deliveryId)).toMatchObject({ status: "failed" });
    harness.clock.advance(3_600_000);
    expect(await harness.dispatcher.runDue()).toBe(0);
    // Test events are not in the log.
    expect(harness.published.some((event) => event.id === first.eventId)).toBe(false);

    expect(await rejection(harness.service.sendTest(endpoint.id, { type: "no.such.type" }, TEST_PRINCIPAL))).toMatchObject({ code: "validation", issues: [{ path: "type" }] });
    expect(await rejection(harness.service.sendTest(newId(), {}, TEST_PRINCIPAL))).toMatchObject({ code: "not_found" });
    expect(await rejection(harness.service.resend(second.id, TEST_PRINCIPAL))).toMatchObject({ code: "conflict" });
  });

  it("resends an attempt's delivery now as a manual attempt", async () => {
    const harness = setup();
    const { endpoint } = await harness.service.createEndpoint({ url: receiver(), eventTypes: ["*"] }, TEST_PRINCIPAL);
    await harness.emit({ type: "exam.created", data: {} });
    await harness.dispatcher.runDue();
    const [attempt] = (await harness.service.listAttempts({ endpointId: endpoint.id, limit: 10 })).items;
    expect(await harness.service.resend(attempt!.id, TEST_PRINCIPAL)).toEqual({ deliveryId: attempt!.deliveryId });
    await harness.dispatcher.runDue();
    const attempts = (await harness.service.listAttempts({ deliveryId: attempt!.deliveryId, limit: 10 })).items;
    expect(attempts.map((entry) => [entry.attempt, entry.trigger, entry.status])).toEqual([
      [2, "manual", "succeeded"],
      [1, "scheduled", "succeeded"],
    ]);
    expect(await rejection(harness.service.resend(newId(), TEST_PRINCIPAL))).toMatchObject({ code: "not_found" });
    expect(await harness.service.getAttempt("not-an-id")).toBeUndefined();
  });

  it("recovers the deliveries that failed since a time, and only those", async () => {
    const harness = setup({ autoDisableAfterMs: 365 * 24 * 3_600_000 });
    const { endpoint } = await harness.service.createEndpoint({ url: receiver(), eventTypes: ["*"] }, TEST_PRINCIPAL);
    harness.sender.script(endpoint.url, [{ status: 500 }]);
    const [early] = await harness.emit({ type: "exam.created", data: { n: 1 } });
    harness.clock.advance(60_000);
    const since = new Date(harness.clock.now()).toISOString();
    const [late] = await harness.emit({ type: "exam.created", data: { n: 2 } });
    for (let round = 0; round < 40; round++) {
      harness.clock.advance(25 * 3_600_000);
      await harness.dispatcher.runDue();
    }
    expect((await harness.service.getEndpoint(endpoint.id)).stats).toMatchObject({ failed: 2, pending: 0 });

    harness.sender.script(endpoint.url, [{ status: 200 }]);
    expect(await harness.service.recover(endpoint.id, since, TEST_PRINCIPAL)).toEqual({ recovered: 1 });
    await harness.dispatcher.runDue();
    const succeeded = (await harness.service.listAttempts({ endpointId: endpoint.id, status: "succeeded", limit: 10 })).items;
    expect(succeeded.map((attempt) => [attempt.eventId, attempt.trigger, attempt.attempt])).toEqual([[late!.id, "recover", 11]]);
    expect(succeeded.some((attempt) => attempt.eventId === early!.id)).toBe(false);

    expect(await rejection(harness.service.recover(endpoint.id, "yesterday", TEST_PRINCIPAL))).toMatchObject({ code: "validation", issues: [{ path: "since" }] });
    expect(await rejection(harness.service.recover(endpoint.id, "2099-01-01T00:00:00Z", TEST_PRINCIPAL))).toMatchObject({ code: "validation" });
    expect(MAX_RECOVER).toBe(10_000);
  });

  it("previews a filter against the latest events of the types, newest first", async () => {
    const harness = setup();
    const events = [];
    // One at a time, so that log order is this order.
    for (const draft of [
      { type: "exam.created", data: { score: 10 } },
      { type: "exam.graded", data: { score: 80 } },
      { type: "user.created", data: { score: 99 } },
      { type: "exam.graded", data: { score: 60 } },
      { type: "exam.created", data: {} },
    ]) {
      events.push(...(await harness.emit(draft)));
    }
    const preview = await harness.service.previewFilter({ filter: "data.score >= 50", eventTypes: ["exam.*"] });
    expect(preview).toEqual({
      error: null,
      matched: [events[3]!, events[1]!].map(({ id, type, time }) => ({ id, type, time })),
      examined: 4,
    });
    expect(await harness.service.previewFilter({ filter: "", eventTypes: ["exam.*"], limit: 2 })).toMatchObject({ examined: 2, matched: [{ id: events[4]!.id }, { id: events[3]!.id }] });
    const broken = await harness.service.previewFilter({ filter: "data.score >=", eventTypes: ["exam.*"] });
    expect(broken).toMatchObject({ matched: [], examined: 0 });
    expect(broken.error).toMatch(/position/);
    expect(await rejection(harness.service.previewFilter({ filter: "true", eventTypes: ["nope.*"], limit: 501 }))).toMatchObject({
      code: "validation",
      issues: [{ path: "limit" }, { path: "eventTypes[0]" }],
    });
  });

  it("lists and gets endpoints with their health over the last day; deleting records it", async () => {
    const harness = setup();
    const { endpoint: quiet } = await harness.service.createEndpoint({ url: receiver(), eventTypes: ["user.*"] }, TEST_PRINCIPAL);
    const { endpoint: busy } = await harness.service.createEndpoint({ url: receiver(), eventTypes: ["exam.*"] }, TEST_PRINCIPAL);
    harness.sender.script(busy.url, [{ status: 200 }, { status: 500 }]);
    await harness.emit({ type: "exam.created", data: {} }, { type: "exam.created", data: {} });
    await harness.dispatcher.runDue();

    const page = await harness.service.listEndpoints({ limit: 1 });
    expect(page.items.map((endpoint) => endpoint.id)).toEqual([busy.id]);
    expect(page.items[0]!.stats).toMatchObject({ attempts: 2, successRate: 0.5, pending: 1 });
    const rest = await harness.service.listEndpoints({ limit: 10, cursor: page.next! });
    expect(rest.items.map((endpoint) => [endpoint.id, endpoint.stats.attempts])).toEqual([[quiet.id, 0]]);

    harness.clock.advance(25 * 3_600_000);
    expect((await harness.service.getEndpoint(busy.id)).stats).toMatchObject({ attempts: 0, successRate: null });

    await harness.service.deleteEndpoint(busy.id, TEST_PRINCIPAL);
    expect(await rejection(harness.service.getEndpoint(busy.id))).toMatchObject({ code: "not_found" });
    expect(await rejection(harness.service.deleteEndpoint(busy.id, TEST_PRINCIPAL))).toMatchObject({ code: "not_found" });
    expect(audit(harness, WEBHOOK_EVENT_TYPES.deleted).map((event) => event.data)).toEqual([expect.objectContaining({ endpointId: busy.id, url: busy.url })]);
  });
});
