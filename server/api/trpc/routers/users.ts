import { z } from "zod";
import { roleOf } from "@/server/adapters/auth/better-auth";
import { EngineError, NotFoundError, ValidationError, type ErrorCode } from "@/server/engine/core/errors";
import { roles, roleScopes, type Principal } from "@/server/engine/core/principal";
import { authedProcedure, createTRPCRouter, scoped, type TRPCContext } from "../init";

/**
 * Dashboard users, through better-auth's own server API (admin plugin + changePassword) called
 * with the caller's request headers: better-auth checks the session again, and its tables are
 * never written here. On top of it, two rules better-auth does not know: an admin cannot remove
 * or demote themselves, and the last admin can never be removed or demoted.
 */

/** Same floor for passwords an admin sets and passwords users choose. */
export const MIN_PASSWORD_LENGTH = 12;
/** better-auth's default maximum. */
const MAX_PASSWORD_LENGTH = 128;

const password = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `Use at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(MAX_PASSWORD_LENGTH, `Use at most ${MAX_PASSWORD_LENGTH} characters`);
const userId = z.string().trim().min(1, "Pick a user");

const adminProcedure = scoped("admin");

type Auth = TRPCContext["container"]["authServices"]["auth"];

interface SessionCaller {
  auth: Auth;
  headers: Headers;
  principal: Principal;
}

/**
 * better-auth's endpoints act as the signed-in user: an admin API key (no session) cannot manage
 * users, and neither can a server-side caller without request headers.
 */
function sessionCaller(ctx: { container: TRPCContext["container"]; principal: Principal; headers?: Headers }, what: string): SessionCaller {
  if (ctx.principal.kind !== "user" || !ctx.headers) {
    throw new EngineError("forbidden", `${what} needs a signed-in dashboard user, not an API key`);
  }
  return { auth: ctx.container.authServices.auth, headers: ctx.headers, principal: ctx.principal };
}

// ---------------------------------------------------------------------------------------------
// better-auth errors -> engine errors

interface AuthApiError {
  statusCode: number;
  body?: { code?: string; message?: string };
}

function isAuthApiError(error: unknown): error is Error & AuthApiError {
  return error instanceof Error && error.name === "APIError" && typeof (error as { statusCode?: unknown }).statusCode === "number";
}

const engineCodeByStatus: Partial<Record<number, ErrorCode>> = {
  400: "validation",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  429: "rate_limited",
};

/**
 * An engine error for a better-auth APIError, with a field issue where one field is to blame.
 * `passwordField` names the input that carried the new password. Server errors stay as they are
 * (the errorFormatter hides their text in production).
 */
function fromAuthError(error: unknown, passwordField = "password"): unknown {
  if (!isAuthApiError(error) || error.statusCode >= 500) return error;
  const invalid = (path: string, message: string) => new ValidationError(message, [{ path, message }]);
  switch (error.body?.code) {
    case "USER_ALREADY_EXISTS":
    case "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL": {
      const message = "A user with this email already exists";
      return new EngineError("conflict", message, { issues: [{ path: "email", message }], cause: error });
    }
    case "INVALID_EMAIL":
      return invalid("email", "Enter a valid email address");
    case "PASSWORD_TOO_SHORT":
      return invalid(passwordField, `Use at least ${MIN_PASSWORD_LENGTH} characters`);
    case "PASSWORD_TOO_LONG":
      return invalid(passwordField, `Use at most ${MAX_PASSWORD_LENGTH} characters`);
    case "INVALID_PASSWORD":
      return invalid("currentPassword", "The current password is not correct");
    case "USER_NOT_FOUND":
      return new NotFoundError("No user with this id");
  }
  // The caller's role changed since the request began (better-auth reads the session afresh).
  if (error.statusCode === 403) return new EngineError("forbidden", 'This needs the "admin" permission', { cause: error });
  return new EngineError(engineCodeByStatus[error.statusCode] ?? "validation", error.body?.message || error.message || "The request was refused", { cause: error });
}

async function viaAuth<T>(call: () => Promise<T>, passwordField?: string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw fromAuthError(error, passwordField);
  }
}

// ---------------------------------------------------------------------------------------------
// Admin rules

/**
 * Role changes and removals run one at a time in this process, so two admins demoting each other
 * at once cannot both pass the last-admin check. (Several web hosts would need a database lock.)
 */
let adminChanges: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const result = adminChanges.then(work, work);
  adminChanges = result.catch(() => undefined);
  return result;
}

interface StoredUser {
  id: string;
  email: string;
  name: string;
  role?: string | null;
  banned?: boolean | null;
  createdAt: Date | string;
}

function publicUser(user: StoredUser) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: roleOf(user.role) ?? null,
    createdAt: new Date(user.createdAt).toISOString(),
    banned: user.banned === true,
  };
}

export type UserSummary = ReturnType<typeof publicUser>;

async function findUser({ auth, headers }: SessionCaller, id: string): Promise<StoredUser> {
  const user = await viaAuth(() => auth.api.getUser({ query: { id }, headers }));
  if (!user) throw new NotFoundError("No user with this id");
  return user;
}

/** Admins who can still sign in (not banned). */
async function countAdmins({ auth, headers }: SessionCaller): Promise<number> {
  // Stored roles may be comma-joined lists; no other role's name contains "admin".
  const { users } = await viaAuth(() =>
    auth.api.listUsers({ query: { filterField: "role", filterOperator: "contains", filterValue: "admin", limit: 1000 }, headers }),
  );
  return users.filter((user) => roleOf(user.role) === "admin" && user.banned !== true).length;
}

function conflict(message: string): EngineError {
  return new EngineError("conflict", message);
}

// ---------------------------------------------------------------------------------------------
// Password changes: the same limit better-auth puts on its own /change-password route (3 per 10 s),
// here per user, since calls through its server API skip its HTTP rate limiter.

const PASSWORD_WINDOW_MS = 10_000;
const PASSWORD_MAX_ATTEMPTS = 3;
const passwordAttempts = new Map<string, number[]>();

function checkPasswordRate(userId: string, now = Date.now()): void {
  const recent = (passwordAttempts.get(userId) ?? []).filter((at) => now - at < PASSWORD_WINDOW_MS);
  if (recent.length >= PASSWORD_MAX_ATTEMPTS) {
    const retryAfterSeconds = Math.max(1, Math.ceil((recent[0]! + PASSWORD_WINDOW_MS - now) / 1000));
    passwordAttempts.set(userId, recent);
    throw new EngineError("rate_limited", `Too many attempts. Try again in ${retryAfterSeconds} s.`, { retryAfterSeconds });
  }
  recent.push(now);
  passwordAttempts.set(userId, recent);
  // Forget idle users so the map does not grow with every user who ever changed a password.
  if (passwordAttempts.size > 1000) {
    for (const [id, times] of passwordAttempts) if (times.every((at) => now - at >= PASSWORD_WINDOW_MS)) passwordAttempts.delete(id);
  }
}

// ---------------------------------------------------------------------------------------------

export const usersRouter = createTRPCRouter({
  /** Every dashboard user, oldest first. */
  list: adminProcedure.query(async ({ ctx }) => {
    const { auth, headers } = sessionCaller(ctx, "Listing users");
    const pageSize = 100;
    const all: StoredUser[] = [];
    for (let offset = 0; ; offset += pageSize) {
      const page = await viaAuth(() => auth.api.listUsers({ query: { sortBy: "createdAt", sortDirection: "asc", limit: pageSize, offset }, headers }));
      all.push(...page.users);
      if (page.users.length < pageSize || all.length >= page.total) break;
    }
    return all.map(publicUser);
  }),

  /** Each role and the scopes it grants (server/engine/core/principal.ts), for the role picker. */
  roles: adminProcedure.query(() => roles.map((role) => ({ role, scopes: [...roleScopes[role]] }))),

  create: adminProcedure
    .input(
      z.object({
        email: z.string().trim().toLowerCase().pipe(z.email("Enter a valid email address")),
        name: z.string().trim().min(1, "Give the user a name").max(100, "At most 100 characters"),
        password,
        role: z.enum(roles),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { auth, headers } = sessionCaller(ctx, "Adding users");
      const { user } = await viaAuth(() => auth.api.createUser({ body: input, headers }));
      return publicUser(user);
    }),

  setRole: adminProcedure.input(z.object({ userId, role: z.enum(roles) })).mutation(async ({ ctx, input }) => {
    const caller = sessionCaller(ctx, "Changing roles");
    return oneAtATime(async () => {
      const target = await findUser(caller, input.userId);
      const current = roleOf(target.role);
      if (current === input.role) return publicUser(target);
      if (current === "admin") {
        const admins = await countAdmins(caller);
        if (target.id === caller.principal.id) {
          throw conflict(
            admins <= 1
              ? "You are the only admin. Make another user an admin first; they can then change your role."
              : "You cannot change your own role. Another admin can.",
          );
        }
        if (admins <= 1) throw conflict(`${target.email} is the last admin. Make another user an admin first.`);
      }
      const { user } = await viaAuth(() => caller.auth.api.setRole({ body: { userId: target.id, role: input.role }, headers: caller.headers }));
      return publicUser(user);
    });
  }),

  remove: adminProcedure.input(z.object({ userId })).mutation(async ({ ctx, input }) => {
    const caller = sessionCaller(ctx, "Removing users");
    if (input.userId === caller.principal.id) throw conflict("You cannot remove your own account. Another admin can.");
    return oneAtATime(async () => {
      const target = await findUser(caller, input.userId);
      if (roleOf(target.role) === "admin" && (await countAdmins(caller)) <= 1) {
        throw conflict(`${target.email} is the last admin and cannot be removed. Make another user an admin first.`);
      }
      await viaAuth(() => caller.auth.api.removeUser({ body: { userId: target.id }, headers: caller.headers }));
      return { id: target.id };
    });
  }),

  /** Any signed-in user, for themselves; their other sessions are signed out. */
  changeOwnPassword: authedProcedure
    .input(
      z
        .object({ currentPassword: z.string().min(1, "Enter your current password").max(MAX_PASSWORD_LENGTH), newPassword: password })
        .refine((value) => value.newPassword !== value.currentPassword, { path: ["newPassword"], message: "Choose a password different from the current one" }),
    )
    .mutation(async ({ ctx, input }) => {
      const { auth, headers, principal } = sessionCaller(ctx, "Changing a password");
      checkPasswordRate(principal.id);
      await viaAuth(
        () => auth.api.changePassword({ body: { currentPassword: input.currentPassword, newPassword: input.newPassword, revokeOtherSessions: true }, headers }),
        "newPassword",
      );
      return { ok: true as const };
    }),
});

/** For tests: forget password-change attempts. */
export function resetPasswordAttempts(): void {
  passwordAttempts.clear();
}
