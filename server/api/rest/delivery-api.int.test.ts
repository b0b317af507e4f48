import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as postEvent } from "@/app/api/v1/events/route";
import { GET as getOpenApi } from "@/app/api/v1/openapi.json/route";
import { DELETE as deleteDeadLetter, GET as getDeadLetter } from "@/app/api/v1/dead-letters/[id]/route";
import { POST as redriveOne } from "@/app/api/v1/dead-letters/[id]/redrive/route";
import { POST as redriveMatching } from "@/app/api/v1/dead-letters/redrive/route";
import { GET as listDeadLetters } from "@/app/api/v1/dead-letters/route";
import { DELETE as cancelReplay, GET as getReplay } from "@/app/api/v1/replays/[id]/route";
import { GET as listReplays, POST as postReplay } from "@/app/api/v1/replays/route";
import { GET as getStatus } from "@/app/api/v1/status/route";
import { GET as listSubscriptions } from "@/app/api/v1/subscriptions/route";
import { eventually } from "@/server/engine/transport/transport.contract";
import { diagnosticsSubscription } from "@/server/runtime/diagnostics";
import { startTransportWorkers, type TransportWorkers } from "@/server/runtime/transport-workers";
import { bodyOf, startTestApp, type TestApp } from "./test-harness";

/**
 * REST v1 delivery routes on the default transport (the postgres driver on PGlite), with the
 * subscriptions and the outbox relay started as a web process starts them. The `diagnostics`
 * subscription is wrapped to record what reached its handler.
 */

interface DeadLetterItem {
  id: string;
  subscription: string;
  event: { id: string; type: string; data: { failUntil?: string }; position: number };
  error: { type: string; message: string };
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
}

const params = <P>(value: P) => ({ params: Promise.resolve(value) });

describe("REST v1 subscriptions, dead letters, replays and status", () => {
  let app: TestApp;
  let workers: TransportWorkers;
  let readerKey: string;
  let publisherKey: string;
  /** Every delivery the diagnostics handler saw, and how it ended. */
  const handled: Array<{ id: string; replayId?: string; ok: boolean }> = [];

  beforeAll(async () => {
    app = await startTestApp({ LOG_POLL_INTERVAL_MS: 50 });
    const probe = diagnosticsSubscription();
    app.container.transport.subscriptions.define({
      ...probe,
      async handle(event, context) {
        try {
          await probe.handle(event, context);
        } catch (error) {
          handled.push({ id: event.id, replayId: context.replayId, ok: false });
          throw error;
        }
        handled.push({ id: event.id, replayId: context.replayId, ok: true });
      },
    });
    workers = startTransportWorkers(app.container);
    await workers.ready;
    readerKey = (await app.container.authServices.apiKeys.create({ name: "reader", scopes: ["events:read"] })).key;
    publisherKey = (await app.container.authServices.apiKeys.create({ name: "publisher", scopes: ["events:publish"] })).key;
  });

  afterAll(async () => {
    await workers?.stop();
    await app?.close();
  });

  async function publishProbe(data: { failUntil?: string; note?: string }, subject?: string): Promise<{ id: string; position: number }> {
    const response = await postEvent(app.request("/api/v1/events", { method: "POST", body: { type: "diagnostics.probe", data, ...(subject ? { subject } : {}) } }));
    expect(response.status).toBe(202);
    return bodyOf(response);
  }

  async function deadLetters(query = "", key?: string): Promise<{ items: DeadLetterItem[]; next: string | null }> {
    const response = await listDeadLetters(app.request(`/api/v1/dead-letters${query}`, key ? { key } : {}));
    expect(response.status).toBe(200);
    return bodyOf(response);
  }

  const deadLetterOf = async (eventId: string) => (await deadLetters("?subscription=diagnostics")).items.find((item) => item.event.id === eventId);
  async function waitForDeadLetter(eventId: string): Promise<DeadLetterItem> {
    let found: DeadLetterItem | undefined;
    await eventually(async () => (found = await deadLetterOf(eventId)) !== undefined, 15_000, 100);
    return found!;
  }
  const succeeded = (eventId: string, replayId?: string) => handled.some((entry) => entry.id === eventId && entry.ok && entry.replayId === replayId);

  let probeA: { id: string; position: number };
  let probeB: { id: string; position: number };
  let failUntil: number;

  it("lists the subscriptions with their figures", async () => {
    const response = await listSubscriptions(app.request("/api/v1/subscriptions", { key: readerKey }));
    expect(response.status).toBe(200);
    const { items } = await bodyOf<{ items: Array<Record<string, unknown>> }>(response);
    const diagnostics = items.find((item) => item.name === "diagnostics");
    expect(diagnostics).toEqual({
      name: "diagnostics",
      transport: "postgres",
      topic: "events",
      group: "diagnostics",
      depth: expect.any(Number),
      lag: expect.any(Number),
      inFlight: expect.any(Number),
      deadLettered: 0,
      ratePerSecond: expect.any(Number),
    });
  });

  it("a probe failing until failUntil exhausts its retries and is listed as a ProbeFailure dead letter", async () => {
    failUntil = Date.now() + 5_000;
    [probeA, probeB] = [await publishProbe({ failUntil: new Date(failUntil).toISOString(), note: "a" }), await publishProbe({ failUntil: new Date(failUntil).toISOString(), note: "b" })];

    const letter = await waitForDeadLetter(probeA.id);
    await waitForDeadLetter(probeB.id);
    expect(letter).toMatchObject({
      subscription: "diagnostics",
      event: { id: probeA.id, type: "diagnostics.probe", position: probeA.position, data: { note: "a" } },
      error: { type: "ProbeFailure", message: expect.stringContaining("fails on purpose") },
      attempts: 3,
    });
    expect(Date.parse(letter.firstFailedAt)).toBeLessThan(Date.parse(letter.lastFailedAt));
    expect(Date.now()).toBeLessThan(failUntil);

    // Filters and paging (in order of first failure: the two keys fail in parallel).
    const both = [probeA.id, probeB.id].sort();
    expect((await deadLetters("?errorType=ProbeFailure")).items.map((item) => item.event.id).sort()).toEqual(both);
    expect((await deadLetters("?errorType=DecodeError")).items).toEqual([]);
    expect((await deadLetters("?subscription=other")).items).toEqual([]);
    const first = await deadLetters("?limit=1");
    expect(first.items).toHaveLength(1);
    expect(first.next).toBe(first.items[0]!.id);
    const second = await deadLetters(`?limit=1&after=${first.next}`);
    expect([...first.items, ...second.items].map((item) => item.event.id).sort()).toEqual(both);
    expect(second.next).toBeNull();

    const one = await getDeadLetter(app.request(`/api/v1/dead-letters/${letter.id}`, { key: readerKey }), params({ id: letter.id }));
    expect(await bodyOf(one)).toEqual(letter);

    const subscriptions = await bodyOf<{ items: Array<{ name: string; deadLettered: number }> }>(await listSubscriptions(app.request("/api/v1/subscriptions")));
    expect(subscriptions.items.find((item) => item.name === "diagnostics")?.deadLettered).toBe(2);
  });

  it("a dry-run redrive counts the matches and changes nothing", async () => {
    const response = await redriveMatching(
      app.request("/api/v1/dead-letters/redrive", { method: "POST", body: { subscription: "diagnostics", errorType: "ProbeFailure", dryRun: true } }),
    );
    expect(response.status).toBe(202);
    expect(await bodyOf(response)).toEqual({ matched: 2 });
    const none = await bodyOf(await redriveMatching(app.request("/api/v1/dead-letters/redrive", { method: "POST", body: { errorType: "Nope", dryRun: true } })));
    expect(none).toEqual({ matched: 0 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await deadLetters("?subscription=diagnostics")).items.map((item) => item.event.id).sort()).toEqual([probeA.id, probeB.id].sort());
  });

  it("redriving one after failUntil passed: it succeeds and its dead letter is gone", async () => {
    const letter = (await deadLetterOf(probeA.id))!;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, failUntil - Date.now() + 100)));
    const response = await redriveOne(app.request(`/api/v1/dead-letters/${letter.id}/redrive`, { method: "POST" }), params({ id: letter.id }));
    expect(response.status).toBe(202);
    expect(await deadLetterOf(probeA.id)).toBeUndefined();
    await eventually(() => succeeded(probeA.id), 15_000, 50);
    // Still gone: it did not fail again.
    expect(await deadLetterOf(probeA.id)).toBeUndefined();
    const missing = await getDeadLetter(app.request(`/api/v1/dead-letters/${letter.id}`), params({ id: letter.id }));
    expect(missing.status).toBe(404);
  });

  it("redriving every match (paced) empties them in the background", async () => {
    const response = await redriveMatching(
      app.request("/api/v1/dead-letters/redrive", { method: "POST", body: { subscription: "diagnostics", errorType: "ProbeFailure", ratePerSecond: 50 } }),
    );
    expect(response.status).toBe(202);
    expect(await bodyOf(response)).toEqual({ matched: 1 });
    await eventually(() => succeeded(probeB.id), 15_000, 50);
    expect(await deadLetterOf(probeB.id)).toBeUndefined();
  });

  it("deletes one dead letter (204), then 404", async () => {
    const doomed = await publishProbe({ failUntil: new Date(Date.now() + 3_600_000).toISOString(), note: "delete me" });
    const letter = await waitForDeadLetter(doomed.id);
    const response = await deleteDeadLetter(app.request(`/api/v1/dead-letters/${letter.id}`, { method: "DELETE" }), params({ id: letter.id }));
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect(await deadLetterOf(doomed.id)).toBeUndefined();
    const again = await deleteDeadLetter(app.request(`/api/v1/dead-letters/${letter.id}`, { method: "DELETE" }), params({ id: letter.id }));
    expect(again.status).toBe(404);
    expect(again.headers.get("content-type")).toBe("application/problem+json");
  });

  it("a replay of a range reaches the diagnostics handler again, with the replay id, and reports done", async () => {
    expect(succeeded(probeA.id)).toBe(true);
    const dryRun = await postReplay(
      app.request("/api/v1/replays", { method: "POST", body: { fromPosition: probeA.position, toPosition: probeA.position, target: { subscription: "diagnostics" }, dryRun: true } }),
    );
    expect(dryRun.status).toBe(202);
    expect(await bodyOf(dryRun)).toEqual({ id: null, status: "dry_run", matched: 1 });

    const response = await postReplay(
      app.request("/api/v1/replays", {
        method: "POST",
        body: { fromPosition: probeA.position, toPosition: probeA.position, type: "diagnostics.probe", target: { subscription: "diagnostics" } },
      }),
    );
    expect(response.status).toBe(202);
    const accepted = await bodyOf<{ id: string; status: string; matched: number }>(response);
    expect(accepted).toEqual({ id: expect.any(String), status: "queued", matched: 1 });
    expect(response.headers.get("location")).toBe(`/api/v1/replays/${accepted.id}`);

    const done = await eventually(async () => {
      const replay = await bodyOf<{ status: string }>(await getReplay(app.request(`/api/v1/replays/${accepted.id}`), params({ id: accepted.id })));
      return replay.status === "done" ? replay : false;
    }, 15_000, 100);
    expect(done).toEqual({ id: accepted.id, status: "done", progress: { total: 1, done: 1 }, target: { subscription: "diagnostics" }, error: null });
    await eventually(() => succeeded(probeA.id, accepted.id), 15_000, 50);
    expect(handled.filter((entry) => entry.id === probeA.id && entry.replayId === accepted.id)).toHaveLength(1);

    const recent = await bodyOf<{ items: Array<{ id: string }> }>(await listReplays(app.request("/api/v1/replays?limit=5")));
    expect(recent.items[0]?.id).toBe(accepted.id);

    // It ended: nothing to cancel.
    expect((await cancelReplay(app.request(`/api/v1/replays/${accepted.id}`, { method: "DELETE" }), params({ id: accepted.id }))).status).toBe(409);
  });

  it("cancels a paced replay between batches", async () => {
    const subject = `cancel-${randomUUID()}`;
    for (let index = 0; index < 6; index++) await publishProbe({ note: `c${index}` }, subject);
    const response = await postReplay(
      app.request("/api/v1/replays", { method: "POST", body: { subject, target: { subscription: "diagnostics" }, ratePerSecond: 1 } }),
    );
    const { id, matched } = await bodyOf<{ id: string; matched: number }>(response);
    expect(matched).toBe(6);
    await eventually(async () => (await bodyOf<{ status: string }>(await getReplay(app.request(`/api/v1/replays/${id}`), params({ id })))).status === "running", 10_000, 50);
    const cancelled = await cancelReplay(app.request(`/api/v1/replays/${id}`, { method: "DELETE" }), params({ id }));
    expect(cancelled.status).toBe(200);
    expect(await bodyOf(cancelled)).toMatchObject({ id, status: "cancelled" });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const after = await bodyOf<{ status: string; progress: { total: number; done: number } }>(await getReplay(app.request(`/api/v1/replays/${id}`), params({ id })));
    expect(after.status).toBe("cancelled");
    expect(after.progress.total).toBe(6);
    expect(after.progress.done).toBeLessThan(6);
  });

  it("replays with an Idempotency-Key: the same body returns the original, another body 409", async () => {
    const body = { fromPosition: probeB.position, toPosition: probeB.position, target: { subscription: "diagnostics" } };
    const send = (payload: unknown) => postReplay(app.request("/api/v1/replays", { method: "POST", body: payload, headers: { "idempotency-key": "replay-1" } }));
    const first = await bodyOf<{ id: string }>(await send(body));
    const repeat = await send(body);
    expect(repeat.status).toBe(202);
    expect(repeat.headers.get("idempotent-replayed")).toBe("true");
    expect((await bodyOf<{ id: string }>(repeat)).id).toBe(first.id);
    expect((await send({ ...body, ratePerSecond: 5 })).status).toBe(409);
  });

  it("refuses invalid replays with 422 naming the field", async () => {
    const post = async (body: unknown) => {
      const response = await postReplay(app.request("/api/v1/replays", { method: "POST", body }));
      return { status: response.status, problem: await bodyOf<{ detail: string; errors?: Array<{ path: string; message: string }> }>(response) };
    };
    const unknown = await post({ target: { subscription: "no-such-subscription" } });
    expect(unknown.status).toBe(422);
    expect(unknown.problem.errors?.map((issue) => issue.path)).toEqual(["target.subscription"]);

    const webhook = await post({ target: { webhookEndpoint: "ep_1" } });
    expect(webhook.status).toBe(422);
    expect(webhook.problem.errors).toEqual([{ path: "target.webhookEndpoint", message: "webhook endpoints do not exist yet" }]);
    expect(webhook.problem.detail).toContain("webhook endpoints do not exist yet");

    const both = await post({ fromPosition: 1, from: new Date().toISOString(), target: { subscription: "diagnostics" } });
    expect(both.status).toBe(422);
    expect(both.problem.errors?.map((issue) => issue.path)).toEqual(["from"]);

    const backwards = await post({ fromPosition: 5, toPosition: 2, target: { subscription: "diagnostics" } });
    expect(backwards.problem.errors?.map((issue) => issue.path)).toEqual(["toPosition"]);

    const noTarget = await post({ fromPosition: 1 });
    expect(noTarget.status).toBe(422);
    expect(noTarget.problem.errors?.map((issue) => issue.path)).toEqual(["target"]);

    const badType = await post({ type: "Not A Type", target: { subscription: "diagnostics" } });
    expect(badType.problem.errors?.map((issue) => issue.path)).toEqual(["type"]);

    const extra = await post({ target: { subscription: "diagnostics" }, priority: "high" });
    expect(extra.problem.errors?.map((issue) => issue.path)).toEqual(["priority"]);
  });

  it("answers 404 for unknown dead letters and replays, and 400 for bad query parameters", async () => {
    const missing = randomUUID();
    for (const id of [missing, "not-a-uuid"]) {
      expect((await getDeadLetter(app.request(`/api/v1/dead-letters/${id}`), params({ id }))).status).toBe(404);
      expect((await redriveOne(app.request(`/api/v1/dead-letters/${id}/redrive`, { method: "POST" }), params({ id }))).status).toBe(404);
      expect((await deleteDeadLetter(app.request(`/api/v1/dead-letters/${id}`, { method: "DELETE" }), params({ id }))).status).toBe(404);
      expect((await getReplay(app.request(`/api/v1/replays/${id}`), params({ id }))).status).toBe(404);
      expect((await cancelReplay(app.request(`/api/v1/replays/${id}`, { method: "DELETE" }), params({ id }))).status).toBe(404);
    }
    for (const query of ["?limit=0", "?limit=1001", "?after=nope", "?color=blue"]) {
      const response = await listDeadLetters(app.request(`/api/v1/dead-letters${query}`));
      expect(response.status, query).toBe(400);
    }
    const badBody = await redriveMatching(app.request("/api/v1/dead-letters/redrive", { method: "POST", body: { ratePerSecond: -1 } }));
    expect(badBody.status).toBe(422);
    const notJson = await redriveMatching(app.request("/api/v1/dead-letters/redrive", { method: "POST", body: "{", headers: { "content-type": "application/json" } }));
    expect(notJson.status).toBe(400);
  });

  it("needs events:read to read and admin to redrive, delete and replay (403), and a key (401)", async () => {
    const id = randomUUID();
    expect((await listDeadLetters(app.request("/api/v1/dead-letters", { key: readerKey }))).status).toBe(200);
    expect((await listDeadLetters(app.request("/api/v1/dead-letters", { key: publisherKey }))).status).toBe(403);
    expect((await listSubscriptions(app.request("/api/v1/subscriptions", { key: publisherKey }))).status).toBe(403);
    expect((await listDeadLetters(app.request("/api/v1/dead-letters", { key: null }))).status).toBe(401);

    const forbidden = [
      await redriveMatching(app.request("/api/v1/dead-letters/redrive", { method: "POST", key: readerKey, body: { dryRun: true } })),
      await redriveOne(app.request(`/api/v1/dead-letters/${id}/redrive`, { method: "POST", key: readerKey }), params({ id })),
      await deleteDeadLetter(app.request(`/api/v1/dead-letters/${id}`, { method: "DELETE", key: readerKey }), params({ id })),
      await postReplay(app.request("/api/v1/replays", { method: "POST", key: readerKey, body: { target: { subscription: "diagnostics" } } })),
      await getReplay(app.request(`/api/v1/replays/${id}`, { key: readerKey }), params({ id })),
      await cancelReplay(app.request(`/api/v1/replays/${id}`, { method: "DELETE", key: readerKey }), params({ id })),
      await listReplays(app.request("/api/v1/replays", { key: readerKey })),
    ];
    for (const response of forbidden) {
      expect(response.status).toBe(403);
      expect((await bodyOf<{ detail: string }>(response)).detail).toContain("admin");
    }
  });

  it("reports status: components, subscriptions and throughput", async () => {
    const response = await getStatus(app.request("/api/v1/status", { key: readerKey }));
    expect(response.status).toBe(200);
    const body = await bodyOf<{
      status: string;
      components: Array<{ name: string; status: string; latencyMs: number | null }>;
      subscriptions: Array<{ name: string; deadLettered: number }>;
      throughput: { eventsPerSecond: number; headPosition: number };
    }>(response);
    expect(body.status).toBe("healthy");
    expect(body.components.map((component) => component.name)).toEqual(["database", "event-bus", "transport:postgres", "projections", "sagas", "webhooks"]);
    expect(body.components.every((component) => component.status === "up")).toBe(true);
    expect(body.subscriptions.map((subscription) => subscription.name)).toContain("diagnostics");
    expect(body.throughput.headPosition).toBe(await app.container.store.headPosition());
    // Every event of this suite was published within the last minute or two.
    expect(body.throughput.eventsPerSecond).toBeGreaterThan(0);
  });

  it("describes the routes in the OpenAPI document", async () => {
    const document = await bodyOf<{ paths: Record<string, Record<string, unknown>> }>(await getOpenApi(app.request("/api/v1/openapi.json")));
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/status",
        "/api/v1/subscriptions",
        "/api/v1/dead-letters",
        "/api/v1/dead-letters/redrive",
        "/api/v1/dead-letters/{id}",
        "/api/v1/dead-letters/{id}/redrive",
        "/api/v1/replays",
        "/api/v1/replays/{id}",
      ]),
    );
    expect(Object.keys(document.paths["/api/v1/dead-letters/{id}"]!)).toEqual(["get", "delete"]);
    expect(Object.keys(document.paths["/api/v1/replays/{id}"]!)).toEqual(["get", "delete"]);
  });
});
