import type { Issue } from "../events/json-schema";
import { isValidPattern, typeMatches } from "../events/type-patterns";

/** Pure helpers of the Webhooks page: health in words, the form's fields and the server's issues. */

/** The types of the registry a pattern (`exam.*`, `*`, or an exact type) covers. */
export function typesMatching(pattern: string, types: readonly string[]): string[] {
  return types.filter((type) => typeMatches(pattern, type));
}

/** Why a pattern typed into the picker cannot be added, or null. */
export function patternProblem(pattern: string, types: readonly string[], chosen: readonly string[]): string | null {
  if (!isValidPattern(pattern)) return "must be a type, a family wildcard like exam.*, or *";
  if (chosen.includes(pattern)) return "is already chosen";
  if (typesMatching(pattern, types).length === 0) return "matches no registered event type";
  return null;
}

export type Health = "healthy" | "degraded" | "failing" | "idle" | "disabled";

/** One word for an endpoint's state: off, no traffic yet, or how its last day went. */
export function healthOf(endpoint: { status: "enabled" | "disabled"; failingSince: string | null }, stats: { successRate: number | null; attempts: number }): Health {
  if (endpoint.status === "disabled") return "disabled";
  if (stats.attempts === 0 || stats.successRate === null) return endpoint.failingSince ? "failing" : "idle";
  if (endpoint.failingSince !== null || stats.successRate < 0.5) return "failing";
  return stats.successRate < 0.98 ? "degraded" : "healthy";
}

export function formatPercent(rate: number | null): string {
  if (rate === null) return "—";
  if (rate === 1) return "100%";
  // 99.95% must not read as 100%: one decimal near the top.
  return rate >= 0.9 ? `${(Math.floor(rate * 1000) / 10).toFixed(1)}%` : `${Math.round(rate * 100)}%`;
}

export function formatLatency(ms: number | null): string {
  if (ms === null) return "—";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** The form's fields an issue of the server belongs to. */
export type FormField = "url" | "description" | "eventTypes" | "filter" | "headers" | "rateLimitPerSecond" | "orderedByKey" | "form";

export interface PlacedIssues {
  byField: Partial<Record<FormField, string[]>>;
  /** Issues of one chosen pattern, by its index (`eventTypes[2]`). */
  byPattern: Map<number, string[]>;
}

const FIELD_OF = /^(url|description|eventTypes|filter|headers|rateLimitPerSecond|orderedByKey)(?=$|[.[])/;

/**
 * Puts the server's field issues under their fields. Paths are the service's (`url`,
 * `eventTypes[1]`, `headers.x-foo`) or, for an update, under the request's `changes`.
 */
export function placeIssues(issues: readonly Issue[]): PlacedIssues {
  const byField: PlacedIssues["byField"] = {};
  const byPattern = new Map<number, string[]>();
  for (const issue of issues) {
    const path = issue.path.replace(/^changes(\.|$)/, "");
    const field = (FIELD_OF.exec(path)?.[1] as FormField | undefined) ?? "form";
    const rest = path.slice(field === "form" ? 0 : field.length);
    const index = field === "eventTypes" ? /^\[(\d+)\]/.exec(rest)?.[1] : undefined;
    if (index !== undefined) {
      byPattern.set(Number(index), [...(byPattern.get(Number(index)) ?? []), issue.message]);
      continue;
    }
    // A header's issue names the header: `headers.x-api-key` or `headers["x-api-key"]`.
    const detail = field === "headers" && rest ? `${rest.replace(/^\.|^\["?|"?\]$/g, "")}: ${issue.message}` : field === "form" && path ? `${path}: ${issue.message}` : issue.message;
    byField[field] = [...(byField[field] ?? []), detail];
  }
  return { byField, byPattern };
}

export interface HeaderRow {
  name: string;
  value: string;
}

/** The headers editor's rows as the API takes them: names lower-cased, empty rows left out. */
export function headersOf(rows: readonly HeaderRow[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const row of rows) {
    const name = row.name.trim().toLowerCase();
    if (name !== "") headers[name] = row.value;
  }
  return headers;
}

/** Names given twice (case-insensitive): the second would silently replace the first. */
export function duplicateHeaderNames(rows: readonly HeaderRow[]): string[] {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const row of rows) {
    const name = row.name.trim().toLowerCase();
    if (name === "") continue;
    if (seen.has(name)) duplicates.add(name);
    seen.add(name);
  }
  return [...duplicates];
}

/** A body to show: pretty JSON when it parses, else the text as sent. */
export function parseBody(body: string): { json: true; value: unknown } | { json: false; text: string } {
  if (body.trim() === "") return { json: false, text: "" };
  try {
    return { json: true, value: JSON.parse(body) as unknown };
  } catch {
    return { json: false, text: body };
  }
}

/** `<input type="datetime-local">`'s value for a time, in the browser's zone. */
export function toLocalInput(time: Date): string {
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())}T${pad(time.getHours())}:${pad(time.getMinutes())}`;
}

/** A datetime-local value as an ISO instant, or null when it is not a time. */
export function fromLocalInput(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? null : time.toISOString();
}
