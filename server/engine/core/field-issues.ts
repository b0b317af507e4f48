import type { z } from "zod";
import type { FieldIssue } from "./errors";

/** Turning what a validator says into {@link FieldIssue}s, the same way everywhere. */

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `base` and then the segments, dotted and bracketed: `data.answers[2]["odd key"]` (no base: `answers[2]...`). */
export function fieldPath(base: string, segments: ReadonlyArray<PropertyKey>): string {
  let path = base;
  for (const segment of segments) {
    if (typeof segment === "number") path += `[${segment}]`;
    else if (typeof segment === "string" && IDENTIFIER.test(segment)) path += path === "" ? segment : `.${segment}`;
    else path += `[${JSON.stringify(String(segment))}]`;
  }
  return path;
}

/**
 * zod parse options that word a missing field as "is required" rather than as "expected string,
 * received undefined" (the issue only knows its input while it is being made, so this cannot
 * wait for {@link zodIssues}).
 */
export const requiredFieldOptions = {
  error: (issue: { code?: string; input?: unknown }) => (issue.code === "invalid_type" && issue.input === undefined ? "is required" : undefined),
};

/** A zod error's issues under `base`; an unknown key gets an issue of its own, at the key: "is not allowed". */
export function zodIssues(error: z.ZodError, base = ""): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) issues.push({ path: fieldPath(base, [...issue.path, key]), message: "is not allowed" });
    } else {
      issues.push({ path: fieldPath(base, issue.path), message: issue.message });
    }
  }
  return issues;
}
