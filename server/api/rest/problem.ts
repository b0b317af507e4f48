import { isEngineError, type EngineError, type ErrorCode, type FieldIssue } from "@/server/engine/core/errors";
import { logger } from "@/server/runtime/logger";
import { commandRejectionOf } from "../rejection";

/**
 * RFC 9457 problem details: the one shape every REST error takes. Engine error codes are mapped to
 * HTTP statuses here and nowhere else.
 */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";
const PROBLEM_BASE = "https://eventloom.dev/problems/";

export interface ProblemDocument extends ProblemExtensions {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldIssue[];
}

/**
 * RFC 9457 extension members clients can branch on without parsing `detail`: the business rule a
 * command broke (422), and the versions of a stale `If-Match` (409).
 */
export interface ProblemExtensions {
  rule?: string;
  expected?: number | string;
  actual?: number;
}

/** Every kind of problem the REST API answers with; `type` URIs are part of the public contract. */
export const problemKinds = {
  bad_request: { status: 400, title: "Bad request", slug: "bad-request" },
  unauthorized: { status: 401, title: "Unauthorized", slug: "unauthorized" },
  forbidden: { status: 403, title: "Forbidden", slug: "forbidden" },
  not_found: { status: 404, title: "Not found", slug: "not-found" },
  conflict: { status: 409, title: "Conflict", slug: "conflict" },
  payload_too_large: { status: 413, title: "Payload too large", slug: "payload-too-large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type", slug: "unsupported-media-type" },
  validation: { status: 422, title: "Validation failed", slug: "validation" },
  rate_limited: { status: 429, title: "Too many requests", slug: "rate-limited" },
  internal: { status: 500, title: "Internal server error", slug: "internal" },
  unavailable: { status: 503, title: "Service unavailable", slug: "unavailable" },
} as const;
export type ProblemKind = keyof typeof problemKinds;

/** Engine codes are a subset of problem kinds with the same names, so the mapping is the identity. */
const engineCodeToKind: Record<ErrorCode, ProblemKind> = {
  validation: "validation",
  not_found: "not_found",
  conflict: "conflict",
  forbidden: "forbidden",
  unauthorized: "unauthorized",
  rate_limited: "rate_limited",
  unavailable: "unavailable",
  internal: "internal",
};

/** Clients that got no hint still need one: a retry storm without Retry-After hurts more. */
const DEFAULT_RETRY_AFTER_SECONDS: Partial<Record<ProblemKind, number>> = { rate_limited: 1, unavailable: 5 };

export function problemType(kind: ProblemKind): string {
  return PROBLEM_BASE + problemKinds[kind].slug;
}

export interface ProblemOptions {
  errors?: FieldIssue[];
  extensions?: ProblemExtensions;
  retryAfterSeconds?: number;
  headers?: HeadersInit;
}

export function problemResponse(kind: ProblemKind, detail: string, options: ProblemOptions = {}): Response {
  const { status, title } = problemKinds[kind];
  const body: ProblemDocument = { type: problemType(kind), title, status, detail, ...options.extensions };
  if (options.errors && options.errors.length > 0) body.errors = options.errors;
  const headers = new Headers(options.headers);
  headers.set("content-type", PROBLEM_CONTENT_TYPE);
  headers.set("cache-control", "no-store");
  const retryAfter = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS[kind];
  if (retryAfter !== undefined) headers.set("retry-after", String(Math.max(1, Math.ceil(retryAfter))));
  if (kind === "unauthorized") headers.set("www-authenticate", 'Bearer realm="eventloom"');
  return new Response(JSON.stringify(body), { status, headers });
}

const HTTP_PROBLEM_BRAND = Symbol.for("eventloom.HttpProblem");

/**
 * A request-level failure found by the REST plumbing (bad JSON, wrong content type, body too big)
 * rather than by the engine. Thrown so that deep helpers can stop a request in one line.
 */
export class HttpProblem extends Error {
  readonly [HTTP_PROBLEM_BRAND] = true;
  constructor(
    readonly kind: ProblemKind,
    detail: string,
    readonly options: ProblemOptions = {},
  ) {
    super(detail);
    this.name = "HttpProblem";
  }
}

function isHttpProblem(error: unknown): error is HttpProblem {
  return typeof error === "object" && error !== null && HTTP_PROBLEM_BRAND in error;
}

/**
 * Anything thrown while handling a request, as problem+json. Unknown errors become a generic 500:
 * their message may hold SQL, paths or secrets, so it goes to the log and never to the client.
 */
export function problemFromError(error: unknown, context: { method: string; path: string }): Response {
  if (isHttpProblem(error)) return problemResponse(error.kind, error.message, error.options);
  if (isEngineError(error)) {
    const kind = engineCodeToKind[error.code];
    if (kind !== "internal") {
      const { detail, extensions } = describeEngineError(error);
      return problemResponse(kind, detail, { errors: error.issues, retryAfterSeconds: error.retryAfterSeconds, extensions });
    }
  }
  logger.error("request failed", { ...context, error, cause: causeOf(error) });
  return problemResponse("internal", "The server could not complete the request. It has been logged.");
}

function describeEngineError(error: EngineError): { detail: string; extensions?: ProblemExtensions } {
  const rejection = commandRejectionOf(error);
  if (rejection?.kind === "rule") {
    return { detail: `Rejected by the business rule ${rejection.rule}: ${error.message}`, extensions: { rule: rejection.rule } };
  }
  if (rejection?.kind === "conflict") return { detail: error.message, extensions: { expected: rejection.expected, actual: rejection.actual } };
  return { detail: error.message };
}

function causeOf(error: unknown): unknown {
  return error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
}
