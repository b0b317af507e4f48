import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { POST as authPost, GET as authGet } from "@/app/api/auth/[...all]/route";
import { POST as postEventType } from "@/app/api/v1/event-types/route";
import { GET as listEvents, POST as postEvent } from "@/app/api/v1/events/route";
import { sql } from "drizzle-orm";
import { startTestApp, type TestApp } from "./test-harness";

/**
 * Dashboard sign-in through better-auth's own route, and the session cookie standing in for an API
 * key on REST v1 with the scopes of the user's role.
 */

const ORIGIN = "http://localhost:3000";
const ADMIN = { email: "ops@example.com", password: "correct-horse-battery" };

function authRequest(path: string, init: { body?: unknown; cookie?: string; method?: string; origin?: string } = {}): Request {
  const headers = new Headers({ origin: init.origin ?? ORIGIN });
  if (init.body !== undefined) headers.set("content-type", "application/json");
  if (init.cookie) headers.set("cookie", init.cookie);
  return new Request(`${ORIGIN}/api/auth${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

/** Signs in with email + password; the session cookie as a Cookie header value, or the failed response. */
async function signIn(email: string, password: string): Promise<{ cookie?: string; response: Response }> {
  const response = await authPost(authRequest("/sign-in/email", { body: { email, password } }));
  const cookies = response.headers.getSetCookie().map((header) => header.split(";")[0]!);
  return { cookie: response.ok && cookies.length > 0 ? cookies.join("; ") : undefined, response };
}

function withCookie(app: TestApp, path: string, cookie: string, init: { method?: string; body?: unknown; key?: string | null } = {}) {
  return app.request(path, { key: null, ...init, headers: { cookie } });
}

const event = () => ({ type: "exam.deleted", data: { examId: randomUUID(), reason: "test", deletedBy: "x" } });

describe("dashboard sessions on REST v1", () => {
  let app: TestApp;
  let adminCookie: string;

  beforeAll(async () => {
    app = await startTestApp({ ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
    const { cookie, response } = await signIn(ADMIN.email, ADMIN.password);
    expect(response.status).toBe(200);
    adminCookie = cookie!;
  });

  afterAll(async () => {
    await app?.close();
  });

  it("the ADMIN_EMAIL user signs in and acts as an admin user principal", async () => {
    const principal = await app.container.authServices.authenticate(withCookie(app, "/api/v1/events", adminCookie));
    expect(principal).toMatchObject({ kind: "user", name: ADMIN.email, role: "admin", scopes: ["admin"] });
    expect((await listEvents(withCookie(app, "/api/v1/events", adminCookie))).status).toBe(200);
    expect((await postEvent(withCookie(app, "/api/v1/events", adminCookie, { method: "POST", body: event() }))).status).toBe(202);
  });

  it("roles map to scopes: analysts read but cannot publish; operators publish", async () => {
    const { auth } = app.container.authServices;
    await auth.api.createUser({ body: { email: "ana@example.com", password: "analyst-password", name: "Ana", role: "analyst" } });
    await auth.api.createUser({ body: { email: "otto@example.com", password: "operator-password", name: "Otto", role: "operator" } });

    const analyst = (await signIn("ana@example.com", "analyst-password")).cookie!;
    expect((await listEvents(withCookie(app, "/api/v1/events", analyst))).status).toBe(200);
    expect((await postEvent(withCookie(app, "/api/v1/events", analyst, { method: "POST", body: event() }))).status).toBe(403);

    const operator = (await signIn("otto@example.com", "operator-password")).cookie!;
    expect((await postEvent(withCookie(app, "/api/v1/events", operator, { method: "POST", body: event() }))).status).toBe(202);
    const registerType = await postEventType(
      withCookie(app, "/api/v1/event-types", operator, { method: "POST", body: { type: "ops.thing", schema: {} } }),
    );
    expect(registerType.status).toBe(403);
  });

  it("public sign-up is disabled: nobody can create an account without an admin", async () => {
    const [before] = await app.container.database.rows<{ n: number }>(sql`select count(*)::int as n from eventloom_users`);
    const response = await authPost(authRequest("/sign-up/email", { body: { email: "mallory@example.com", password: "let-me-in-please", name: "M" } }));
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    const [after] = await app.container.database.rows<{ n: number }>(sql`select count(*)::int as n from eventloom_users`);
    expect(after!.n).toBe(before!.n);
    expect((await signIn("mallory@example.com", "let-me-in-please")).cookie).toBeUndefined();
  });

  it("accepts sign-in from either loopback name, and refuses foreign origins (CSRF)", async () => {
    const signInFrom = (origin: string) =>
      authPost(authRequest("/sign-in/email", { body: { email: ADMIN.email, password: ADMIN.password }, origin }));
    expect((await signInFrom("http://127.0.0.1:3000")).status).toBe(200);
    const foreign = await signInFrom("https://evil.example");
    expect(foreign.status).toBe(403);
    expect(foreign.headers.getSetCookie()).toEqual([]);
  });

  it("a wrong password gets no session", async () => {
    const { cookie, response } = await signIn(ADMIN.email, "wrong-password");
    expect(cookie).toBeUndefined();
    expect(response.status).toBe(401);
  });

  it("an Authorization header is judged alone: a bad key is not rescued by a valid cookie", async () => {
    const request = app.request("/api/v1/events", { key: "not-a-key", headers: { cookie: adminCookie } });
    expect((await listEvents(request)).status).toBe(401);
  });

  it("the session endpoint reports the role; signing out ends the session everywhere", async () => {
    const { cookie } = await signIn(ADMIN.email, ADMIN.password);
    const session = await authGet(authRequest("/get-session", { cookie }));
    expect(await session.json()).toMatchObject({ user: { email: ADMIN.email, role: "admin" } });
    const out = await authPost(authRequest("/sign-out", { cookie, body: {} }));
    expect(out.status).toBe(200);
    expect((await listEvents(withCookie(app, "/api/v1/events", cookie!))).status).toBe(401);
  });
});

describe("first admin and the auth secret", () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "eventloom-first-admin-"));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("generates admin@eventloom.local once, prints the credentials once, and keeps sessions across restarts", async () => {
    const write = vi.spyOn(process.stdout, "write");
    let printed: string;
    let cookie: string;
    try {
      const first = await startTestApp({}, { dataDir });
      printed = write.mock.calls.map(([chunk]) => String(chunk)).join("");
      expect(printed).toContain("admin@eventloom.local");
      const password = /Password\s+(\S+)/.exec(printed)?.[1];
      expect(password).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      cookie = (await signIn("admin@eventloom.local", password!)).cookie!;
      expect(cookie).toBeTruthy();
      await first.close();

      write.mockClear();
      const second = await startTestApp({}, { dataDir });
      const again = write.mock.calls.map(([chunk]) => String(chunk)).join("");
      expect(again).not.toContain("Password");
      expect(again).not.toContain(password!);
      // Same secret from ${DATA_DIR}/auth-secret: the cookie issued before the restart still works.
      expect((await listEvents(withCookie(second, "/api/v1/events", cookie))).status).toBe(200);
      await second.close();
    } finally {
      write.mockRestore();
    }

    const secretFile = join(dataDir, "auth-secret");
    expect((await stat(secretFile)).mode & 0o777).toBe(0o600);
    expect((await readFile(secretFile, "utf8")).length).toBeGreaterThanOrEqual(32);
  });

  it("ADMIN_EMAIL makes an existing non-admin user an admin; its password is left alone", async () => {
    const app = await startTestApp({}, { dataDir });
    await app.container.authServices.auth.api.createUser({
      body: { email: "lead@example.com", password: "original-password", name: "Lead", role: "analyst" },
    });
    await app.close();

    const restarted = await startTestApp({ ADMIN_EMAIL: "lead@example.com", ADMIN_PASSWORD: "configured-password" }, { dataDir });
    try {
      expect((await signIn("lead@example.com", "configured-password")).cookie).toBeUndefined();
      const cookie = (await signIn("lead@example.com", "original-password")).cookie!;
      const principal = await restarted.container.authServices.authenticate(withCookie(restarted, "/api/v1/events", cookie));
      expect(principal).toMatchObject({ kind: "user", role: "admin" });
    } finally {
      await restarted.close();
    }
  });
});
