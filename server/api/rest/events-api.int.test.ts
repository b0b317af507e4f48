import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GET as getHealth } from "@/app/api/health/route";
import { POST as postBatch } from "@/app/api/v1/events/batch/route";
import { GET as getEvent } from "@/app/api/v1/events/[id]/route";
import { GET as listEvents, POST as postEvent } from "@/app/api/v1/events/route";
import { GET as listEventTypes, POST as postEventType } from "@/app/api/v1/event-types/route";
import { GET as getOpenApi } from "@/app/api/v1/openapi.json/route";
import { newId } from "@/server/engine/core/ids";
import { installContainer, type Container } from "@/server/runtime/container";
import { bodyOf, startTestApp, type TestApp } from "./test-harness";

let app: TestApp;
let readerKey: string;
let publisherKey: string;

const RUNTIME_TYPE = "rest.exam_scored";

function scored(overrides: Record<string, unknown> = {}) {
  return { examId: randomUUID(), score: 7, ...overrides };
}

function examCreated() {
  return {
    examId: randomUUID(),
    title: "Algebra midterm",
    subject: "math",
    totalScore: 100,
    questionCount: 20,
    createdBy: "teacher-1",
    durationMinutes: 90,
  };
}

type Problem = { type: string; title: string; status: number; detail: string; errors?: Array<{ path: string; message: string }> };

async function expectProblem(response: Response, status: number): Promise<Problem> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = await bodyOf<Problem>(response);
  expect(problem.status).toBe(status);
  expect(problem.type).toMatch(/^https:\/\/eventloom\.dev\/problems\//);
  expect(typeof problem.title).toBe("string");
  expect(typeof problem.detail).toBe("string");
  expect(JSON.stringify(problem)).not.toMatch(/\bat .*\.(ts|js):\d+/);
  return problem;
}

async function publish(body: unknown, init: { headers?: HeadersInit; key?: string | null } = {}) {
  return postEvent(app.request("/api/v1/events", { method: "POST", body, ...init }));
}

async function headPosition(): Promise<number> {
  return app.container.store.headPosition();
}

beforeAll(async () => {
  app = await startTestApp();
  readerKey = (await app.container.authServices.apiKeys.create({ name: "reader", scopes: ["events:read"] })).key;
  publisherKey = (await app.container.authServices.apiKeys.create({ name: "publisher", scopes: ["events:publish"] })).key;
  const registered = await postEventType(
    app.request("/api/v1/event-types", {
      method: "POST",
      body: {
        type: RUNTIME_TYPE,
        description: "A score for an exam (registered by the REST tests)",
        schema: {
          type: "object",
          properties: { examId: { type: "string", format: "uuid" }, score: { type: "number", minimum: 0 } },
          required: ["examId", "score"],
          additionalProperties: false,
        },
      },
    }),
  );
  expect(registered.status).toBe(201);
});

afterAll(async () => {
  await app?.close();
});

describe("GET /api/health", () => {
  it("is public and reports ok while the store answers", async () => {
    const response = await getHealth(app.request("/api/health", { key: null }));
    expect(response.status).toBe(200);
    expect(await bodyOf(response)).toEqual({ status: "ok" });
  });
});

describe("authentication and scopes", () => {
  it("401 without a key, with an unknown key and with a malformed header", async () => {
    const missing = await expectProblem(await listEvents(app.request("/api/v1/events", { key: null })), 401);
    expect(missing.type).toBe("https://eventloom.dev/problems/unauthorized");
    await expectProblem(await listEvents(app.request("/api/v1/events", { key: "el_AAAAAAAA_" + "B".repeat(43) })), 401);
    const basic = await listEvents(app.request("/api/v1/events", { key: null, headers: { authorization: "Basic dXNlcjpwYXNz" } }));
    await expectProblem(basic, 401);
    expect(basic.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it("401 for a revoked key, at once", async () => {
    const { key, apiKey } = await app.container.authServices.apiKeys.create({ name: "short-lived", scopes: ["events:read"] });
    expect((await listEvents(app.request("/api/v1/events", { key }))).status).toBe(200);
    await app.container.authServices.apiKeys.revoke(apiKey.id);
    await expectProblem(await listEvents(app.request("/api/v1/events", { key })), 401);
  });

  it("403 when the key lacks the scope, and nothing is stored", async () => {
    const before = await headPosition();
    const problem = await expectProblem(await publish({ type: RUNTIME_TYPE, data: scored() }, { key: readerKey }), 403);
    expect(problem.detail).toContain("events:publish");
    await expectProblem(await listEvents(app.request("/api/v1/events", { key: publisherKey })), 403);
    await expectProblem(await postEventType(app.request("/api/v1/event-types", { method: "POST", key: publisherKey, body: {} })), 403);
    expect(await headPosition()).toBe(before);
  });
});

describe("POST /api/v1/events", () => {
  it("202 with id, position, correlationid and a traceparent continuing the caller's trace", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const response = await publish(
      { type: RUNTIME_TYPE, data: scored(), subject: "exam-1" },
      { key: publisherKey, headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } },
    );
    expect(response.status).toBe(202);
    expect(response.headers.get("idempotent-replayed")).toBeNull();
    const body = await bodyOf<{ id: string; position: number; correlationid: string; traceparent: string }>(response);
    expect(Object.keys(body).sort()).toEqual(["correlationid", "id", "position", "traceparent"]);
    expect(body.position).toBeGreaterThan(0);
    expect(body.correlationid).toBe(body.id);
    expect(body.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(body.traceparent).not.toContain("00f067aa0ba902b7");

    const stored = await bodyOf(await getEvent(app.request(`/api/v1/events/${body.id}`), { params: Promise.resolve({ id: body.id }) }));
    expect(stored).toMatchObject({ id: body.id, type: RUNTIME_TYPE, subject: "exam-1", position: body.position, specversion: "1.0", priority: "normal" });
    expect(stored).not.toHaveProperty("streamid");
  });

  it("starts a new trace without a traceparent header", async () => {
    const body = await bodyOf<{ traceparent: string }>(await publish({ type: RUNTIME_TYPE, data: scored() }));
    expect(body.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it("202 for a CloudEvent (application/cloudevents+json), keeping its id, source, time and extensions", async () => {
    const id = randomUUID();
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const response = await publish(
      JSON.stringify({
        specversion: "1.0",
        id,
        source: "urn:test:grader",
        type: RUNTIME_TYPE,
        time: "2026-02-03T04:05:06Z",
        subject: "exam-ce",
        datacontenttype: "application/json",
        data: scored(),
        correlationid: "corr-ce",
        priority: "high",
        traceparent: `00-${traceId}-b7ad6b7169203331-01`,
      }),
      { headers: { "content-type": "application/cloudevents+json; charset=utf-8" } },
    );
    expect(response.status).toBe(202);
    const body = await bodyOf<{ id: string; correlationid: string; traceparent: string }>(response);
    expect(body.id).toBe(id);
    expect(body.correlationid).toBe("corr-ce");
    expect(body.traceparent.split("-")[1]).toBe(traceId);
    const stored = await app.container.store.getById(id);
    expect(stored).toMatchObject({ source: "urn:test:grader", time: "2026-02-03T04:05:06.000Z", priority: "high", subject: "exam-ce" });
  });

  it("422 for a CloudEvent missing required attributes or with unknown extensions", async () => {
    const response = await publish(JSON.stringify({ specversion: "1.0", type: RUNTIME_TYPE, data: scored(), myextension: 1 }), {
      headers: { "content-type": "application/cloudevents+json" },
    });
    const problem = await expectProblem(response, 422);
    expect(problem.errors?.map((issue) => issue.path).sort()).toEqual(["id", "myextension", "source"]);
  });

  it("a supplied id already stored returns the original event's reply, never a second event", async () => {
    const id = newId();
    const first = await bodyOf(await publish({ id, type: RUNTIME_TYPE, data: scored({ score: 1 }) }));
    const head = await headPosition();
    const again = await publish({ id, type: RUNTIME_TYPE, data: scored({ score: 2 }) });
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await bodyOf(again)).toEqual(first);
    expect(await headPosition()).toBe(head);
  });

  it("Idempotency-Key: same body replays the original response; a different body is 409", async () => {
    const key = `order-${randomUUID()}`;
    const data = scored();
    const first = await publish({ type: RUNTIME_TYPE, data }, { headers: { "idempotency-key": key } });
    expect(first.status).toBe(202);
    const original = await bodyOf(first);
    const head = await headPosition();

    // Same content, other key order and spacing: the same request.
    const replay = await publish(JSON.stringify({ data: { score: data.score, examId: data.examId }, type: RUNTIME_TYPE }), {
      headers: { "idempotency-key": key, "content-type": "application/json" },
    });
    expect(replay.status).toBe(202);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await bodyOf(replay)).toEqual(original);

    const conflict = await expectProblem(
      await publish({ type: RUNTIME_TYPE, data: { ...data, score: 99 } }, { headers: { "idempotency-key": key } }),
      409,
    );
    expect(conflict.type).toBe("https://eventloom.dev/problems/conflict");
    expect(await headPosition()).toBe(head);

    // Keys are per caller: another key holder using the same Idempotency-Key gets its own event.
    const other = await publish({ type: RUNTIME_TYPE, data }, { key: publisherKey, headers: { "idempotency-key": key } });
    expect(other.status).toBe(202);
    expect(other.headers.get("idempotent-replayed")).toBeNull();
    expect((await bodyOf<{ id: string }>(other)).id).not.toBe((original as { id: string }).id);
  });

  it("400 for an Idempotency-Key that is not visible ASCII", async () => {
    await expectProblem(await publish({ type: RUNTIME_TYPE, data: scored() }, { headers: { "idempotency-key": "a b" } }), 400);
  });

  it("400 for malformed JSON, an empty body and invalid UTF-8; nothing stored", async () => {
    const before = await headPosition();
    const malformed = await expectProblem(await publish('{"type": "rest.exam_scored", "data": {'), 400);
    expect(malformed.type).toBe("https://eventloom.dev/problems/bad-request");
    await expectProblem(await publish("", { headers: { "content-type": "application/json" } }), 400);
    const invalidUtf8 = await postEvent(
      new Request("http://localhost/api/v1/events", {
        method: "POST",
        headers: { authorization: "Bearer test-admin-key-0123456789", "content-type": "application/json" },
        body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      }),
    );
    await expectProblem(invalidUtf8, 400);
    expect(await headPosition()).toBe(before);
  });

  it("413 over MAX_BODY_BYTES, by Content-Length and by counting a streamed body", async () => {
    const before = await headPosition();
    const big = JSON.stringify({ type: RUNTIME_TYPE, data: { blob: "x".repeat(1024 * 1024) } });
    const declared = await publish(big, { headers: { "content-type": "application/json", "content-length": String(big.length) } });
    expect((await expectProblem(declared, 413)).type).toBe("https://eventloom.dev/problems/payload-too-large");

    // No Content-Length: a chunked upload is cut off once it passes the limit.
    const encoder = new TextEncoder();
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > 4 * 1024 * 1024) return controller.close();
        sent += 64 * 1024;
        controller.enqueue(encoder.encode(sent === 64 * 1024 ? '{"type":"rest.exam_scored","data":"' + "y".repeat(64 * 1024 - 35) : "y".repeat(64 * 1024)));
      },
    });
    const chunked = await postEvent(
      new Request("http://localhost/api/v1/events", {
        method: "POST",
        headers: { authorization: "Bearer test-admin-key-0123456789", "content-type": "application/json" },
        body: stream,
        duplex: "half",
      } as RequestInit),
    );
    await expectProblem(chunked, 413);
    expect(sent).toBeLessThan(2 * 1024 * 1024);
    expect(await headPosition()).toBe(before);
  });

  it("415 for a wrong or missing content type", async () => {
    const problem = await expectProblem(await publish("type=x", { headers: { "content-type": "application/x-www-form-urlencoded" } }), 415);
    expect(problem.detail).toContain("application/json");
    await expectProblem(await publish(new URLSearchParams({ a: "b" }).toString(), { headers: { "content-type": "text/plain" } }), 415);
    await expectProblem(
      await postEvent(new Request("http://localhost/api/v1/events", { method: "POST", headers: { authorization: "Bearer test-admin-key-0123456789" }, body: "{}" })),
      415,
    );
  });

  it("422 for an unknown type, a schema violation and envelope errors, all listed; nothing stored", async () => {
    const before = await headPosition();
    const unknown = await expectProblem(await publish({ type: "no.such_type", data: {} }), 422);
    expect(unknown.type).toBe("https://eventloom.dev/problems/validation");
    expect(unknown.errors).toEqual([{ path: "type", message: expect.stringContaining("unknown event type") }]);

    const violation = await expectProblem(await publish({ type: RUNTIME_TYPE, data: { examId: "not-a-uuid", score: -1 } }), 422);
    expect(violation.errors?.map((issue) => issue.path).sort()).toEqual(["data.examId", "data.score"]);

    const envelope = await expectProblem(await publish({ type: RUNTIME_TYPE, data: scored(), priority: "urgent", id: "x", subjet: "typo" }), 422);
    expect(envelope.errors?.map((issue) => issue.path).sort()).toEqual(["id", "priority", "subjet"]);

    const missing = await expectProblem(await publish({ type: RUNTIME_TYPE }), 422);
    expect(missing.errors).toEqual([{ path: "data", message: "is required" }]);
    expect(await headPosition()).toBe(before);
  });
});

describe("POST /api/v1/events/batch", () => {
  const batch = (body: unknown, init: { headers?: HeadersInit } = {}) =>
    postBatch(app.request("/api/v1/events/batch", { method: "POST", body, ...init }));

  it("202 with one item per event in request order", async () => {
    const events = [0, 1, 2].map((index) => ({ type: RUNTIME_TYPE, data: scored({ score: index }), subject: `batch-${index}` }));
    const response = await batch({ events });
    expect(response.status).toBe(202);
    const { items } = await bodyOf<{ items: Array<{ id: string; position: number }> }>(response);
    expect(items).toHaveLength(3);
    expect(items.map((item) => item.position)).toEqual([items[0]!.position, items[0]!.position + 1, items[0]!.position + 2]);
    for (const [index, item] of items.entries()) {
      expect((await app.container.store.getById(item.id))?.subject).toBe(`batch-${index}`);
    }
  });

  it("422 naming events[3].data.examId (and every other failure) with nothing stored", async () => {
    const before = await headPosition();
    const events = [scored(), scored(), scored(), scored({ examId: 42 }), scored()].map((data) => ({ type: RUNTIME_TYPE, data }));
    events[1] = { type: "unknown.kind", data: scored() };
    (events[4] as Record<string, unknown>).priority = "urgent";
    const problem = await expectProblem(await batch({ events }), 422);
    expect(problem.errors?.map((issue) => issue.path).sort()).toEqual(["events[1].type", "events[3].data.examId", "events[4].priority"]);
    expect(await headPosition()).toBe(before);
  });

  it("422 for a repeated id inside one batch, an empty batch, and more than 1000 events", async () => {
    const id = newId();
    const repeated = await expectProblem(
      await batch({ events: [{ id, type: RUNTIME_TYPE, data: scored() }, { id, type: RUNTIME_TYPE, data: scored() }] }),
      422,
    );
    expect(repeated.errors).toEqual([{ path: "events[1].id", message: "repeats the id of events[0].id" }]);
    expect((await expectProblem(await batch({ events: [] }), 422)).errors?.[0]?.path).toBe("events");
    const tooMany = Array.from({ length: 1001 }, () => ({ type: RUNTIME_TYPE, data: scored() }));
    expect((await expectProblem(await batch({ events: tooMany }), 422)).errors?.[0]?.path).toBe("events");
    expect(await app.container.store.getById(id)).toBeUndefined();
  });

  it("accepts exactly 1000 events", async () => {
    const events = Array.from({ length: 1000 }, (_, index) => ({ type: RUNTIME_TYPE, data: scored(), subject: `bulk-${index}` }));
    const response = await batch({ events });
    expect(response.status).toBe(202);
    expect((await bodyOf<{ items: unknown[] }>(response)).items).toHaveLength(1000);
  });

  // KNOWN BUG outside the REST layer: EventPublisher.publish makes one StreamAppend per event and the
  // store refuses a stream named twice in one append, so this answers 422 ("[1].streamId appears
  // more than once"). `.fails` keeps the expectation visible; drop it once the publisher groups
  // drafts by stream.
  it("several events about one subject in one batch", async () => {
    const subject = `exam-${randomUUID()}`;
    const events = [1, 2, 3].map((score) => ({ type: RUNTIME_TYPE, data: scored({ score }), subject }));
    const response = await batch({ events });
    expect(response.status).toBe(202);
    const stream = await app.container.store.readStream(subject);
    expect(stream.map((event) => (event.data as { score: number }).score)).toEqual([1, 2, 3]);
  });

  it("application/cloudevents-batch+json, with [i]. paths for failures", async () => {
    const ids = [randomUUID(), randomUUID()];
    const cloudEvents = ids.map((id) => ({ specversion: "1.0", id, source: "urn:test", subject: `ce-${id}`, type: RUNTIME_TYPE, data: scored() }));
    const ok = await batch(JSON.stringify(cloudEvents), { headers: { "content-type": "application/cloudevents-batch+json" } });
    expect(ok.status).toBe(202);
    expect((await bodyOf<{ items: Array<{ id: string }> }>(ok)).items.map((item) => item.id)).toEqual(ids);

    const bad = [...cloudEvents.map((event) => ({ ...event, id: randomUUID() })), { specversion: "1.0", id: randomUUID(), source: "urn:test", type: RUNTIME_TYPE, data: { score: 1 } }];
    const problem = await expectProblem(await batch(JSON.stringify(bad), { headers: { "content-type": "application/cloudevents-batch+json" } }), 422);
    expect(problem.errors).toEqual([{ path: "[2].data.examId", message: "is required" }]);
  });

  it("Idempotency-Key on a batch replays the original items", async () => {
    const key = randomUUID();
    const body = { events: [{ type: RUNTIME_TYPE, data: scored(), subject: "idem-1" }, { type: RUNTIME_TYPE, data: scored(), subject: "idem-2" }] };
    const first = await bodyOf(await batch(body, { headers: { "idempotency-key": key } }));
    const replay = await batch(body, { headers: { "idempotency-key": key } });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await bodyOf(replay)).toEqual(first);
    await expectProblem(await batch({ events: body.events.slice(0, 1) }, { headers: { "idempotency-key": key } }), 409);
  });

  it("415 for a single CloudEvent content type", async () => {
    await expectProblem(await batch(JSON.stringify({ events: [] }), { headers: { "content-type": "application/cloudevents+json" } }), 415);
  });
});

describe("GET /api/v1/events and /api/v1/events/{id}", () => {
  const correlationid = `list-${randomUUID()}`;
  let published: Array<{ id: string; position: number }>;

  beforeAll(async () => {
    const events = [
      { type: RUNTIME_TYPE, data: scored({ score: 1 }), subject: "list-a", correlationid },
      { type: "exam.created", data: examCreated(), subject: "list-a", correlationid },
      { type: RUNTIME_TYPE, data: scored({ score: 3 }), subject: "list-b", correlationid },
      { type: RUNTIME_TYPE, data: scored({ score: 4 }), subject: "list-a", correlationid },
      { type: "exam.created", data: examCreated(), subject: "list-b", correlationid },
    ];
    // One request each: a batch cannot hold two events of one stream yet (see the known bug above).
    published = [];
    for (const event of events) published.push(await bodyOf<{ id: string; position: number }>(await publish(event)));
  });

  const list = async (query: string, key?: string) => listEvents(app.request(`/api/v1/events?${query}`, key ? { key } : {}));

  it("filters by correlationid, subject and type, in position order", async () => {
    const all = await bodyOf<{ items: Array<{ id: string; position: number }>; next: string | null }>(await list(`correlationid=${correlationid}`, readerKey));
    expect(all.items.map((event) => event.id)).toEqual(published.map((event) => event.id));
    expect(all.next).toBeNull();

    const bySubject = await bodyOf<{ items: Array<{ subject: string }> }>(await list(`correlationid=${correlationid}&subject=list-a`));
    expect(bySubject.items.map((event) => event.subject)).toEqual(["list-a", "list-a", "list-a"]);

    const byType = await bodyOf<{ items: Array<{ type: string }> }>(await list(`correlationid=${correlationid}&type=exam.created`));
    expect(byType.items).toHaveLength(2);
    const wildcard = await bodyOf<{ items: Array<{ type: string }> }>(await list(`correlationid=${correlationid}&type=exam.*,rest.*`));
    expect(wildcard.items).toHaveLength(5);
    const repeated = await bodyOf<{ items: unknown[] }>(await list(`correlationid=${correlationid}&type=exam.*&type=rest.exam_scored`));
    expect(repeated.items).toHaveLength(5);
  });

  it("pages with limit and the next cursor, without gaps or repeats", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `correlationid=${correlationid}&limit=2${cursor ? `&next=${cursor}` : ""}`;
      const page = await bodyOf<{ items: Array<{ id: string }>; next: string | null }>(await list(query));
      seen.push(...page.items.map((event) => event.id));
      cursor = page.next;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(seen).toEqual(published.map((event) => event.id));
    expect(pages).toBe(3);
  });

  it("after is exclusive; from/to bound the event time", async () => {
    const after = await bodyOf<{ items: Array<{ id: string }> }>(await list(`correlationid=${correlationid}&after=${published[2]!.position}`));
    expect(after.items.map((event) => event.id)).toEqual(published.slice(3).map((event) => event.id));
    const future = await bodyOf<{ items: unknown[] }>(await list(`correlationid=${correlationid}&from=2999-01-01T00:00:00Z`));
    expect(future.items).toEqual([]);
    const past = await bodyOf<{ items: unknown[] }>(await list(`correlationid=${correlationid}&to=2000-01-01T00:00:00Z`));
    expect(past.items).toEqual([]);
  });

  it("400 naming each bad query parameter", async () => {
    const cases: Array<[string, string]> = [
      ["limit=0", "limit"],
      ["limit=1001", "limit"],
      ["limit=ten", "limit"],
      ["after=-1", "after"],
      ["from=yesterday", "from"],
      ["type=Exam.Created", "type"],
      ["type=exam.*.x", "type"],
      ["colour=blue", "colour"],
      ["subject=a&subject=b", "subject"],
      ["after=1&next=2", "next"],
    ];
    for (const [query, parameter] of cases) {
      const problem = await expectProblem(await list(query), 400);
      expect(problem.errors?.map((issue) => issue.path), query).toEqual([parameter]);
      expect(problem.detail, query).toContain(parameter);
    }
  });

  it("GET /{id}: the event, 404 for an unknown or malformed id", async () => {
    const id = published[1]!.id;
    const found = await getEvent(app.request(`/api/v1/events/${id}`, { key: readerKey }), { params: Promise.resolve({ id }) });
    expect(found.status).toBe(200);
    expect(await bodyOf(found)).toMatchObject({ id, type: "exam.created", position: published[1]!.position, correlationid });
    const upper = await getEvent(app.request(`/api/v1/events/${id.toUpperCase()}`), { params: Promise.resolve({ id: id.toUpperCase() }) });
    expect(upper.status).toBe(200);
    const missing = randomUUID();
    await expectProblem(await getEvent(app.request(`/api/v1/events/${missing}`), { params: Promise.resolve({ id: missing }) }), 404);
    await expectProblem(await getEvent(app.request("/api/v1/events/nope"), { params: Promise.resolve({ id: "nope" }) }), 404);
  });

  it("returns events upcast to the latest version of their type", async () => {
    const id = newId();
    const { durationMinutes: _omitted, ...v1 } = examCreated();
    const outcome = await app.container.store.append([
      {
        streamId: `upcast-${id}`,
        expectedVersion: "any",
        events: [
          {
            specversion: "1.0",
            id,
            type: "exam.created",
            source: "urn:test",
            time: new Date().toISOString(),
            datacontenttype: "application/json",
            data: v1,
            correlationid: id,
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            priority: "normal",
            schemaversion: 1,
          },
        ],
      },
    ]);
    expect(outcome.status).toBe("appended");
    const latest = app.container.registry.get("exam.created")!.version;
    expect(latest).toBeGreaterThan(1);
    const event = await bodyOf<{ schemaversion: number; data: Record<string, unknown> }>(
      await getEvent(app.request(`/api/v1/events/${id}`), { params: Promise.resolve({ id }) }),
    );
    expect(event.schemaversion).toBe(latest);
    expect(event.data).toHaveProperty("durationMinutes");
  });
});

describe("/api/v1/event-types", () => {
  it("GET lists code and runtime types with their JSON Schemas", async () => {
    const response = await listEventTypes(app.request("/api/v1/event-types", { key: publisherKey }));
    expect(response.status).toBe(200);
    const { items } = await bodyOf<{ items: Array<{ type: string; version: number; description: string; schema: object; origin: string }> }>(response);
    const runtime = items.find((item) => item.type === RUNTIME_TYPE);
    expect(runtime).toMatchObject({ version: 1, origin: "runtime", description: expect.stringContaining("score") });
    expect(runtime?.schema).toMatchObject({ required: ["examId", "score"] });
    expect(items.find((item) => item.type === "exam.created")?.origin).toBe("code");
  });

  it("POST registers a new version, persisted; identical repeats are harmless; changes need a version", async () => {
    const register = (body: unknown) => postEventType(app.request("/api/v1/event-types", { method: "POST", body }));
    const schema = { type: "object", properties: { n: { type: "integer" } }, required: ["n"] };
    const created = await register({ type: "rest.counter", schema });
    expect(created.status).toBe(201);
    expect(await bodyOf(created)).toMatchObject({ type: "rest.counter", version: 1, schema });
    expect((await register({ type: "rest.counter", schema })).status).toBe(201);

    const changed = { ...schema, required: [] };
    await expectProblem(await register({ type: "rest.counter", version: 1, schema: changed }), 422);
    const v2 = await register({ type: "rest.counter", version: 2, schema: changed });
    expect(v2.status).toBe(201);
    expect(await bodyOf(v2)).toMatchObject({ version: 2, versions: [1, 2] });

    const stored = await app.container.eventTypes.loadAll();
    expect(stored.filter((record) => record.type === "rest.counter").map((record) => record.version).sort()).toEqual([1, 2]);
    expect((await publish({ type: "rest.counter", data: {} })).status).toBe(202);
  });

  it("422 for an invalid JSON Schema, a bad type name, a code-defined type; 415/400 for bad bodies", async () => {
    const register = (body: unknown, init: { headers?: HeadersInit } = {}) =>
      postEventType(app.request("/api/v1/event-types", { method: "POST", body, ...init }));
    const badSchema = await expectProblem(await register({ type: "rest.bad", schema: { type: "object", requried: ["x"] } }), 422);
    expect(badSchema.errors?.[0]?.path).toMatch(/^schema/);
    expect((await expectProblem(await register({ type: "NoDots", schema: {} }), 422)).errors?.[0]?.path).toBe("type");
    await expectProblem(await register({ type: "exam.created", schema: {} }), 422);
    await expectProblem(await register({ type: "rest.missing" }), 422);
    await expectProblem(await register("{", { headers: { "content-type": "application/json" } }), 400);
    await expectProblem(await register("x", { headers: { "content-type": "text/plain" } }), 415);
    expect(app.container.registry.get("rest.bad")).toBeUndefined();
    expect((await app.container.eventTypes.loadAll()).some((record) => record.type === "rest.bad")).toBe(false);
  });
});

describe("GET /api/v1/openapi.json", () => {
  it("is an OpenAPI 3.1 document listing every events-scope path, with bearer security and problem responses", async () => {
    await expectProblem(await getOpenApi(app.request("/api/v1/openapi.json", { key: null })), 401);
    const response = await getOpenApi(app.request("/api/v1/openapi.json", { key: readerKey }));
    expect(response.status).toBe(200);
    const document = await bodyOf<{
      openapi: string;
      info: { title: string };
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }>; requestBody?: { content: Record<string, unknown> } }>>;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { type: string; scheme: string }> };
    }>(response);
    expect(document.openapi).toBe("3.1.0");
    // The events scope exactly (other scopes, e.g. delivery, are checked by their own suites).
    const eventsScope = Object.keys(document.paths).filter((path) => path === "/api/health" || path === "/api/v1/openapi.json" || path.startsWith("/api/v1/event"));
    expect(eventsScope.sort()).toEqual(
      [
        "/api/health",
        "/api/v1/event-types",
        "/api/v1/events",
        "/api/v1/events/batch",
        "/api/v1/events/poll",
        "/api/v1/events/stream",
        "/api/v1/events/{id}",
        "/api/v1/openapi.json",
      ].sort(),
    );
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    const publishOp = document.paths["/api/v1/events"]!.post!;
    expect(Object.keys(publishOp.requestBody!.content).sort()).toEqual(["application/cloudevents+json", "application/json"]);
    expect(Object.keys(publishOp.responses)).toEqual(expect.arrayContaining(["202", "400", "401", "403", "409", "413", "415", "422"]));
    expect(publishOp.responses["422"]!.content).toHaveProperty(["application/problem+json"]);
    expect(Object.keys(document.components.schemas)).toEqual(expect.arrayContaining(["Event", "PublishEvent", "CloudEvent", "Problem"]));
  });
});

describe("dependency failures", () => {
  it("health answers 503 degraded (with Retry-After) when the store does not answer", async () => {
    const ping = vi.spyOn(app.container.store, "ping").mockRejectedValue(new Error("connection refused to db.internal:5432"));
    try {
      const response = await getHealth(app.request("/api/health", { key: null }));
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("5");
      const body = await bodyOf(response);
      expect(body).toEqual({
        status: "degraded",
        components: {
          database: { status: "down", latencyMs: expect.any(Number), reason: "unreachable" },
          "event-bus": { status: "up", latencyMs: null },
          "transport:postgres": { status: "up", latencyMs: expect.any(Number) },
          projections: { status: "up", latencyMs: null },
          sagas: { status: "up", latencyMs: null },
          webhooks: { status: "up", latencyMs: null },
        },
      });
      expect(JSON.stringify(body)).not.toContain("db.internal");
    } finally {
      ping.mockRestore();
    }
  });

  it("503 problem (and degraded health) while the container cannot start", async () => {
    const failing = Promise.reject(new Error("database did not open")) as Promise<Container>;
    failing.catch(() => undefined);
    installContainer(failing);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const problem = await expectProblem(await listEvents(app.request("/api/v1/events")), 503);
      expect(problem.type).toBe("https://eventloom.dev/problems/unavailable");
      expect((await getHealth(app.request("/api/health", { key: null }))).status).toBe(503);
    } finally {
      stderr.mockRestore();
      installContainer(app.container);
    }
  });

  it("an unexpected failure is a 500 problem that reveals nothing of it", async () => {
    const readAll = vi.spyOn(app.container.store, "readAll").mockRejectedValue(new Error('relation "eventloom_secret" does not exist'));
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const response = await listEvents(app.request("/api/v1/events"));
      const problem = await expectProblem(response, 500);
      expect(problem.type).toBe("https://eventloom.dev/problems/internal");
      expect(JSON.stringify(problem)).not.toContain("eventloom_secret");
      expect(stderr.mock.calls.map(([line]) => String(line)).join("")).toContain("eventloom_secret");
    } finally {
      stderr.mockRestore();
      readAll.mockRestore();
    }
  });
});
