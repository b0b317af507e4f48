import { randomBytes } from "node:crypto";
import { betterAuth } from "better-auth";
import { drizzleAdapter } from "better-auth/adapters/drizzle";
import { nextCookies } from "better-auth/next-js";
import { admin } from "better-auth/plugins/admin";
import { adminAc, defaultAc } from "better-auth/plugins/admin/access";
import { count, eq } from "drizzle-orm";
import { roles, type Role } from "@/server/engine/core/principal";
import type { Database } from "@/server/adapters/postgres/database";
import { authAccounts, authSessions, authUsers, authVerifications } from "@/server/adapters/postgres/schema/auth";

/**
 * Dashboard users with better-auth: email + password, session cookies, roles from the admin plugin.
 * Public sign-up is off: admins create users (auth.api.createUser / the admin client), and the
 * first admin comes from {@link ensureFirstAdmin}.
 */

// Operators and analysts get no user-management rights; what they may do in Eventloom comes from
// `roleScopes` (server/engine/core/principal.ts), not from better-auth's access control.
const noUserManagement = defaultAc.newRole({ user: [], session: [] });
const accessRoles = { admin: adminAc, operator: noUserManagement, analyst: noUserManagement } satisfies Record<Role, unknown>;

export const DEFAULT_ROLE: Role = "analyst";

export interface CreateAuthOptions {
  database: Database;
  /** At least 32 characters: signs session cookies. */
  secret: string;
  /** Where browsers reach the app, e.g. http://localhost:3000; cookies and origin checks depend on it. */
  baseURL: string;
  /** Other origins whose sign-in requests are accepted (better-auth refuses unknown origins: CSRF). */
  trustedOrigins?: string[];
}

export function createAuth({ database, secret, baseURL, trustedOrigins }: CreateAuthOptions) {
  return betterAuth({
    appName: "Eventloom",
    baseURL,
    trustedOrigins,
    basePath: "/api/auth",
    secret,
    database: drizzleAdapter(database.db, {
      provider: "pg",
      // Keyed by better-auth's model names; the SQL tables carry Eventloom's prefix.
      schema: { user: authUsers, session: authSessions, account: authAccounts, verification: authVerifications },
    }),
    emailAndPassword: { enabled: true, disableSignUp: true, minPasswordLength: 8 },
    // Eventloom runs offline and on-premises: nothing is reported anywhere.
    telemetry: { enabled: false },
    // better-auth skips its origin (CSRF) checks when NODE_ENV=test; tests must see what production does.
    advanced: { disableOriginCheck: false },
    plugins: [
      admin({ defaultRole: DEFAULT_ROLE, adminRoles: ["admin"], roles: accessRoles }),
      // Must stay last: it forwards Set-Cookie headers set by every other plugin to Next's cookie store.
      nextCookies(),
    ],
  });
}

export type Auth = ReturnType<typeof createAuth>;

/** A stored role as one of Eventloom's roles; the admin plugin allows comma-joined lists, the highest wins. */
export function roleOf(stored: string | null | undefined): Role | undefined {
  const given = new Set((stored ?? "").split(",").map((role) => role.trim()));
  return roles.find((role) => given.has(role));
}

export const GENERATED_ADMIN_EMAIL = "admin@eventloom.local";

export type FirstAdminOutcome =
  | { status: "exists"; email: string }
  /** An existing ADMIN_EMAIL user who was not an admin has been made one. */
  | { status: "promoted"; email: string }
  | { status: "created"; email: string }
  /** No user existed and none was configured: this password is shown once and never stored in clear. */
  | { status: "generated"; email: string; password: string };

/**
 * Makes sure someone can sign in to a fresh installation. With `email`/`password` (ADMIN_EMAIL /
 * ADMIN_PASSWORD) that user exists and is an admin; an existing user keeps the password they may
 * have changed since. Without them, an admin with a random password is created only when there is
 * no user at all, so the generated credentials appear on the first start only.
 */
export async function ensureFirstAdmin(
  auth: Auth,
  database: Database,
  configured: { email: string; password: string } | undefined,
): Promise<FirstAdminOutcome> {
  const db = database.db;
  if (configured) {
    const email = configured.email.toLowerCase();
    const [existing] = await db.select({ id: authUsers.id, role: authUsers.role }).from(authUsers).where(eq(authUsers.email, email));
    if (existing) {
      if (roleOf(existing.role) === "admin") return { status: "exists", email };
      await db.update(authUsers).set({ role: "admin" }).where(eq(authUsers.id, existing.id));
      return { status: "promoted", email };
    }
    const created = await createAdmin(auth, email, configured.password);
    return created ? { status: "created", email } : { status: "exists", email };
  }

  const [row] = await db.select({ users: count() }).from(authUsers);
  if ((row?.users ?? 0) > 0) return { status: "exists", email: GENERATED_ADMIN_EMAIL };
  const password = randomBytes(18).toString("base64url");
  const created = await createAdmin(auth, GENERATED_ADMIN_EMAIL, password);
  return created ? { status: "generated", email: GENERATED_ADMIN_EMAIL, password } : { status: "exists", email: GENERATED_ADMIN_EMAIL };
}

/** False when another process created the same user first (web and worker may start together). */
async function createAdmin(auth: Auth, email: string, password: string): Promise<boolean> {
  try {
    // Called without request headers, the admin plugin's createUser acts as the server itself:
    // that is how the first admin exists while public sign-up stays disabled.
    await auth.api.createUser({ body: { email, password, name: "Administrator", role: "admin" } });
    return true;
  } catch (error) {
    if (isUserExistsError(error)) return false;
    throw error;
  }
}

function isUserExistsError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const body = (error as { body?: { code?: unknown } }).body;
  if (body?.code === "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL") return true;
  // A concurrent insert loses on the unique email index instead (Postgres unique_violation).
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return (error as { code?: unknown }).code === "23505" || cause?.code === "23505";
}
