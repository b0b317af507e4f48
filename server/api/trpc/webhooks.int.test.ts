import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as wait } from "node:timers/promises";
import { getTRPCErrorShape, TRPCError } from "@trpc/server";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "@/server/api/rest/test-harness";
import { roleScopes, type Principal, type Role } from "@/server/engine/core/principal";
import { startTransportWorkers, type TransportWorkers } from "@/server/runtime/transport-workers";
import type { TRPCContext } from "./init";
import { appRouter } from "./root";

/**
 * The dashboard's webhooks router against a real container on PGlite, with the transport workers
 * running (the webhook-dispatcher subscription makes first attempts) and a real HTTP receiver on
 * 127.0.0.1: create, list, read, update, rotate, test sends that verify with the standardwebhooks
 * package, attempts from a real event, a failed attempt resent, and every error as the browser
 * gets it.
 */

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver on loopback: records every request; answers `status` with a small JSON body. */
class Receiver {
  readonly requests: Received[] = [];
  status = 200;
  private server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        this.requests.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
        response.writeHead(this.status, { "content-type": "application/json", "x-receiver": "int-test" });
        response.end(JSON.stringify({ received: true, status: this.status }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/hooks`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

let app: TestApp;
let workers: TransportWorkers;
const receiver = new Receiver();

function contextAs(role: Role | null): TRPCContext {
  if (role === null) return { container: app.container, principal: null };
  const principal: Principal = { kind: "user", id: `user-${role}`, name: `${role}@example.com`, scopes: roleScopes[role], role };
  return { container: app.container, principal };
}

const callerAs = (role: Role | null) => appRouter.createCaller(contextAs(role));

/** The error a call fails with, as the errorFormatter shapes it for the browser. */
async function shapeOfFailure(call: Promise<unknown>, path: string) {
  let failure: unknown;
  try {
    await call;
  } catch (error) {
    failure = error;
  }
  expect(failure).toBeInstanceOf(TRPCError);
  return getTRPCErrorShape({ config: appRouter._def._config, error: failure as TRPCError, type: "mutation", path, input: undefined, ctx: contextAs("admin") });
}

/** Headers as standardwebhooks takes them (one string each). */
function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : (value ?? "")]));
}

/** Asks `read` until `done` holds (bounded: 300 tries, 20 ms apart); the last answer. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let attempt = 0; attempt < 300 && !done(value); attempt++) {
    await wait(20);
    value = await read();
  }
  return value;
}

const admin = () => callerAs("admin");

beforeAll(async () => {
  await receiver.start();
  app = await startTestApp({ WEBHOOK_ALLOWED_HOSTS: "127.0.0.1,localhost", LOG_POLL_INTERVAL_MS: 50 });
  workers = startTransportWorkers(app.container);
  await workers.ready;
}, 60_000);

afterAll(async () => {
  await workers?.stop();
  await app?.close();
  await receiver.close();
});

describe("webhooks router", () => {
  it("creates an endpoint, shows its secret only in the answer, and lists and reads it with its health", async () => {
    const created = await admin().webhooks.create({ url: receiver.url, eventTypes: ["webhook.endpoint.*"], description: "created by the router test" });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    expect(created.endpoint).toMatchObject({ url: receiver.url, eventTypes: ["webhook.endpoint.*"], status: "enabled", description: "created by the router test" });
    expect(JSON.stringify(created.endpoint)).not.toContain(created.secret.slice("whsec_".length));

    const listed = await admin().webhooks.list({});
    const row = listed.items.find((endpoint) => endpoint.id === created.endpoint.id);
    expect(row?.stats).toMatchObject({ endpointId: created.endpoint.id, attempts: 0, successRate: null, pending: 0 });
    expect(JSON.stringify(listed)).not.toContain(created.secret.slice("whsec_".length));

    const read = await admin().webhooks.get({ id: created.endpoint.id });
    expect(read.secrets).toEqual([{ createdAt: expect.any(String), expiresAt: null }]);
    expect(JSON.stringify(read)).not.toContain(created.secret.slice("whsec_".length));

    const types = await admin().webhooks.eventTypes();
    expect(types.map((type) => type.type)).toContain("webhook.endpoint.created");
  });

  it("refuses callers without webhooks:manage", async () => {
    expect((await shapeOfFailure(callerAs("analyst").webhooks.list({}), "webhooks.list")).data.code).toBe("FORBIDDEN");
    expect((await shapeOfFailure(callerAs(null).webhooks.list({}), "webhooks.list")).data.code).toBe("UNAUTHORIZED");
    // Operators manage webhooks, as the REST scope maps them.
    await expect(callerAs("operator").webhooks.list({})).resolves.toMatchObject({ items: expect.any(Array) });
  });

  it("names the field of bad input: scheme, blocked address, unknown type, invalid filter", async () => {
    const cases: Array<{ input: Parameters<ReturnType<typeof admin>["webhooks"]["create"]>[0]; path: string }> = [
      { input: { url: "ftp://127.0.0.1/hooks", eventTypes: ["webhook.endpoint.*"] }, path: "url" },
      { input: { url: "http://10.1.2.3/hooks", eventTypes: ["webhook.endpoint.*"] }, path: "url" },
      { input: { url: receiver.url, eventTypes: ["webhook.endpoint.*", "no_such.type"] }, path: "eventTypes[1]" },
      { input: { url: receiver.url, eventTypes: ["webhook.endpoint.*"], filter: "data.score >=" }, path: "filter" },
    ];
    for (const { input, path } of cases) {
      const shape = await shapeOfFailure(admin().webhooks.create(input), "webhooks.create");
      expect(shape.data.code, path).toBe("BAD_REQUEST");
      const issues = (shape.data as { issues?: Array<{ path: string; message: string }> }).issues ?? [];
      expect(issues.map((issue) => issue.path), JSON.stringify(issues)).toContain(path);
    }
    const missing = await shapeOfFailure(admin().webhooks.get({ id: "0190f3c4-0000-7000-8000-000000000000" }), "webhooks.get");
    expect(missing.data.code).toBe("NOT_FOUND");
  });

  it("updates settings (only what changed), and previews a filter against recent events", async () => {
    const { endpoint } = await admin().webhooks.create({ url: receiver.url, eventTypes: ["webhook.endpoint.created"] });
    const updated = await admin().webhooks.update({
      id: endpoint.id,
      changes: { description: "grades", filter: 'type == "webhook.endpoint.updated"', headers: { "x-team": "grading" }, rateLimitPerSecond: 50, orderedByKey: true },
    });
    expect(updated).toMatchObject({ description: "grades", filter: 'type == "webhook.endpoint.updated"', headers: { "x-team": "grading" }, rateLimitPerSecond: 50, orderedByKey: true });
    expect(updated.version).toBeGreaterThan(endpoint.version);
    expect(updated.url).toBe(receiver.url);

    const badUpdate = await shapeOfFailure(admin().webhooks.update({ id: endpoint.id, changes: { filter: "data.(" } }), "webhooks.update");
    expect(badUpdate.data.code).toBe("BAD_REQUEST");
    expect(((badUpdate.data as { issues?: Array<{ path: string }> }).issues ?? []).map((issue) => issue.path.replace(/^changes\./, ""))).toContain("filter");

    // The update above is in the log: the preview finds it among the management events.
    const preview = await eventually(
      () => admin().webhooks.previewFilter({ filter: 'type == "webhook.endpoint.updated"', eventTypes: ["webhook.endpoint.*"] }),
      (result) => result.matched.length > 0,
    );
    expect(preview.error).toBeNull();
    expect(preview.matched.every((event) => event.type === "webhook.endpoint.updated")).toBe(true);
    expect(preview.examined).toBeGreaterThan(preview.matched.length);

    const broken = await admin().webhooks.previewFilter({ filter: "data.score >=", eventTypes: ["webhook.endpoint.*"] });
    expect(broken.error).toEqual(expect.any(String));
    expect(broken.matched).toEqual([]);
  });

  it("sends signed test deliveries that verify with standardwebhooks, with both secrets during a rotation", async () => {
    const { endpoint, secret } = await admin().webhooks.create({ url: receiver.url, eventTypes: ["webhook.endpoint.deleted"] });
    // Other endpoints of this suite receive the management events meanwhile: find ours by webhook-id.
    const requestOf = (eventId: string) => receiver.requests.filter((request) => request.headers["webhook-id"] === eventId);
    const attempt = await admin().webhooks.sendTest({ id: endpoint.id, data: { message: "hello" } });
    expect(attempt).toMatchObject({ endpointId: endpoint.id, trigger: "test", status: "succeeded", eventType: "webhook.test", response: { status: 200 } });
    expect(JSON.parse(attempt.response!.body)).toEqual({ received: true, status: 200 });
    expect(requestOf(attempt.eventId)).toHaveLength(1);
    const first = requestOf(attempt.eventId)[0]!;
    expect(() => new Webhook(secret).verify(first.body, flatHeaders(first.headers))).not.toThrow();
    expect(JSON.parse(first.body)).toMatchObject({ type: "webhook.test", data: { message: "hello" } });

    const rotated = await admin().webhooks.rotateSecret({ id: endpoint.id });
    expect(rotated.secret).not.toBe(secret);
    expect(rotated.endpoint.secrets).toHaveLength(2);
    expect(rotated.endpoint.secrets[1]?.expiresAt).toEqual(expect.any(String));
    const rehearsal = await admin().webhooks.sendTest({ id: endpoint.id, type: "webhook.endpoint.deleted", data: { rehearsal: true } });
    expect(requestOf(rehearsal.eventId)).toHaveLength(1);
    const second = requestOf(rehearsal.eventId)[0]!;
    expect(String(second.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(() => new Webhook(rotated.secret).verify(second.body, flatHeaders(second.headers))).not.toThrow();
    expect(() => new Webhook(secret).verify(second.body, flatHeaders(second.headers))).not.toThrow();

    // The test sends are in the log, newest first, with their requests and responses.
    const log = await admin().webhooks.attempts({ endpointId: endpoint.id });
    expect(log.items.map((item) => item.eventType)).toEqual(["webhook.endpoint.deleted", "webhook.test"]);
    expect(log.items[0]).toMatchObject({ responseStatus: 200, trigger: "test", requestUrl: receiver.url });
    expect(log.items[0]).not.toHaveProperty("request");
    const full = await admin().webhooks.attempt({ id: log.items[0]!.id });
    expect(full.request.headers["webhook-id"]).toEqual(expect.any(String));
    expect(full.response?.headers["x-receiver"]).toBe("int-test");

    // A test send must use a registered type (the receiver may validate it), and is never resent.
    const unknownType = await shapeOfFailure(admin().webhooks.sendTest({ id: endpoint.id, type: "exam.rehearsal" }), "webhooks.sendTest");
    expect((unknownType.data as { issues?: Array<{ path: string }> }).issues?.map((issue) => issue.path)).toEqual(["type"]);
    expect((await shapeOfFailure(admin().webhooks.resend({ attemptId: log.items[0]!.id }), "webhooks.resend")).data.code).toBe("CONFLICT");
  });

  it("logs the attempts of a real event; a failed one is resent and succeeds; recover, disable, enable and delete", async () => {
    // Only the creation of the endpoint made below (its own creation is a webhook.endpoint.created too).
    const { endpoint } = await admin().webhooks.create({ url: receiver.url, eventTypes: ["webhook.endpoint.created"], description: "audit mirror", filter: 'data.url.endsWith("/other")' });
    receiver.status = 500;
    // Creating another endpoint publishes webhook.endpoint.created: the dispatcher delivers it.
    const { endpoint: other } = await admin().webhooks.create({ url: `${receiver.url}/other`, eventTypes: ["webhook.endpoint.deleted"] });
    const failed = await eventually(
      () => admin().webhooks.attempts({ endpointId: endpoint.id, status: "failed" }),
      (page) => page.items.some((item) => item.trigger === "scheduled"),
    );
    const first = failed.items.find((item) => item.trigger === "scheduled")!;
    expect(first).toMatchObject({ status: "failed", responseStatus: 500, eventType: "webhook.endpoint.created", attempt: 1 });
    expect(first.nextAttemptAt).toEqual(expect.any(String));
    const detail = await admin().webhooks.attempt({ id: first.id });
    expect(JSON.parse(detail.request.body)).toMatchObject({ id: first.eventId, type: "webhook.endpoint.created", data: { endpointId: other.id } });
    expect((await admin().webhooks.attempts({ endpointId: endpoint.id, status: "succeeded" })).items.filter((item) => item.eventId === first.eventId)).toEqual([]);

    receiver.status = 200;
    const { deliveryId } = await admin().webhooks.resend({ attemptId: first.id });
    expect(deliveryId).toBe(first.deliveryId);
    const resent = await eventually(
      async () => {
        await app.container.webhooks.dispatcher.runDue();
        return admin().webhooks.attempts({ endpointId: endpoint.id, status: "succeeded" });
      },
      (page) => page.items.some((item) => item.deliveryId === first.deliveryId),
    );
    expect(resent.items.find((item) => item.deliveryId === first.deliveryId)).toMatchObject({ trigger: "manual", responseStatus: 200, nextAttemptAt: null });
    const health = await admin().webhooks.get({ id: endpoint.id });
    expect(health.stats.attempts).toBeGreaterThanOrEqual(2);
    expect(health.stats.lastStatus).toBe(200);

    const recovered = await admin().webhooks.recover({ id: endpoint.id, since: new Date(Date.now() - 3_600_000).toISOString() });
    expect(recovered.recovered).toEqual(expect.any(Number));

    const disabled = await admin().webhooks.setEnabled({ id: endpoint.id, enabled: false });
    expect(disabled).toMatchObject({ status: "disabled", disabledReason: "manual" });
    const enabled = await admin().webhooks.setEnabled({ id: endpoint.id, enabled: true });
    expect(enabled).toMatchObject({ status: "enabled", disabledReason: null });

    await admin().webhooks.delete({ id: other.id });
    expect((await shapeOfFailure(admin().webhooks.get({ id: other.id }), "webhooks.get")).data.code).toBe("NOT_FOUND");
    const unknownAttempt = await shapeOfFailure(admin().webhooks.attempt({ id: "0190f3c4-0000-7000-8000-000000000001" }), "webhooks.attempt");
    expect(unknownAttempt.data.code).toBe("NOT_FOUND");
  });
});
