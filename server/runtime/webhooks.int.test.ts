import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as getEvent } from "@/app/api/v1/events/[id]/route";
import { POST as postEndpoint } from "@/app/api/v1/webhooks/endpoints/route";
import { TestReceiver, type ReceivedRequest } from "@/server/adapters/http/test-receiver";
import { createTestDatabase, type TestDatabase } from "@/server/adapters/postgres/test-database";
import { deleteRedisKeys } from "@/server/adapters/redis/test-cleanup";
import { bodyOf, startTestApp, type TestApp } from "@/server/api/rest/test-harness";
import type { EventDraft, StoredEvent } from "@/server/engine/core/envelope";
import { ValidationError } from "@/server/engine/core/errors";
import type { Principal } from "@/server/engine/core/principal";
import { parseAllowList } from "@/server/engine/webhooks/address-policy";
import { WEBHOOK_EVENT_TYPES } from "@/server/engine/webhooks/events";
import { STANDARD_WEBHOOK_SCHEDULE_MS } from "@/server/engine/webhooks/retry-schedule";
import { WebhookService } from "@/server/engine/webhooks/service";
import type { WebhookAttempt, WebhookDelivery, WebhookEndpoint } from "@/server/engine/webhooks/webhook-store";
import { startTransportWorkers, type TransportWorkers } from "./transport-workers";
import { startWebhookWorkers } from "./webhooks";

/**
 * The issue's "done when" for webhooks, on the whole runtime: a container on a fresh PostgreSQL
 * database, with the Postgres transport and then with Redis Streams; its transport workers (the
 * `webhook-dispatcher` subscription) and webhook workers (the dispatcher's poller) started as
 * boot.ts starts them, and a real HTTP receiver on loopback (WEBHOOK_ALLOWED_HOSTS=127.0.0.1,localhost).
 *
 * Retries: the runtime dispatcher runs on the real clock, whose schedule puts attempt 3 five
 * minutes after attempt 2. The test stands in for the passing time: once a failed attempt is
 * recorded with its next attempt time (checked against the schedule), it makes the delivery due
 * now through the store (`requeue`) and the dispatcher's poller takes it from there.
 *
 * Every wait is bounded (20 s) and fails naming what did arrive.
 */

const WAIT_MS = 20_000;
const PRINCIPAL: Principal = { kind: "api_key", id: "webhooks-int-test", name: "webhooks integration test", scopes: ["admin"] };

let testDatabase: TestDatabase;
let app: TestApp;
let receiver: TestReceiver;
let transportWorkers: TransportWorkers;
let webhookWorkers: { stop(): Promise<void> };

const webhooks = () => app.container.webhooks;

async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`not within ${WAIT_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function createEndpoint(path: string, input: { eventTypes?: string[]; orderedByKey?: boolean } = {}): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  return webhooks().service.createEndpoint({ url: receiver.url(path), eventTypes: input.eventTypes ?? ["exam.*"], orderedByKey: input.orderedByKey ?? false }, PRINCIPAL);
}

const examUpdated = (title: string, partitionkey?: string): EventDraft => ({
  type: "exam.updated",
  subject: "exam",
  data: { examId: randomUUID(), changes: { title }, updatedBy: "teacher-1" },
  ...(partitionkey ? { partitionkey } : {}),
});

const examCreated = (): EventDraft => ({
  type: "exam.created",
  subject: "exam",
  data: { examId: randomUUID(), title: "Algebra", subject: "math", totalScore: 100, questionCount: 10, createdBy: "teacher-1", durationMinutes: 90 },
});

async function publish(...drafts: EventDraft[]): Promise<StoredEvent[]> {
  const outcome = await app.container.publisher.publish(drafts);
  if (outcome.status !== "accepted") throw new Error(`publish: ${outcome.status}`);
  return outcome.events;
}

/** The receiver's requests to `path` carrying the event's id, oldest first. */
const requestsFor = (path: string, eventId: string) => receiver.requests(path).filter((request) => request.headers["webhook-id"] === eventId);

async function attemptsOf(endpointId: string): Promise<WebhookAttempt[]> {
  const page = await webhooks().store.listAttempts({ endpointId, limit: 1_000 });
  return [...page.items].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.attempt - b.attempt);
}

/** The event's delivery to the endpoint once its attempt number `attempt` is recorded. */
async function afterAttempt(endpointId: string, eventId: string, attempt: number): Promise<WebhookDelivery> {
  return waitUntil(`attempt ${attempt} of event ${eventId} recorded`, async () => {
    const recorded = (await attemptsOf(endpointId)).find((candidate) => candidate.eventId === eventId && candidate.attempt === attempt);
    if (!recorded) return undefined;
    const delivery = await webhooks().store.getDelivery(recorded.deliveryId);
    // The delivery's row moves with its attempt's (one write); its lease is free again.
    return delivery && delivery.attempts >= attempt && delivery.leaseOwner === null ? delivery : undefined;
  });
}

/** Stands in for the time until the delivery's next attempt (see the header). */
async function passTimeUntilNextAttempt(delivery: WebhookDelivery): Promise<void> {
  expect(delivery.status).toBe("pending");
  expect(delivery.nextAttemptAt).not.toBeNull();
  await webhooks().store.requeue(delivery.id, new Date().toISOString());
}

/** What `GET /api/v1/events/{id}` answers: the delivery body must be exactly this. */
async function eventResource(id: string): Promise<unknown> {
  const response = await getEvent(app.request(`/api/v1/events/${id}`), { params: Promise.resolve({ id }) });
  expect(response.status).toBe(200);
  return bodyOf(response);
}

/** Verifies as a receiver would, with the Standard Webhooks reference library; returns the parsed body. */
function verifyWithReference(secret: string, request: ReceivedRequest): unknown {
  return new Webhook(secret).verify(request.body, request.headers);
}

/** Each transport a suite of its own: its database, its receiver, its container. */
const TRANSPORTS = [
  { name: "postgres", env: { BUS_TRANSPORT: "postgres" } },
  // A Redis database of its own (the container's keys use the default prefix), emptied before and after.
  { name: "redis", env: { BUS_TRANSPORT: "redis", REDIS_URL: process.env.TEST_WEBHOOKS_REDIS_URL ?? "redis://127.0.0.1:6379/12" } },
] as const;
const REDIS_PREFIX = "eventloom";

describe.each(TRANSPORTS)("webhooks on the whole runtime (PostgreSQL, the $name transport, a loopback receiver)", (transport) => {
  const clearRedis = async () => {
    if (transport.name === "redis") await deleteRedisKeys(transport.env.REDIS_URL, REDIS_PREFIX);
  };

  beforeAll(async () => {
    await clearRedis();
    testDatabase = await createTestDatabase("eventloom_webhooks");
    app = await startTestApp({ DATABASE_URL: testDatabase.url, ...transport.env, WEBHOOK_ALLOWED_HOSTS: "127.0.0.1,localhost" });
    receiver = await TestReceiver.start();
    transportWorkers = startTransportWorkers(app.container);
    await transportWorkers.ready;
    webhookWorkers = startWebhookWorkers(app.container.webhooks, app.container.env);
  });

  afterAll(async () => {
    await webhookWorkers?.stop();
    await transportWorkers?.stop();
    await app?.close();
    await receiver?.close();
    await testDatabase?.drop();
    await clearRedis();
  });

  it("delivers the events of the endpoint's types, each signed as the standardwebhooks library verifies, with the event resource as body", async () => {
    const path = "/signed";
    const { endpoint, secret } = await createEndpoint(path, { eventTypes: ["exam.*"] });
    expect(secret).toMatch(/^whsec_/);

    const published = await publish(examCreated(), examUpdated("Algebra II"), examUpdated("Algebra III"));
    const ids = published.map((event) => event.id);
    await receiver.waitFor(() => ids.every((id) => requestsFor(path, id).length > 0), { timeoutMs: WAIT_MS, what: "the three exam events" });

    for (const event of published) {
      const [request] = requestsFor(path, event.id);
      expect(request).toBeDefined();
      expect(request!.method).toBe("POST");
      expect(request!.headers["content-type"]).toMatch(/^application\/json/);
      expect(request!.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
      const payload = verifyWithReference(secret, request!);
      expect(payload).toEqual(await eventResource(event.id));
      // A wrong secret must not verify: the check above can fail.
      expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString("base64")}`).verify(request!.body, request!.headers)).toThrow();
    }
    // Every request the endpoint got verifies, and none is for another type.
    for (const request of receiver.requests(path)) {
      const payload = verifyWithReference(secret, request) as { type: string };
      expect(payload.type).toMatch(/^exam\./);
    }
    const attempts = (await attemptsOf(endpoint.id)).filter((attempt) => ids.includes(attempt.eventId));
    expect(attempts.map((attempt) => [attempt.attempt, attempt.status, attempt.response?.status])).toEqual(ids.map(() => [1, "succeeded", 200]));
  });

  it("signs with the old and the new secret after a rotation: both verify with standardwebhooks", async () => {
    const path = "/rotated";
    const { endpoint, secret: oldSecret } = await createEndpoint(path, { eventTypes: ["exam.updated"] });
    const [before] = await publish(examUpdated("before the rotation"));
    await receiver.waitFor(() => requestsFor(path, before!.id).length > 0, { timeoutMs: WAIT_MS, what: "the event before the rotation" });
    expect(requestsFor(path, before!.id)[0]!.headers["webhook-signature"]!.split(" ")).toHaveLength(1);

    const { secret: newSecret, endpoint: rotated } = await webhooks().service.rotateSecret(endpoint.id, PRINCIPAL);
    expect(newSecret).not.toBe(oldSecret);
    expect(rotated.secrets.map((secret) => secret.expiresAt === null)).toEqual([true, false]);
    // The dispatcher takes the rotation from the store (its routing table reloads on the endpoints' revision).
    const [after] = await publish(examUpdated("after the rotation"));
    await receiver.waitFor(() => requestsFor(path, after!.id).length > 0, { timeoutMs: WAIT_MS, what: "the event after the rotation" });

    const [request] = requestsFor(path, after!.id);
    expect(request!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(verifyWithReference(oldSecret, request!)).toEqual(await eventResource(after!.id));
    expect(verifyWithReference(newSecret, request!)).toEqual(await eventResource(after!.id));
  });

  it("a receiver failing 3 times then succeeding gets the event exactly once successfully: attempts 1..4 recorded with their responses", async () => {
    const path = "/flaky";
    receiver.script(path, (request) => {
      const failuresBefore = receiver.requests(path).filter((earlier) => earlier.headers["webhook-id"] === request.headers["webhook-id"] && earlier !== request).length;
      return failuresBefore < 3 ? { kind: "status", status: 500, body: `failure ${failuresBefore + 1}` } : { kind: "status", status: 200, body: "finally" };
    });
    const { endpoint, secret } = await createEndpoint(path, { eventTypes: ["exam.created"] });
    const [event] = await publish(examCreated());

    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const delivery = await afterAttempt(endpoint.id, event!.id, attempt);
      expect(delivery).toMatchObject({ status: "pending", attempts: attempt, lastResponseStatus: 500 });
      await passTimeUntilNextAttempt(delivery);
    }
    const delivered = await afterAttempt(endpoint.id, event!.id, 4);

    expect(delivered).toMatchObject({ status: "succeeded", attempts: 4, lastResponseStatus: 200, nextAttemptAt: null });
    const requests = requestsFor(path, event!.id);
    expect(requests).toHaveLength(4);
    for (const request of requests) expect(verifyWithReference(secret, request)).toEqual(await eventResource(event!.id));
    const attempts = (await attemptsOf(endpoint.id)).filter((attempt) => attempt.eventId === event!.id);
    expect(attempts.map((attempt) => ({ attempt: attempt.attempt, status: attempt.status, trigger: attempt.trigger, response: attempt.response?.status, body: attempt.response?.body }))).toEqual([
      { attempt: 1, status: "failed", trigger: "scheduled", response: 500, body: "failure 1" },
      { attempt: 2, status: "failed", trigger: "scheduled", response: 500, body: "failure 2" },
      { attempt: 3, status: "failed", trigger: "scheduled", response: 500, body: "failure 3" },
      { attempt: 4, status: "succeeded", trigger: "scheduled", response: 200, body: "finally" },
    ]);
    expect(attempts.filter((attempt) => attempt.status === "succeeded")).toHaveLength(1);
    // Each failure scheduled the next attempt by the Standard Webhooks schedule (±20 % jitter).
    for (const attempt of attempts.slice(0, 3)) {
      const delay = Date.parse(attempt.nextAttemptAt!) - Date.parse(attempt.createdAt);
      const scheduled = STANDARD_WEBHOOK_SCHEDULE_MS[attempt.attempt]!;
      expect(delay).toBeGreaterThanOrEqual(scheduled * 0.8 - 1_000);
      expect(delay).toBeLessThanOrEqual(scheduled * 1.2 + 1_000);
    }
    expect(attempts[3]!.nextAttemptAt).toBeNull();
    expect(attempts.every((attempt) => attempt.request.headers["webhook-id"] === event!.id)).toBe(true);
  });

  it("a 410 disables the endpoint at once, with webhook.endpoint.disabled in the log; later events are kept as skipped", async () => {
    const path = "/gone";
    receiver.script(path, [{ kind: "status", status: 410, body: "no such hook" }]);
    const { endpoint } = await createEndpoint(path, { eventTypes: ["exam.deleted"] });
    const deleted = (): EventDraft => ({ type: "exam.deleted", subject: "exam", data: { examId: randomUUID(), reason: "withdrawn", deletedBy: "teacher-1" } });
    const [event] = await publish(deleted());

    const disabled = await waitUntil("the endpoint disabled", async () => {
      const current = await webhooks().store.getEndpoint(endpoint.id);
      return current?.status === "disabled" ? current : undefined;
    });
    expect(disabled).toMatchObject({ status: "disabled", disabledReason: "gone" });
    const notice = await waitUntil("webhook.endpoint.disabled in the log", async () => {
      const { events } = await app.container.store.readAll({ types: [WEBHOOK_EVENT_TYPES.disabled], limit: 1_000 });
      return events.find((candidate) => (candidate.data as { endpointId: string }).endpointId === endpoint.id);
    });
    expect(notice.data).toMatchObject({ endpointId: endpoint.id, url: receiver.url(path), reason: "gone" });
    expect(requestsFor(path, event!.id)).toHaveLength(1);
    const [attempt] = (await attemptsOf(endpoint.id)).filter((candidate) => candidate.eventId === event!.id);
    expect(attempt).toMatchObject({ status: "failed", response: { status: 410, body: "no such hook" }, nextAttemptAt: null });

    // Disabled: a new event makes a skipped delivery, and no request.
    const [later] = await publish(deleted());
    const skipped = await waitUntil("a skipped delivery for the later event", async () => {
      const stats = await webhooks().store.endpointStats({ since: new Date(0).toISOString(), endpointIds: [endpoint.id] });
      return stats[0] && stats[0].skipped >= 1 ? stats[0] : undefined;
    });
    expect(skipped.skipped).toBe(1);
    expect(requestsFor(path, later!.id)).toHaveLength(0);
  });

  it("refuses endpoints whose address the SSRF rules block: 422 naming url", async () => {
    for (const url of ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::ffff:10.0.0.1]/", "http://[::ffff:a9fe:a9fe]/"]) {
      const response = await postEndpoint(app.request("/api/v1/webhooks/endpoints", { method: "POST", body: { url, eventTypes: ["exam.*"] } }));
      const problem = await bodyOf<{ status: number; errors?: Array<{ path: string; message: string }> }>(response);
      expect({ url, status: response.status }).toEqual({ url, status: 422 });
      expect(problem.errors?.map((error) => error.path)).toContain("url");
    }

    // Loopback is allowed here only because WEBHOOK_ALLOWED_HOSTS says so; without it the mapped
    // form of 127.0.0.1 is refused like the rest.
    const { store, dispatcher } = webhooks();
    const strict = new WebhookService({
      store,
      dispatcher,
      registry: app.container.registry,
      eventStore: app.container.store,
      publish: (drafts) => app.container.publisher.publish(drafts),
      allow: parseAllowList(""),
      resolve: async (host) => (host === "localhost" ? ["127.0.0.1"] : []),
    });
    for (const url of [`http://[::ffff:127.0.0.1]:${receiver.port}/`, receiver.url("/"), `http://localhost:${receiver.port}/`, "http://10.0.0.1/", "http://169.254.169.254/"]) {
      const refusal = await strict.createEndpoint({ url, eventTypes: ["exam.*"] }, PRINCIPAL).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refusal, url).toBeInstanceOf(ValidationError);
      expect((refusal as ValidationError).issues.map((issue) => issue.path)).toContain("url");
    }
  });

  it("orders per key: key A waits for its first event's retries while key B's events are delivered meanwhile", async () => {
    const path = "/ordered";
    const titleOf = (request: ReceivedRequest) => (JSON.parse(request.body) as { data: { changes: { title: string } } }).data.changes.title;
    receiver.script(path, (request) => {
      const earlierA1 = receiver.requests(path).filter((earlier) => earlier !== request && titleOf(earlier) === "A1").length;
      return titleOf(request) === "A1" && earlierA1 < 2 ? { kind: "status", status: 500, body: "not yet" } : { kind: "status", status: 200, body: "ok" };
    });
    const { endpoint } = await createEndpoint(path, { eventTypes: ["exam.updated"], orderedByKey: true });
    const events = await publish(
      examUpdated("A1", "key-a"),
      examUpdated("B1", "key-b"),
      examUpdated("A2", "key-a"),
      examUpdated("B2", "key-b"),
      examUpdated("A3", "key-a"),
      examUpdated("B3", "key-b"),
    );
    const a1 = events[0]!;
    const titles = () => receiver.requests(path).map(titleOf).filter((title) => /^[AB]\d$/.test(title));

    // A1 failed once and waits for its retry; B's events are not held back by it.
    await receiver.waitFor(() => ["B1", "B2", "B3"].every((title) => titles().includes(title)), { timeoutMs: WAIT_MS, what: "B1..B3 while A1 waits" });
    const firstFailure = await afterAttempt(endpoint.id, a1.id, 1);
    expect(titles().filter((title) => title.startsWith("A"))).toEqual(["A1"]);
    expect(titles().filter((title) => title.startsWith("B"))).toEqual(["B1", "B2", "B3"]);

    await passTimeUntilNextAttempt(firstFailure);
    const secondFailure = await afterAttempt(endpoint.id, a1.id, 2);
    expect(titles().filter((title) => title.startsWith("A"))).toEqual(["A1", "A1"]);
    await passTimeUntilNextAttempt(secondFailure);

    await receiver.waitFor(() => titles().includes("A3"), { timeoutMs: WAIT_MS, what: "A2 and A3 after A1 succeeded" });
    expect(titles().filter((title) => title.startsWith("A"))).toEqual(["A1", "A1", "A1", "A2", "A3"]);
    const deliveries = await Promise.all(events.map((event) => afterAttempt(endpoint.id, event.id, event === a1 ? 3 : 1)));
    expect(deliveries.map((delivery) => [delivery.partitionKey, delivery.status])).toEqual([
      ["key-a", "succeeded"],
      ["key-b", "succeeded"],
      ["key-a", "succeeded"],
      ["key-b", "succeeded"],
      ["key-a", "succeeded"],
      ["key-b", "succeeded"],
    ]);
  });

  it("routes by type pattern: each endpoint above got only the types it asked for", async () => {
    const typesAt = (path: string) => new Set(receiver.requests(path).map((request) => (JSON.parse(request.body) as { type: string }).type));
    await receiver.waitFor(() => typesAt("/signed").size === 3, { timeoutMs: WAIT_MS, what: "the exam.* endpoint got every kind published" });
    expect([...typesAt("/rotated")]).toEqual(["exam.updated"]);
    expect([...typesAt("/flaky")]).toEqual(["exam.created"]);
    expect([...typesAt("/gone")]).toEqual(["exam.deleted"]);
    expect([...typesAt("/ordered")]).toEqual(["exam.updated"]);
    // The exam.* endpoint saw all three kinds the suite published.
    expect([...typesAt("/signed")].sort()).toEqual(["exam.created", "exam.deleted", "exam.updated"]);
  });
});
