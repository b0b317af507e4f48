/**
 * Who is calling: an API key (REST clients) or a dashboard user (session cookie). Authorization
 * everywhere in the engine is a function of the principal, never of how it authenticated.
 */
export const scopes = [
  "events:publish",
  "events:read",
  "commands:execute",
  "queries:read",
  "webhooks:manage",
  "admin",
] as const;
export type Scope = (typeof scopes)[number];

export const roles = ["admin", "operator", "analyst"] as const;
export type Role = (typeof roles)[number];

export interface Principal {
  /** `system`: Eventloom itself (reactions to events, demo traffic), never a caller from outside. */
  kind: "api_key" | "user" | "system";
  id: string;
  /** Key name or user email, for audit trails. */
  name: string;
  scopes: readonly Scope[];
  role?: Role;
}

/**
 * What each dashboard role may do. Analysts read; operators also publish and run commands;
 * admins hold every scope.
 */
export const roleScopes: Record<Role, readonly Scope[]> = {
  admin: ["admin"],
  operator: ["events:publish", "events:read", "commands:execute", "queries:read", "webhooks:manage"],
  analyst: ["events:read", "queries:read"],
};

export function hasScope(principal: Pick<Principal, "scopes">, scope: Scope): boolean {
  return principal.scopes.includes("admin") || principal.scopes.includes(scope);
}

/** Eventloom acting on its own behalf (`component` names what: `reactions`, `demo`). Holds every scope. */
export function systemPrincipal(component: string): Principal {
  return { kind: "system", id: `system:${component}`, name: `Eventloom ${component}`, scopes: ["admin"] };
}
