import { randomBytes, randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as getHealth } from "@/app/api/health/route";
import { POST as postBatch } from "@/app/api/v1/events/batch/route";
import { GET as getEvent } from "@/app/api/v1/events/[id]/route";
import { GET as listEvents, POST as postEvent } from "@/app/api/v1/events/route";
import { bodyOf, startTestApp, type TestApp } from "./test-harness";

/**
 * The core publish/read flow against a real PostgreSQL server (a fresh database, dropped after),
 * where PGlite's single session hides nothing: connection pool, migrations under the advisory lock,
 * the append function, idempotency claims and API keys.
 */
const ADMIN_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

describe("REST v1 events on PostgreSQL", () => {
  const name = `eventloom_rest_${randomBytes(6).toString("hex")}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  let app: TestApp;
  let readerKey: string;

  beforeAll(async () => {
    await admin.unsafe(`create database ${name}`);
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    app = await startTestApp({ DATABASE_URL: url.toString() });
    readerKey = (await app.container.authServices.apiKeys.create({ name: "reader", scopes: ["events:read"] })).key;
  });

  afterAll(async () => {
    await app?.close();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });

  const deleted = (subject: string) => ({ type: "exam.deleted", subject, data: { examId: randomUUID(), reason: "pg", deletedBy: "t" } });

  it("reports healthy", async () => {
    expect((await getHealth(app.request("/api/health", { key: null }))).status).toBe(200);
  });

  it("publishes, replays by Idempotency-Key, rejects a reused key with another body, and reads back", async () => {
    const subject = `pg-${randomUUID()}`;
    const body = deleted(subject);
    const send = (payload: unknown) => postEvent(app.request("/api/v1/events", { method: "POST", body: payload, headers: { "idempotency-key": "pg-1" } }));
    const first = await send(body);
    expect(first.status).toBe(202);
    const accepted = await bodyOf<{ id: string; position: number }>(first);

    const replay = await send(body);
    expect(replay.status).toBe(202);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await bodyOf(replay)).toEqual(accepted);
    expect((await send(deleted(subject))).status).toBe(409);

    const batch = await postBatch(app.request("/api/v1/events/batch", { method: "POST", body: { events: [deleted(`${subject}-b`), deleted(`${subject}-c`)] } }));
    expect(batch.status).toBe(202);
    const { items } = await bodyOf<{ items: Array<{ id: string; position: number }> }>(batch);

    const page = await bodyOf<{ items: Array<{ id: string }>; next: string | null }>(
      await listEvents(app.request(`/api/v1/events?after=${accepted.position - 1}&type=exam.*`, { key: readerKey })),
    );
    expect(page.items.map((event) => event.id)).toEqual([accepted.id, ...items.map((item) => item.id)]);
    expect(page.next).toBeNull();

    const one = await getEvent(app.request(`/api/v1/events/${accepted.id}`, { key: readerKey }), { params: Promise.resolve({ id: accepted.id }) });
    expect(await bodyOf(one)).toMatchObject({ id: accepted.id, subject, type: "exam.deleted", position: accepted.position });
  });

  it("a batch with one invalid event stores nothing", async () => {
    const head = await app.container.store.headPosition();
    const events = [deleted("pg-x"), { ...deleted("pg-y"), data: { examId: 1 } }];
    const response = await postBatch(app.request("/api/v1/events/batch", { method: "POST", body: { events } }));
    expect(response.status).toBe(422);
    const problem = await bodyOf<{ errors: Array<{ path: string }> }>(response);
    expect(problem.errors.map((issue) => issue.path).sort()).toEqual(["events[1].data.deletedBy", "events[1].data.examId", "events[1].data.reason"]);
    expect(await app.container.store.headPosition()).toBe(head);
  });
});
