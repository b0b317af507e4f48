/**
 * One error base class for the whole engine, with a closed set of codes. The API layer maps these
 * once (REST: RFC 9457 problem+json, tRPC: errorFormatter); nothing else inspects messages.
 *
 * Expected outcomes (a version mismatch, a duplicate delivery) are result values, never exceptions.
 */
export const errorCodes = [
  "validation",
  "not_found",
  "conflict",
  "forbidden",
  "unauthorized",
  "rate_limited",
  "unavailable",
  "internal",
] as const;
export type ErrorCode = (typeof errorCodes)[number];

/** One failing field: `path` is dotted/bracketed (`events[3].data.examId`). */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * Next.js bundles instrumentation and each route separately, so one process can hold several
 * copies of this class: `instanceof` is unreliable across them. A registered symbol is not.
 */
const ENGINE_ERROR_BRAND = Symbol.for("eventloom.EngineError");

export class EngineError extends Error {
  readonly [ENGINE_ERROR_BRAND] = true;
  readonly code: ErrorCode;
  readonly issues: FieldIssue[];
  /** Seconds a caller should wait before retrying (rate_limited / unavailable). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { issues?: FieldIssue[]; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "EngineError";
    this.code = code;
    this.issues = options.issues ?? [];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export class ValidationError extends EngineError {
  constructor(message: string, issues: FieldIssue[] = []) {
    super("validation", message, { issues });
    this.name = "ValidationError";
  }
}

export class NotFoundError extends EngineError {
  constructor(message: string) {
    super("not_found", message);
    this.name = "NotFoundError";
  }
}

/** A failure that retrying cannot fix (bad data, a rule violation): dead-letter at once. */
export class NonRetryableError extends Error {
  readonly nonRetryable = true;
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "NonRetryableError";
  }
}

/** A failure that names when to try again (HTTP 429/503 `Retry-After`, a rate limit). */
export class RetryAfterError extends Error {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "RetryAfterError";
    this.retryAfterMs = retryAfterMs;
  }
}

export function isEngineError(error: unknown): error is EngineError {
  return typeof error === "object" && error !== null && ENGINE_ERROR_BRAND in error;
}

/** Gives a safe, printable description of anything thrown. */
export function describeError(error: unknown): { type: string; message: string } {
  if (error instanceof Error) return { type: error.name, message: error.message };
  try {
    return { type: typeof error, message: String(error) };
  } catch {
    // An object without a usable toString (a null prototype, a throwing Symbol.toPrimitive).
    return { type: typeof error, message: Object.prototype.toString.call(error) };
  }
}

/**
 * A command broke a business rule (e.g. grading a sheet whose OCR failed). `rule` is a stable
 * snake_case name clients can branch on; the message says it in words.
 */
export class RuleViolationError extends EngineError {
  readonly rule: string;
  constructor(rule: string, message: string) {
    super("validation", message);
    this.name = "RuleViolationError";
    this.rule = rule;
  }
}

/** A stream was not at the version the caller expected (`If-Match`, or a lost optimistic race). */
export class VersionConflictError extends EngineError {
  readonly streamId: string;
  readonly expected: number | string;
  readonly actual: number;
  constructor(streamId: string, expected: number | string, actual: number) {
    super("conflict", `Stream ${streamId} is at version ${actual}, expected ${expected}`);
    this.name = "VersionConflictError";
    this.streamId = streamId;
    this.expected = expected;
    this.actual = actual;
  }
}
