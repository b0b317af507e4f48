import type { EngineError } from "@/server/engine/core/errors";

/**
 * What REST and tRPC clients branch on besides the error's code: the business rule a command
 * broke (RuleViolationError), or the versions of a stale expected version (VersionConflictError).
 * Told apart by their members, not `instanceof`: Next.js bundles may hold several copies of the
 * classes (core/errors.ts).
 */
export type CommandRejection = { kind: "rule"; rule: string } | { kind: "conflict"; streamId: string | undefined; expected: number | string; actual: number };

export function commandRejectionOf(error: EngineError): CommandRejection | undefined {
  if ("rule" in error && typeof error.rule === "string") return { kind: "rule", rule: error.rule };
  if ("actual" in error && typeof error.actual === "number" && "expected" in error && (typeof error.expected === "number" || typeof error.expected === "string")) {
    const streamId = "streamId" in error && typeof error.streamId === "string" ? error.streamId : undefined;
    return { kind: "conflict", streamId, expected: error.expected, actual: error.actual };
  }
  return undefined;
}
