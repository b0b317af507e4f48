import { randomUUID } from "node:crypto";
import { setTimeout as wait } from "node:timers/promises";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as getMetrics } from "@/app/api/metrics/route";
import { GET as getOpenApi } from "@/app/api/v1/openapi.json/route";
import { POST as postResend } from "@/app/api/v1/webhooks/attempts/[id]/resend/route";
import { GET as getAttempt } from "@/app/api/v1/webhooks/attempts/[id]/route";
import { GET as listAttempts } from "@/app/api/v1/webhooks/endpoints/[id]/attempts/route";
import { POST as postDisable } from "@/app/api/v1/webhooks/endpoints/[id]/disable/route";
import { POST as postEnable } from "@/app/api/v1/webhooks/endpoints/[id]/enable/route";
import { POST as postRecover } from "@/app/api/v1/webhooks/endpoints/[id]/recover/route";
import { POST as postRotate } from "@/app/api/v1/webhooks/endpoints/[id]/rotate-secret/route";
import { DELETE as deleteEndpoint, GET as getEndpoint, PATCH as patchEndpoint } from "@/app/api/v1/webhooks/endpoints/[id]/route";
import { POST as postTest } from "@/app/api/v1/webhooks/endpoints/[id]/test/route";
import { GET as listEndpoints, POST as postEndpoint } from "@/app/api/v1/webhooks/endpoints/route";
import { POST as postFilterPreview } from "@/app/api/v1/webhooks/filter-preview/route";
import { TestReceiver } from "@/server/adapters/http/test-receiver";
import { createTestDatabase, type TestDatabase } from "@/server/adapters/postgres/test-database";
import { startTransportWorkers, type TransportWorkers } from "@/server/runtime/transport-workers";
import { bodyOf, startTestApp, type TestApp } from "./test-harness";
import type {
  WebhookAttemptResource,
  WebhookAttemptSummaryResource,
  WebhookEndpointResource,
  WebhookEndpointWithSecretResource,
  WebhookEndpointWithStatsResource,
} from "./webhooks-schemas";

/**
 * REST v1 webhooks through the route handlers, on a real container (PGlite, then a fresh
 * PostgreSQL database) with the transport workers running, so the webhook-dispatcher subscription
 * makes first attempts of real events, and a real HTTP receiver on 127.0.0.1 (allowed by
 * WEBHOOK_ALLOWED_HOSTS, as local development allows it). The dispatcher's poller does not run:
 * resends, recoveries and catch-ups are sent by `runDue()`, called by the test until the receiver
 * saw what it waits for (bounded).
 */

let app: TestApp;
let testDatabase: TestDatabase | undefined;
let workers: TransportWorkers;
let receiver: TestReceiver;
/** webhooks:manage only: manages webhooks, reads nothing else. */
let managerKey: string;
/** events:read only: may scrape the metrics, may not manage webhooks. */
let readerKey: string;

type Problem = { type: string; status: number; detail: string; errors?: Array<{ path: string; message: string }> };
type Page<T> = { items: T[]; next: string | null };
type Init = { key?: string | null; headers?: HeadersInit; body?: unknown };

async function expectProblem(response: Response, status: number): Promise<Problem> {
  expect(response.status, await response.clone().text()).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = await bodyOf<Problem>(response);
  expect(problem).toMatchObject({ status, type: expect.stringMatching(/^https:\/\/eventloom\.dev\/problems\//), detail: expect.stringMatching(/\w/) });
  return problem;
}

async function ok<T>(response: Response, status = 200): Promise<T> {
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${await response.text()}`);
  return bodyOf<T>(response);
}

const idParams = (id: string) => ({ params: Promise.resolve({ id }) });
const ENDPOINTS = "/api/v1/webhooks/endpoints";

const create = (body: unknown, init: Init = {}) => postEndpoint(app.request(ENDPOINTS, { method: "POST", body, key: managerKey, ...init }));
const list = (search = "", init: Init = {}) => listEndpoints(app.request(`${ENDPOINTS}${search}`, { key: managerKey, ...init }));
const read = (id: string, init: Init = {}) => getEndpoint(app.request(`${ENDPOINTS}/${id}`, { key: managerKey, ...init }), idParams(id));
const update = (id: string, body: unknown, init: Init = {}) =>
  patchEndpoint(app.request(`${ENDPOINTS}/${id}`, { method: "PATCH", body, key: managerKey, ...init }), idParams(id));
const remove = (id: string, init: Init = {}) => deleteEndpoint(app.request(`${ENDPOINTS}/${id}`, { method: "DELETE", key: managerKey, ...init }), idParams(id));
const rotate = (id: string, init: Init = {}) => postRotate(app.request(`${ENDPOINTS}/${id}/rotate-secret`, { method: "POST", key: managerKey, ...init }), idParams(id));
const test = (id: string, init: Init = {}) => postTest(app.request(`${ENDPOINTS}/${id}/test`, { method: "POST", key: managerKey, ...init }), idParams(id));
const attempts = (id: string, search = "", init: Init = {}) => listAttempts(app.request(`${ENDPOINTS}/${id}/attempts${search}`, { key: managerKey, ...init }), idParams(id));
const recover = (id: string, body: unknown, init: Init = {}) =>
  postRecover(app.request(`${ENDPOINTS}/${id}/recover`, { method: "POST", body, key: managerKey, ...init }), idParams(id));
const enable = (id: string, init: Init = {}) => postEnable(app.request(`${ENDPOINTS}/${id}/enable`, { method: "POST", key: managerKey, ...init }), idParams(id));
const disable = (id: string, init: Init = {}) => postDisable(app.request(`${ENDPOINTS}/${id}/disable`, { method: "POST", key: managerKey, ...init }), idParams(id));
const attempt = (id: string, init: Init = {}) => getAttempt(app.request(`/api/v1/webhooks/attempts/${id}`, { key: managerKey, ...init }), idParams(id));
const resend = (id: string, init: Init = {}) => postResend(app.request(`/api/v1/webhooks/attempts/${id}/resend`, { method: "POST", key: managerKey, ...init }), idParams(id));
const preview = (body: unknown, init: Init = {}) => postFilterPreview(app.request("/api/v1/webhooks/filter-preview", { method: "POST", body, key: managerKey, ...init }));

/** A path of its own on the receiver per endpoint, so each test reads only its own requests. */
function receiverPath(): string {
  return `/hooks/${randomUUID()}`;
}

/** An endpoint for diagnostics probes; without a filter of its own it lets none through (other tests publish probes too). */
async function created(body: Record<string, unknown>): Promise<WebhookEndpointWithSecretResource> {
  return ok<WebhookEndpointWithSecretResource>(await create({ eventTypes: ["diagnostics.probe"], filter: 'data.note == "for nobody"', ...body }), 201);
}

/** Publishes a diagnostics probe (an event with no effect but its delivery), as a client would. */
async function publishProbe(note: string, partitionkey?: string): Promise<string> {
  const outcome = await app.container.publisher.publish([
    { type: "diagnostics.probe", source: "urn:eventloom:test", subject: "webhooks-api", data: { note }, ...(partitionkey ? { partitionkey } : {}) },
  ]);
  if (outcome.status !== "accepted") throw new Error(`probe not published: ${outcome.status}`);
  return outcome.events[0]!.id;
}

/**
 * Runs the dispatcher's due deliveries until the receiver has `count` requests on `path`
 * (resends, recoveries and catch-ups are not made by the poller here: it does not run).
 */
async function deliverUntil(path: string, count: number): Promise<void> {
  for (let round = 0; round < 200 && receiver.requests(path).length < count; round++) {
    await app.container.webhooks.dispatcher.runDue();
    if (receiver.requests(path).length < count) await wait(25);
  }
  expect(receiver.requests(path)).toHaveLength(count);
}

/** Reads the attempts of an endpoint until `done` holds (the first attempt is made by the subscription, asynchronously). */
async function attemptsUntil(id: string, done: (items: WebhookAttemptSummaryResource[]) => boolean): Promise<WebhookAttemptSummaryResource[]> {
  let items: WebhookAttemptSummaryResource[] = [];
  for (let round = 0; round < 400; round++) {
    items = (await ok<Page<WebhookAttemptSummaryResource>>(await attempts(id))).items;
    if (done(items)) return items;
    await wait(25);
  }
  throw new Error(`attempts of ${id} never satisfied the condition: ${JSON.stringify(items)}`);
}

const databases: Array<[string, () => Promise<TestDatabase | undefined>]> = [
  ["PGlite", async () => undefined],
  ["PostgreSQL", () => createTestDatabase("eventloom_rest_webhooks")],
];

describe.each(databases)("REST v1 webhooks on %s", (_name, openTestDatabase) => {
  beforeAll(async () => {
    receiver = await TestReceiver.start();
    testDatabase = await openTestDatabase();
    app = await startTestApp({ WEBHOOK_ALLOWED_HOSTS: "127.0.0.1,localhost", LOG_POLL_INTERVAL_MS: 50, ...(testDatabase ? { DATABASE_URL: testDatabase.url } : {}) });
    workers = startTransportWorkers(app.container);
    await workers.ready;
    const { apiKeys } = app.container.authServices;
    managerKey = (await apiKeys.create({ name: "webhook manager", scopes: ["webhooks:manage"] })).key;
    readerKey = (await apiKeys.create({ name: "metrics scraper", scopes: ["events:read"] })).key;
  }, 60_000);

  afterAll(async () => {
    await workers?.stop();
    await app?.close();
    await testDatabase?.drop();
    await receiver?.close();
  });

  describe("endpoints", () => {
    it("creates an endpoint (201, Location) whose secret is shown in that answer only", async () => {
      const url = receiver.url(receiverPath());
      const response = await create({ url, eventTypes: ["diagnostics.*"], description: "probes", headers: { "x-team": "ops" }, rateLimitPerSecond: 20 });
      const endpoint = await ok<WebhookEndpointWithSecretResource>(response, 201);
      expect(response.headers.get("location")).toBe(`${ENDPOINTS}/${endpoint.id}`);
      expect(endpoint).toMatchObject({
        url,
        eventTypes: ["diagnostics.*"],
        description: "probes",
        filter: null,
        headers: { "x-team": "ops" },
        rateLimitPerSecond: 20,
        orderedByKey: false,
        status: "enabled",
        disabledReason: null,
        failingSince: null,
        createdBy: expect.stringMatching(/\w/),
        secrets: [{ createdAt: expect.any(String), expiresAt: null }],
      });
      expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
      const secretBytes = endpoint.secret.slice("whsec_".length);

      const detail = await ok<WebhookEndpointWithStatsResource>(await read(endpoint.id));
      expect(detail).not.toHaveProperty("secret");
      expect(detail.secrets).toEqual([{ createdAt: endpoint.secrets[0]!.createdAt, expiresAt: null }]);
      expect(detail.stats).toMatchObject({ attempts: 0, successRate: null, pending: 0, skipped: 0, failed: 0 });
      const page = await ok<Page<WebhookEndpointWithStatsResource>>(await list("?limit=1000"));
      expect(page.items.map((item) => item.id)).toContain(endpoint.id);
      for (const text of [JSON.stringify(detail), JSON.stringify(page)]) expect(text).not.toContain(secretBytes);
    });

    it("answers a repeated Idempotency-Key with the original answer, and 409 when the key comes with other settings", async () => {
      const key = `create-${randomUUID()}`;
      const body = { url: receiver.url(receiverPath()), eventTypes: ["diagnostics.probe"] };
      const first = await ok<WebhookEndpointWithSecretResource>(await create(body, { headers: { "idempotency-key": key } }), 201);
      const again = await create(body, { headers: { "idempotency-key": key } });
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      const replayed = await ok<WebhookEndpointWithSecretResource>(again, 201);
      expect(replayed).toMatchObject({ id: first.id, secret: first.secret });
      expect(again.headers.get("location")).toBe(`${ENDPOINTS}/${first.id}`);
      const other = await expectProblem(await create({ ...body, description: "another" }, { headers: { "idempotency-key": key } }), 409);
      expect(other.detail).toContain(first.id);
      const page = await ok<Page<WebhookEndpointResource>>(await list("?limit=1000"));
      expect(page.items.filter((item) => item.url === body.url)).toHaveLength(1);
    });

    it("refuses invalid input with 422 naming the field: URL, scheme, blocked address, unknown event type, filter", async () => {
      const url = receiver.url(receiverPath());
      const cases: Array<[string, Record<string, unknown>]> = [
        ["url", { url: "not a url", eventTypes: ["diagnostics.probe"] }],
        ["url", { url: "ftp://127.0.0.1/hooks", eventTypes: ["diagnostics.probe"] }],
        ["url", { url: "http://10.0.0.1/hooks", eventTypes: ["diagnostics.probe"] }],
        ["url", { url: "http://[::ffff:169.254.169.254]/latest", eventTypes: ["diagnostics.probe"] }],
        ["eventTypes[1]", { url, eventTypes: ["diagnostics.probe", "no_such.type"] }],
        ["filter", { url, eventTypes: ["diagnostics.probe"], filter: "data.note ==" }],
        ["colour", { url, eventTypes: ["diagnostics.probe"], colour: "red" }],
      ];
      for (const [path, body] of cases) {
        const problem = await expectProblem(await create(body), 422);
        expect(problem.errors?.map((issue) => issue.path), JSON.stringify(problem)).toContain(path);
      }
      const endpoint = await created({ url });
      const badUpdate = await expectProblem(await update(endpoint.id, { url: "http://192.168.1.10/x" }), 422);
      expect(badUpdate.errors?.map((issue) => issue.path)).toContain("url");
      expect((await ok<WebhookEndpointResource>(await read(endpoint.id))).url).toBe(url);

      await expectProblem(await create("{not json"), 400);
      await expectProblem(await create({ url, eventTypes: ["diagnostics.probe"] }, { headers: { "content-type": "text/plain" } }), 415);
    });

    it("updates the fields given, then deletes (204, then 404)", async () => {
      const endpoint = await created({ url: receiver.url(receiverPath()) });
      const changed = await ok<WebhookEndpointResource>(
        await update(endpoint.id, { description: "only notes", filter: 'data.note == "keep"', orderedByKey: true, headers: { "x-env": "test" } }),
      );
      expect(changed).toMatchObject({ id: endpoint.id, url: endpoint.url, description: "only notes", filter: 'data.note == "keep"', orderedByKey: true, headers: { "x-env": "test" } });
      expect(changed.version).toBeGreaterThan(endpoint.version);
      expect(changed).not.toHaveProperty("secret");

      const deleted = await remove(endpoint.id);
      expect(deleted.status).toBe(204);
      await expectProblem(await read(endpoint.id), 404);
      await expectProblem(await remove(endpoint.id), 404);
    });

    it("answers 404 for an endpoint or attempt that does not exist, whatever the id looks like", async () => {
      for (const id of [randomUUID(), "not-a-uuid"]) {
        const problem = await expectProblem(await read(id), 404);
        expect(problem.detail).toContain(id);
        await expectProblem(await update(id, { description: "x" }), 404);
        await expectProblem(await remove(id), 404);
        await expectProblem(await rotate(id), 404);
        await expectProblem(await test(id), 404);
        await expectProblem(await attempts(id), 404);
        await expectProblem(await recover(id, { since: new Date().toISOString() }), 404);
        await expectProblem(await enable(id), 404);
        await expectProblem(await disable(id), 404);
        await expectProblem(await attempt(id), 404);
        await expectProblem(await resend(id), 404);
      }
    });

    it("pages the endpoints newest first with `next` passed back as `cursor`, and refuses a cursor it did not make", async () => {
      for (let index = 0; index < 3; index++) await created({ url: receiver.url(receiverPath()) });
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const search: string = `?limit=2${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
        const page: Page<WebhookEndpointResource> = await ok<Page<WebhookEndpointResource>>(await list(search));
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((item) => item.id));
        cursor = page.next;
        pages += 1;
      } while (cursor !== null && pages < 100);
      expect(new Set(seen).size).toBe(seen.length);
      const all = await ok<Page<WebhookEndpointResource>>(await list("?limit=1000"));
      expect(seen).toEqual(all.items.map((item) => item.id));

      const bad = await expectProblem(await list("?cursor=not-a-cursor-we-made&limit=0"), 400);
      expect(bad.errors?.map((issue) => issue.path).sort()).toEqual(["limit"]);
      const badCursor = await expectProblem(await list("?cursor=not-a-cursor-we-made"), 400);
      expect(badCursor.errors?.map((issue) => issue.path)).toEqual(["cursor"]);
    });
  });

  describe("secrets and test sends", () => {
    it("sends a signed test delivery; rotating signs with both secrets during the grace period", async () => {
      const path = receiverPath();
      const endpoint = await created({ url: receiver.url(path) });

      const sent = await ok<WebhookAttemptResource>(await test(endpoint.id, { body: { data: { message: "hello" } } }));
      expect(sent).toMatchObject({ endpointId: endpoint.id, trigger: "test", status: "succeeded", eventType: "webhook.test", responseStatus: 200, response: { status: 200, body: "ok" } });
      const [first] = receiver.requests(path);
      expect(first).toBeDefined();
      expect(() => new Webhook(endpoint.secret).verify(first!.body, first!.headers)).not.toThrow();
      expect(JSON.parse(first!.body)).toMatchObject({ type: "webhook.test", data: { message: "hello" } });
      expect(sent.request.headers["webhook-id"]).toBe(first!.headers["webhook-id"]);

      const rotated = await ok<WebhookEndpointWithSecretResource>(await rotate(endpoint.id));
      expect(rotated.secret).toMatch(/^whsec_/);
      expect(rotated.secret).not.toBe(endpoint.secret);
      expect(rotated.secrets).toEqual([
        { createdAt: expect.any(String), expiresAt: null },
        { createdAt: endpoint.secrets[0]!.createdAt, expiresAt: expect.any(String) },
      ]);
      const detail = await ok<WebhookEndpointResource>(await read(endpoint.id));
      expect(JSON.stringify(detail)).not.toContain(rotated.secret.slice("whsec_".length));

      await ok<WebhookAttemptResource>(await test(endpoint.id));
      const second = receiver.requests(path)[1]!;
      expect(second.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
      expect(() => new Webhook(rotated.secret).verify(second.body, second.headers)).not.toThrow();
      expect(() => new Webhook(endpoint.secret).verify(second.body, second.headers)).not.toThrow();

      // A rotation with no grace retires the old secrets at once: one signature, the newest secret's.
      const immediate = await ok<WebhookEndpointWithSecretResource>(await rotate(endpoint.id, { body: { graceSeconds: 0 } }));
      await ok<WebhookAttemptResource>(await test(endpoint.id));
      const third = receiver.requests(path)[2]!;
      expect(() => new Webhook(immediate.secret).verify(third.body, third.headers)).not.toThrow();
      expect(() => new Webhook(rotated.secret).verify(third.body, third.headers)).toThrow();
      await expectProblem(await rotate(endpoint.id, { body: { graceSeconds: -1 } }), 422);
    });

    it("answers a test send the receiver refuses with the failed attempt, not an error", async () => {
      const path = receiverPath();
      receiver.script(path, [{ kind: "status", status: 503, body: "down for maintenance", headers: { "retry-after": "120" } }]);
      const endpoint = await created({ url: receiver.url(path) });
      const sent = await ok<WebhookAttemptResource>(await test(endpoint.id));
      expect(sent).toMatchObject({ status: "failed", responseStatus: 503, response: { status: 503, body: "down for maintenance" } });
      expect(sent.error).toEqual(expect.stringContaining("503"));
    });
  });

  describe("deliveries, the attempts log, resend, recover, disable and enable", () => {
    it("logs the attempts of a delivered event; a failed one is resent (202) and succeeds", async () => {
      const path = receiverPath();
      receiver.script(path, [{ kind: "status", status: 500, body: "x".repeat(5000) }, { kind: "status", status: 200, body: "thanks" }]);
      const note = `resend-${randomUUID()}`;
      const endpoint = await created({ url: receiver.url(path), filter: `data.note == "${note}"` });
      const eventId = await publishProbe(note);
      await publishProbe("filtered out");

      const [failed] = await attemptsUntil(endpoint.id, (items) => items.length > 0);
      expect(failed).toMatchObject({ eventId, eventType: "diagnostics.probe", attempt: 1, status: "failed", trigger: "scheduled", responseStatus: 500, responseBodyTruncated: true });
      expect(failed!.responseBody).toHaveLength(1024);
      expect(failed!.nextAttemptAt).toEqual(expect.any(String));
      const full = await ok<WebhookAttemptResource>(await attempt(failed!.id));
      expect(full.response?.body).toHaveLength(5000);
      expect(JSON.parse(full.request.body)).toMatchObject({ id: eventId, type: "diagnostics.probe", data: { note } });
      expect(full.request.headers["webhook-id"]).toBe(eventId);

      const accepted = await ok<{ deliveryId: string }>(await resend(failed!.id), 202);
      expect(accepted.deliveryId).toBe(failed!.deliveryId);
      await deliverUntil(path, 2);
      const items = await attemptsUntil(endpoint.id, (list) => list.length === 2);
      expect(items[0]).toMatchObject({ deliveryId: failed!.deliveryId, attempt: 2, status: "succeeded", trigger: "manual", responseStatus: 200, responseBody: "thanks", nextAttemptAt: null });
      expect(receiver.requests(path).every((request) => request.headers["webhook-id"] === eventId)).toBe(true);

      const onlyFailed = await ok<Page<WebhookAttemptSummaryResource>>(await attempts(endpoint.id, "?status=failed"));
      expect(onlyFailed.items.map((item) => item.id)).toEqual([failed!.id]);
      const firstPage = await ok<Page<WebhookAttemptSummaryResource>>(await attempts(endpoint.id, "?limit=1"));
      expect(firstPage.items.map((item) => item.id)).toEqual([items[0]!.id]);
      const secondPage = await ok<Page<WebhookAttemptSummaryResource>>(await attempts(endpoint.id, `?limit=1&cursor=${encodeURIComponent(firstPage.next!)}`));
      expect(secondPage.items.map((item) => item.id)).toEqual([failed!.id]);
      const badQuery = await expectProblem(await attempts(endpoint.id, "?status=pending&limit=5000"), 400);
      expect(badQuery.errors?.map((issue) => issue.path).sort()).toEqual(["limit", "status"]);

      const stats = (await ok<WebhookEndpointWithStatsResource>(await read(endpoint.id))).stats;
      expect(stats).toMatchObject({ attempts: 2, successRate: 0.5, lastStatus: 200 });
    });

    it("a 410 disables the endpoint; after enabling, recover sends the failed delivery again", async () => {
      const path = receiverPath();
      receiver.script(path, [{ kind: "status", status: 410, body: "gone" }, { kind: "status", status: 204 }]);
      const note = `recover-${randomUUID()}`;
      const since = new Date(Date.now() - 60_000).toISOString();
      const endpoint = await created({ url: receiver.url(path), filter: `data.note == "${note}"` });
      const eventId = await publishProbe(note);

      await attemptsUntil(endpoint.id, (items) => items.length === 1);
      let gone = await ok<WebhookEndpointWithStatsResource>(await read(endpoint.id));
      for (let round = 0; round < 400 && gone.status === "enabled"; round++) {
        await wait(25);
        gone = await ok<WebhookEndpointWithStatsResource>(await read(endpoint.id));
      }
      expect(gone).toMatchObject({ status: "disabled", disabledReason: "gone" });

      const enabled = await ok<WebhookEndpointResource>(await enable(endpoint.id));
      expect(enabled).toMatchObject({ status: "enabled", disabledReason: null });
      const recovered = await ok<{ recovered: number }>(await recover(endpoint.id, { since }), 202);
      expect(recovered.recovered).toBe(1);
      await deliverUntil(path, 2);
      const items = await attemptsUntil(endpoint.id, (list) => list.length === 2);
      expect(items[0]).toMatchObject({ eventId, attempt: 2, status: "succeeded", responseStatus: 204 });

      const invalid = await expectProblem(await recover(endpoint.id, { since: "yesterday" }), 422);
      expect(invalid.errors?.map((issue) => issue.path)).toEqual(["since"]);
    });

    it("keeps the events of a disabled endpoint as skipped and catches them up after enabling", async () => {
      const path = receiverPath();
      const note = `skipped-${randomUUID()}`;
      const endpoint = await created({ url: receiver.url(path), filter: `data.note == "${note}"` });
      const disabled = await ok<WebhookEndpointResource>(await disable(endpoint.id));
      expect(disabled).toMatchObject({ status: "disabled", disabledReason: "manual", disabledAt: expect.any(String) });
      const eventId = await publishProbe(note);

      let skipped = 0;
      for (let round = 0; round < 400 && skipped === 0; round++) {
        skipped = (await ok<WebhookEndpointWithStatsResource>(await read(endpoint.id))).stats.skipped;
        if (skipped === 0) await wait(25);
      }
      expect(skipped).toBe(1);
      expect(receiver.requests(path)).toEqual([]);

      await ok<WebhookEndpointResource>(await enable(endpoint.id));
      await deliverUntil(path, 1);
      expect(receiver.requests(path)[0]!.headers["webhook-id"]).toBe(eventId);

      // PATCH {disabled} does the same as the routes.
      expect(await ok<WebhookEndpointResource>(await update(endpoint.id, { disabled: true }))).toMatchObject({ status: "disabled", disabledReason: "manual" });
      expect(await ok<WebhookEndpointResource>(await update(endpoint.id, { disabled: false }))).toMatchObject({ status: "enabled" });
    });
  });

  describe("filter preview", () => {
    it("shows which recent events a filter lets through, and a compile error as an answer", async () => {
      const note = `preview-${randomUUID()}`;
      const matching = await publishProbe(note);
      await publishProbe(`${note}-other`);
      const result = await ok<{ error: string | null; matched: Array<{ id: string; type: string }>; examined: number }>(
        await preview({ filter: `data.note == "${note}"`, eventTypes: ["diagnostics.*"] }),
      );
      expect(result.error).toBeNull();
      expect(result.matched.map((event) => event.id)).toEqual([matching]);
      expect(result.examined).toBeGreaterThanOrEqual(2);

      const broken = await ok<{ error: string | null; matched: unknown[] }>(await preview({ filter: "data.note ==", eventTypes: ["diagnostics.*"] }));
      expect(broken.error).toEqual(expect.any(String));
      expect(broken.matched).toEqual([]);

      const invalid = await expectProblem(await preview({ filter: "true", eventTypes: [] }), 422);
      expect(invalid.errors?.map((issue) => issue.path)).toEqual(["eventTypes"]);
    });
  });

  describe("authorization", () => {
    it("needs a key (401) with webhooks:manage or admin (403)", async () => {
      const endpoint = await created({ url: receiver.url(receiverPath()) });
      const responses = [
        await list("", { key: null }),
        await create({ url: endpoint.url, eventTypes: ["diagnostics.probe"] }, { key: null }),
        await read(endpoint.id, { key: null }),
        await update(endpoint.id, { description: "x" }, { key: null }),
        await remove(endpoint.id, { key: null }),
        await rotate(endpoint.id, { key: null }),
        await test(endpoint.id, { key: null }),
        await attempts(endpoint.id, "", { key: null }),
        await preview({ filter: "true", eventTypes: ["*"] }, { key: null }),
      ];
      for (const response of responses) await expectProblem(response, 401);
      await expectProblem(await read(endpoint.id, { key: "el_not_a_key_at_all" }), 401);

      for (const response of [await list("", { key: readerKey }), await rotate(endpoint.id, { key: readerKey }), await remove(endpoint.id, { key: readerKey })]) {
        const problem = await expectProblem(response, 403);
        expect(problem.detail).toContain("webhooks:manage");
      }
      expect((await ok<WebhookEndpointResource>(await read(endpoint.id))).secrets).toHaveLength(1);
      // admin implies webhooks:manage.
      await ok(await read(endpoint.id, { key: app.container.env.ADMIN_API_KEY! }));
    });
  });

  describe("GET /api/metrics", () => {
    it("serves the Prometheus text with the webhook metrics to a key with events:read", async () => {
      const path = receiverPath();
      receiver.script(path, [{ kind: "status", status: 502 }]);
      const endpoint = await created({ url: receiver.url(path) });
      await ok(await test(endpoint.id));

      const response = await getMetrics(app.request("/api/metrics", { key: readerKey }));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/plain");
      const text = await response.text();
      expect(text).toMatch(/^eventloom_webhook_deliveries_total\{outcome="failed"\} [1-9]/m);
      expect(text).toMatch(/^eventloom_webhook_failures_total\{reason="http_5xx"\} [1-9]/m);
      expect(text).toMatch(/^eventloom_webhook_attempt_duration_seconds_bucket\{le="\+Inf",outcome="failed"\} [1-9]/m);
      expect(text).toContain("# TYPE eventloom_webhook_queue_depth gauge");
      expect(text).toMatch(/^eventloom_subscription_depth\{subscription="webhook-dispatcher"\} \d+/m);
      expect(text).toContain("process_cpu_user_seconds_total");

      await expectProblem(await getMetrics(app.request("/api/metrics", { key: null })), 401);
      await expectProblem(await getMetrics(app.request("/api/metrics", { key: managerKey })), 403);
    });
  });

  it("describes every webhook route and the metrics in the OpenAPI document", async () => {
    const document = await ok<{ paths: Record<string, Record<string, { operationId: string }>> }>(await getOpenApi(app.request("/api/v1/openapi.json")));
    const operations = Object.fromEntries(
      Object.entries(document.paths)
        .filter(([path]) => path.startsWith("/api/v1/webhooks") || path === "/api/metrics")
        .map(([path, methods]) => [path, Object.values(methods).map((operation) => operation.operationId)]),
    );
    expect(operations).toEqual({
      "/api/metrics": ["getMetrics"],
      "/api/v1/webhooks/endpoints": ["listWebhookEndpoints", "createWebhookEndpoint"],
      "/api/v1/webhooks/endpoints/{id}": ["getWebhookEndpoint", "updateWebhookEndpoint", "deleteWebhookEndpoint"],
      "/api/v1/webhooks/endpoints/{id}/enable": ["enableWebhookEndpoint"],
      "/api/v1/webhooks/endpoints/{id}/disable": ["disableWebhookEndpoint"],
      "/api/v1/webhooks/endpoints/{id}/rotate-secret": ["rotateWebhookSecret"],
      "/api/v1/webhooks/endpoints/{id}/test": ["testWebhookEndpoint"],
      "/api/v1/webhooks/endpoints/{id}/attempts": ["listWebhookAttempts"],
      "/api/v1/webhooks/endpoints/{id}/recover": ["recoverWebhookEndpoint"],
      "/api/v1/webhooks/attempts/{id}": ["getWebhookAttempt"],
      "/api/v1/webhooks/attempts/{id}/resend": ["resendWebhookAttempt"],
      "/api/v1/webhooks/filter-preview": ["previewWebhookFilter"],
    });
  });
});
