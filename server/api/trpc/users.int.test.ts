import { getTRPCErrorShape, TRPCError } from "@trpc/server";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestApp, TEST_ADMIN_KEY, type TestApp } from "@/server/api/rest/test-harness";
import { appRouter } from "./root";
import { resetPasswordAttempts } from "./routers/users";
import type { TRPCContext } from "./init";

/**
 * The users router against a real container (PGlite in a temp dir): callers are signed in through
 * better-auth, so its own session checks run as they do behind /api/trpc.
 */

const ORIGIN = "http://localhost:3000";
const ADMIN = { email: "root@example.com", password: "admin-password-0001" };

type Caller = ReturnType<typeof appRouter.createCaller>;

let app: TestApp;

/** A caller acting as whoever signs in with these credentials (session cookie, as the browser sends it). */
async function signedIn(email: string, password: string): Promise<{ caller: Caller; context: TRPCContext }> {
  const { auth } = app.container.authServices;
  const { headers: responseHeaders } = await auth.api.signInEmail({ body: { email, password }, returnHeaders: true });
  const cookie = responseHeaders
    .getSetCookie()
    .map((header) => header.split(";")[0]!)
    .join("; ");
  const headers = new Headers({ cookie, origin: ORIGIN });
  const principal = await app.container.authServices.authenticate(new Request(`${ORIGIN}/api/trpc`, { headers }));
  expect(principal).not.toBeNull();
  const context: TRPCContext = { container: app.container, principal, headers };
  return { caller: appRouter.createCaller(context), context };
}

/** The TRPCError a call fails with (fails the test when it succeeds). */
async function failure(call: Promise<unknown>): Promise<TRPCError> {
  try {
    await call;
  } catch (error) {
    expect(error).toBeInstanceOf(TRPCError);
    return error as TRPCError;
  }
  throw new Error("expected the call to fail");
}

/** What the browser would receive: the error as the router's errorFormatter shapes it. */
function shapeOf(error: TRPCError, context: TRPCContext, path: string) {
  return getTRPCErrorShape({ config: appRouter._def._config, error, type: "mutation", path, input: undefined, ctx: context });
}

describe("users router", () => {
  let admin: Caller;
  let adminContext: TRPCContext;

  beforeAll(async () => {
    app = await startTestApp({ ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
    ({ caller: admin, context: adminContext } = await signedIn(ADMIN.email, ADMIN.password));
  });

  afterAll(async () => {
    await app?.close();
  });

  beforeEach(() => resetPasswordAttempts());

  it("an admin adds an operator, who then signs in with the operator's scopes", async () => {
    const created = await admin.users.create({ email: "Otto@Example.com ", name: "Otto", password: "operator-password-1", role: "operator" });
    expect(created).toMatchObject({ email: "otto@example.com", name: "Otto", role: "operator", banned: false });
    expect(Date.parse(created.createdAt)).not.toBeNaN();

    const list = await admin.users.list();
    expect(list.map((user) => [user.email, user.role])).toEqual([
      [ADMIN.email, "admin"],
      ["otto@example.com", "operator"],
    ]);

    const { context } = await signedIn("otto@example.com", "operator-password-1");
    expect(context.principal).toMatchObject({ kind: "user", role: "operator" });
    expect(context.principal!.scopes).toContain("events:publish");
  });

  it("explains each role with the scopes it grants", async () => {
    expect(await admin.users.roles()).toEqual([
      { role: "admin", scopes: ["admin"] },
      { role: "operator", scopes: ["events:publish", "events:read", "commands:execute", "queries:read", "webhooks:manage"] },
      { role: "analyst", scopes: ["events:read", "queries:read"] },
    ]);
  });

  it("refuses bad input with field issues: short password, taken email", async () => {
    const short = await failure(admin.users.create({ email: "new@example.com", name: "New", password: "short-pass", role: "analyst" }));
    expect(short.code).toBe("BAD_REQUEST");
    expect(shapeOf(short, adminContext, "users.create").data).toMatchObject({ issues: [{ path: "password", message: "Use at least 12 characters" }] });

    const taken = await failure(admin.users.create({ email: ADMIN.email, name: "Again", password: "another-password-1", role: "analyst" }));
    expect(taken.code).toBe("CONFLICT");
    expect(shapeOf(taken, adminContext, "users.create").data).toMatchObject({ engineCode: "conflict", issues: [{ path: "email" }] });
  });

  it("analysts are FORBIDDEN every admin procedure", async () => {
    await admin.users.create({ email: "ana@example.com", name: "Ana", password: "analyst-password-1", role: "analyst" });
    const { caller: analyst } = await signedIn("ana@example.com", "analyst-password-1");
    const [otto] = (await admin.users.list()).filter((user) => user.email === "otto@example.com");

    for (const call of [
      analyst.users.list(),
      analyst.users.roles(),
      analyst.users.create({ email: "eve@example.com", name: "Eve", password: "sneaky-password-1", role: "admin" }),
      analyst.users.setRole({ userId: otto!.id, role: "admin" }),
      analyst.users.remove({ userId: otto!.id }),
    ]) {
      expect((await failure(call)).code).toBe("FORBIDDEN");
    }
    expect((await admin.users.list()).map((user) => user.email)).not.toContain("eve@example.com");
  });

  it("signed-out callers are UNAUTHORIZED; an admin API key cannot act as a user", async () => {
    const anonymous = appRouter.createCaller({ container: app.container, principal: null, headers: new Headers() });
    expect((await failure(anonymous.users.list())).code).toBe("UNAUTHORIZED");
    expect((await failure(anonymous.users.changeOwnPassword({ currentPassword: "x", newPassword: "long-enough-password" }))).code).toBe("UNAUTHORIZED");

    const headers = new Headers({ authorization: `Bearer ${TEST_ADMIN_KEY}` });
    const principal = await app.container.authServices.authenticate(new Request(`${ORIGIN}/api/trpc`, { headers }));
    const keyCaller = appRouter.createCaller({ container: app.container, principal, headers });
    const refused = await failure(keyCaller.users.list());
    expect(refused.code).toBe("FORBIDDEN");
    expect(refused.message).toMatch(/signed-in dashboard user/);
  });

  it("an admin changes roles; an admin cannot demote or remove themselves, and the last admin stays", async () => {
    const users = await admin.users.list();
    const self = users.find((user) => user.email === ADMIN.email)!;
    const ana = users.find((user) => user.email === "ana@example.com")!;

    // Alone: neither demotion nor removal of the only admin.
    const demoteSelf = await failure(admin.users.setRole({ userId: self.id, role: "analyst" }));
    expect(demoteSelf.code).toBe("CONFLICT");
    expect(demoteSelf.message).toMatch(/only admin/);
    const removeSelf = await failure(admin.users.remove({ userId: self.id }));
    expect(removeSelf.code).toBe("CONFLICT");
    expect(removeSelf.message).toMatch(/your own account/);
    expect(shapeOf(removeSelf, adminContext, "users.remove")).toMatchObject({ data: { code: "CONFLICT", engineCode: "conflict" } });

    // A second admin; still nobody demotes themselves.
    expect(await admin.users.setRole({ userId: ana.id, role: "admin" })).toMatchObject({ role: "admin" });
    const { caller: ana2 } = await signedIn("ana@example.com", "analyst-password-1");
    expect((await failure(admin.users.setRole({ userId: self.id, role: "operator" }))).message).toMatch(/your own role/);

    // Two admins demoting each other at once: one wins; the other is no longer an admin by the
    // time its change runs, and is refused. Exactly one admin is left either way.
    const results = await Promise.allSettled([admin.users.setRole({ userId: ana.id, role: "analyst" }), ana2.users.setRole({ userId: self.id, role: "analyst" })]);
    expect(results.map((result) => result.status).sort()).toEqual(["fulfilled", "rejected"]);
    const rejected = results.find((result) => result.status === "rejected")!;
    expect(["FORBIDDEN", "CONFLICT"]).toContain((rejected.reason as TRPCError).code);
    const survivor = results[0].status === "fulfilled" ? admin : ana2;
    expect((await survivor.users.list()).filter((user) => user.role === "admin")).toHaveLength(1);

    // Back to one admin, root, for the tests below.
    await survivor.users.setRole({ userId: self.id, role: "admin" });
    await admin.users.setRole({ userId: ana.id, role: "analyst" });
    expect((await admin.users.list()).filter((user) => user.role === "admin").map((user) => user.email)).toEqual([ADMIN.email]);
  });

  it("an admin removes another user, who can no longer sign in; unknown ids are NOT_FOUND", async () => {
    const created = await admin.users.create({ email: "temp@example.com", name: "Temp", password: "temporary-password", role: "analyst" });
    expect(await admin.users.remove({ userId: created.id })).toEqual({ id: created.id });
    expect((await admin.users.list()).map((user) => user.email)).not.toContain("temp@example.com");
    await expect(app.container.authServices.auth.api.signInEmail({ body: { email: "temp@example.com", password: "temporary-password" } })).rejects.toThrow();

    expect((await failure(admin.users.remove({ userId: created.id }))).code).toBe("NOT_FOUND");
    expect((await failure(admin.users.setRole({ userId: "no-such-user", role: "operator" }))).code).toBe("NOT_FOUND");
  });

  it("changes one's own password: a wrong current password is a field issue, the right one works", async () => {
    await admin.users.create({ email: "pat@example.com", name: "Pat", password: "first-password-1", role: "analyst" });
    const { caller: pat, context } = await signedIn("pat@example.com", "first-password-1");
    const { context: otherDevice } = await signedIn("pat@example.com", "first-password-1");

    const wrong = await failure(pat.users.changeOwnPassword({ currentPassword: "not-my-password", newPassword: "second-password-2" }));
    expect(wrong.code).toBe("BAD_REQUEST");
    expect(shapeOf(wrong, context, "users.changeOwnPassword").data).toMatchObject({
      code: "BAD_REQUEST",
      engineCode: "validation",
      issues: [{ path: "currentPassword", message: "The current password is not correct" }],
    });

    const same = await failure(pat.users.changeOwnPassword({ currentPassword: "first-password-1", newPassword: "first-password-1" }));
    expect(shapeOf(same, context, "users.changeOwnPassword").data).toMatchObject({ issues: [{ path: "newPassword" }] });

    expect(await pat.users.changeOwnPassword({ currentPassword: "first-password-1", newPassword: "second-password-2" })).toEqual({ ok: true });

    const { auth } = app.container.authServices;
    await expect(auth.api.signInEmail({ body: { email: "pat@example.com", password: "first-password-1" } })).rejects.toThrow();
    const signedInAgain = await auth.api.signInEmail({ body: { email: "pat@example.com", password: "second-password-2" } });
    expect(signedInAgain.user.email).toBe("pat@example.com");
    // Other sessions were signed out.
    expect(await app.container.authServices.authenticate(new Request(`${ORIGIN}/api/trpc`, { headers: otherDevice.headers }))).toBeNull();
  });

  it("limits password attempts like better-auth's own route", async () => {
    const { caller: pat } = await signedIn("pat@example.com", "second-password-2");
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await failure(pat.users.changeOwnPassword({ currentPassword: "guess-" + attempt, newPassword: "third-password-3" }))).code).toBe("BAD_REQUEST");
    }
    expect((await failure(pat.users.changeOwnPassword({ currentPassword: "second-password-2", newPassword: "third-password-3" }))).code).toBe("TOO_MANY_REQUESTS");
  });
});
