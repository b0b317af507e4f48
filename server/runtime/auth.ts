import { randomBytes } from "node:crypto";
import { createAuth, ensureFirstAdmin, roleOf, type Auth } from "@/server/adapters/auth/better-auth";
import type { Database } from "@/server/adapters/postgres/database";
import { PostgresApiKeyRepository } from "@/server/adapters/postgres/api-key-repository";
import { ApiKeyService } from "@/server/engine/auth/api-keys";
import { roleScopes, type Principal } from "@/server/engine/core/principal";
import { publicUrl, type Env } from "./env";
import { logger } from "./logger";
import { readOrCreateSecretFile } from "./secret-file";

/**
 * Authentication for every entry point: API keys (REST clients, `Authorization: Bearer`) and
 * dashboard sessions (better-auth cookie). Both end as a {@link Principal}; nothing downstream
 * cares which.
 */
export interface AuthServices {
  /** better-auth: serves /api/auth/* and manages users and sessions. */
  auth: Auth;
  apiKeys: ApiKeyService;
  /**
   * The caller of `request`, or null. A request with an Authorization header is judged by that
   * header alone (a bad key is not rescued by a cookie); otherwise the session cookie counts.
   */
  authenticate(request: Request): Promise<Principal | null>;
}

export async function createAuthServices(database: Database, env: Env): Promise<AuthServices> {
  const auth = createAuth({
    database,
    secret: await resolveAuthSecret(env),
    baseURL: publicUrl(env),
    // Without PUBLIC_URL the app answers on loopback under either name; both must be able to sign in.
    trustedOrigins: env.PUBLIC_URL ? undefined : [`http://127.0.0.1:${env.PORT}`],
  });
  const apiKeys = new ApiKeyService(new PostgresApiKeyRepository(database), {
    adminApiKey: env.ADMIN_API_KEY,
    onTouchError: (error) => logger.warn("could not record API key use", { error }),
  });

  async function authenticate(request: Request): Promise<Principal | null> {
    const authorization = request.headers.get("authorization");
    if (authorization !== null) {
      const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
      return match?.[1] ? apiKeys.authenticate(match[1]) : null;
    }
    // Cookies are SameSite=Lax and REST bodies must be JSON (no form posts), so a cross-site page
    // cannot make a signed-in browser publish through this path.
    if (!request.headers.get("cookie")) return null;
    const session = await auth.api.getSession({ headers: request.headers });
    if (!session) return null;
    const role = roleOf(session.user.role);
    return {
      kind: "user",
      id: session.user.id,
      name: session.user.email,
      scopes: role ? roleScopes[role] : [],
      ...(role ? { role } : {}),
    };
  }

  return { auth, apiKeys, authenticate };
}

/**
 * BETTER_AUTH_SECRET, else a secret generated once and kept in `${DATA_DIR}/auth-secret` (0600) so
 * sessions survive restarts. Deployments with several hosts must set BETTER_AUTH_SECRET: each host
 * would otherwise sign cookies with its own file's secret.
 */
export async function resolveAuthSecret(env: Pick<Env, "BETTER_AUTH_SECRET" | "DATA_DIR" | "DATABASE_URL">): Promise<string> {
  if (env.BETTER_AUTH_SECRET) return env.BETTER_AUTH_SECRET;
  if (env.DATABASE_URL) logger.warn("BETTER_AUTH_SECRET is not set: using a per-host secret file; set it when running more than one host");
  const { path, secret } = await readOrCreateSecretFile(env.DATA_DIR, "auth-secret", () => randomBytes(48).toString("base64url"));
  if (secret.length < 32) throw new Error(`${path} holds a secret shorter than 32 characters; delete it or set BETTER_AUTH_SECRET`);
  return secret;
}

/** Runs {@link ensureFirstAdmin} and tells the operator what happened, credentials only when generated. */
export async function bootstrapFirstAdmin(services: AuthServices, database: Database, env: Env): Promise<void> {
  const configured = env.ADMIN_EMAIL && env.ADMIN_PASSWORD ? { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD } : undefined;
  const outcome = await ensureFirstAdmin(services.auth, database, configured);
  switch (outcome.status) {
    case "created":
      logger.info("created the admin user from ADMIN_EMAIL", { email: outcome.email });
      break;
    case "promoted":
      logger.info("gave the ADMIN_EMAIL user the admin role", { email: outcome.email });
      break;
    case "generated":
      // stdout, not the JSON log: a person reads this once; log shippers should not keep it.
      process.stdout.write(credentialsBox(outcome.email, outcome.password, publicUrl(env)));
      break;
    case "exists":
      break;
  }
}

export function credentialsBox(email: string, password: string, url: string): string {
  const lines = [
    "Eventloom: first start - an admin user was created",
    "",
    `  Sign in at  ${url}`,
    `  Email       ${email}`,
    `  Password    ${password}`,
    "",
    "This password is shown only now. Change it after signing in,",
    "or set ADMIN_EMAIL and ADMIN_PASSWORD to choose your own.",
  ];
  const width = Math.max(...lines.map((line) => line.length));
  const border = `+${"-".repeat(width + 2)}+`;
  return ["", border, ...lines.map((line) => `| ${line.padEnd(width)} |`), border, ""].join("\n") + "\n";
}
