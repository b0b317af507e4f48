/** What each scope allows, for people: API key scopes and role explanations share these words. */
export const scopeHelp: Record<string, string> = {
  "events:publish": "Publish events",
  "events:read": "Read, search and stream events",
  "commands:execute": "Run commands",
  "queries:read": "Query read models",
  "webhooks:manage": "Manage webhook endpoints",
  admin: "Everything, including keys and replays",
};

/** Shorter words for one-line role explanations. */
const scopeVerbs: Record<string, string> = {
  "events:publish": "publish events",
  "events:read": "read events",
  "commands:execute": "run commands",
  "queries:read": "query read models",
  "webhooks:manage": "manage webhooks",
};

function listOf(items: string[]): string {
  if (items.length <= 1) return items[0] ?? "";
  return `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export interface RoleScopes {
  role: string;
  scopes: string[];
}

/**
 * One line on what a role may do, from its scopes: a role holding all of a smaller role's scopes
 * is described as that role plus the rest ("Analyst access, plus publish events ...").
 */
export function describeRole(role: RoleScopes, all: readonly RoleScopes[]): string {
  if (role.scopes.includes("admin")) return "Everything, including users, API keys and replays";
  const smaller = all
    .filter((other) => other.role !== role.role && !other.scopes.includes("admin") && other.scopes.length < role.scopes.length)
    .filter((other) => other.scopes.every((scope) => role.scopes.includes(scope)))
    .sort((a, b) => b.scopes.length - a.scopes.length)[0];
  const verbs = (scopes: string[]) => scopes.map((scope) => scopeVerbs[scope] ?? scope);
  if (smaller && smaller.scopes.length > 0) {
    const extra = role.scopes.filter((scope) => !smaller.scopes.includes(scope));
    return `${capitalize(smaller.role)} access, plus ${listOf(verbs(extra))}`;
  }
  return role.scopes.length > 0 ? capitalize(listOf(verbs(role.scopes))) : "Nothing yet";
}
