import type { Issue } from "../events/json-schema";
import { errorMessage } from "../ui/error-state";

/**
 * Why the server refused a command or a query, from the tRPC error's data (the errorFormatter in
 * server/api/trpc/init.ts adds the field issues, the broken rule, and a conflict's versions).
 */
export type Rejection =
  | { kind: "invalid"; message: string; issues: Issue[] }
  | { kind: "rule"; message: string; rule: string }
  | { kind: "conflict"; message: string; streamId: string | undefined; expected: number | string | undefined; actual: number | undefined }
  | { kind: "forbidden"; message: string }
  | { kind: "not_found"; message: string }
  | { kind: "unavailable"; message: string }
  | { kind: "other"; message: string };

/** The error's `data` as the errorFormatter shapes it (`rejection`: server/api/rejection.ts). */
interface ErrorData {
  code?: string;
  issues?: Issue[];
  rejection?: { kind: "rule"; rule: string } | { kind: "conflict"; streamId?: string; expected: number | string; actual: number };
}

export function rejectionOf(error: unknown): Rejection {
  const message = errorMessage(error);
  const data = (error as { data?: ErrorData | null } | null)?.data ?? {};
  const { rejection } = data;
  if (rejection?.kind === "rule") return { kind: "rule", message, rule: rejection.rule };
  switch (data.code) {
    case "BAD_REQUEST":
      return { kind: "invalid", message, issues: Array.isArray(data.issues) ? data.issues : [] };
    case "CONFLICT":
      return rejection?.kind === "conflict"
        ? { kind: "conflict", message, streamId: rejection.streamId, expected: rejection.expected, actual: rejection.actual }
        : { kind: "conflict", message, streamId: undefined, expected: undefined, actual: undefined };
    case "FORBIDDEN":
      return { kind: "forbidden", message };
    case "NOT_FOUND":
      return { kind: "not_found", message };
    case "SERVICE_UNAVAILABLE":
      return { kind: "unavailable", message };
    default:
      return { kind: "other", message };
  }
}

/** A one-line summary for a history row. */
export function rejectionSummary(rejection: Rejection): string {
  switch (rejection.kind) {
    case "invalid":
      return rejection.issues.length > 0 ? `${rejection.issues.length} invalid field${rejection.issues.length === 1 ? "" : "s"}` : rejection.message;
    case "rule":
      return rejection.rule;
    case "conflict":
      return rejection.actual !== undefined ? `expected v${String(rejection.expected)}, at v${rejection.actual}` : rejection.message;
    default:
      return rejection.message;
  }
}
