import { z } from "zod";
import { matchesAnyType } from "../core/envelope";
import type { FieldIssue } from "../core/errors";
import type { EventTypeRegistry } from "../core/registry";
import { compileFilter, FilterExpressionError, MAX_FILTER_LENGTH } from "../routing/filter-expression";
import { urlSyntaxIssues } from "./address-policy";

/**
 * What a webhook endpoint may be created or updated with (REST, tRPC and the dashboard's form all
 * use these schemas). The schemas check everything that needs neither DNS nor the type registry:
 * the URL's syntax and scheme, the type patterns' syntax, the filter (compiled), the custom
 * headers. The service adds {@link validateEventTypes} and the URL's resolved addresses
 * (validateWebhookUrl in address-policy.ts).
 */

export const MAX_URL_LENGTH = 2048;
export const MAX_EVENT_TYPES = 50;
export const MAX_DESCRIPTION_LENGTH = 500;
export const MAX_HEADERS = 20;
export const MAX_HEADER_VALUE_LENGTH = 1000;
export const MAX_RATE_LIMIT_PER_SECOND = 10_000;

/** `exam.created`, `exam.*` (every type under `exam.`), or `*` (every type). */
export const EVENT_TYPE_PATTERN = /^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;

const HEADER_NAME = /^[a-z0-9-]+$/;
/** Printable ASCII and tab: a CR or LF would let a value start a header of its own, and fetch refuses non-Latin-1 values anyway. */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * Headers a custom header may not set: the signed webhook-* ones and the body's type, which the
 * signature and the receiver rely on; those that describe the connection or framing, which the
 * HTTP client owns (setting them makes every request fail).
 */
const RESERVED_HEADERS = new Set([
  "content-type",
  "content-length",
  "host",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "expect",
  "proxy-connection",
]);

function headerNameProblem(name: string): string | undefined {
  if (!HEADER_NAME.test(name)) return "is not a valid header name: use lowercase letters, digits and hyphens";
  if (name.startsWith("webhook-")) return "is reserved: webhook-* headers carry the signature";
  if (RESERVED_HEADERS.has(name)) return "is reserved: set by the sender";
  return undefined;
}

const url = z
  .string()
  .max(MAX_URL_LENGTH, `must be at most ${MAX_URL_LENGTH} characters`)
  .superRefine((value, context) => {
    for (const issue of urlSyntaxIssues(value)) context.addIssue({ code: "custom", message: issue.message });
  })
  .meta({ description: "Where deliveries are POSTed: http or https, no credentials; every address the host resolves to must pass the SSRF rules.", example: "https://example.com/hooks/eventloom" });

const eventTypes = z
  .array(z.string().regex(EVENT_TYPE_PATTERN, "must be an event type (exam.created), a prefix pattern (exam.*) or *"))
  .min(1, "must name at least one event type pattern")
  .max(MAX_EVENT_TYPES, `must name at most ${MAX_EVENT_TYPES} patterns`)
  .superRefine((patterns, context) => {
    patterns.forEach((pattern, index) => {
      const first = patterns.indexOf(pattern);
      if (first !== index) context.addIssue({ code: "custom", path: [index], message: `repeats eventTypes[${first}]` });
    });
  })
  .meta({ description: "Event type patterns: a type, `prefix.*`, or `*`. Each must match at least one registered type.", example: ["exam.*", "grading.completed"] });

const description = z
  .string()
  .max(MAX_DESCRIPTION_LENGTH, `must be at most ${MAX_DESCRIPTION_LENGTH} characters`)
  .meta({ description: "A note for people: what the receiver is." });

const filter = z
  .string()
  .max(MAX_FILTER_LENGTH, `must be at most ${MAX_FILTER_LENGTH} characters`)
  .superRefine((value, context) => {
    const problem = filterProblem(value);
    if (problem) context.addIssue({ code: "custom", message: problem });
  })
  .nullable()
  .meta({ description: "A CEL expression over the event resource; only events it is true for are delivered. Null: every event of the types.", example: 'type.startsWith("grading.") && data.score >= 50' });

const headers = z
  .record(z.string(), z.string().max(MAX_HEADER_VALUE_LENGTH, `must be at most ${MAX_HEADER_VALUE_LENGTH} characters`).regex(HEADER_VALUE, "must be printable ASCII (no line breaks)"))
  .superRefine((value, context) => {
    const names = Object.keys(value);
    if (names.length > MAX_HEADERS) context.addIssue({ code: "custom", message: `must have at most ${MAX_HEADERS} headers` });
    for (const name of names) {
      const problem = headerNameProblem(name);
      if (problem) context.addIssue({ code: "custom", path: [name], message: problem });
    }
  })
  .meta({ description: "Sent with every delivery, e.g. an API key the receiver expects. Lowercase names; not webhook-*, content-type, host, content-length or connection headers.", example: { "x-api-key": "…" } });

const rateLimitPerSecond = z
  .int("must be a whole number")
  .min(1, "must be at least 1")
  .max(MAX_RATE_LIMIT_PER_SECOND, `must be at most ${MAX_RATE_LIMIT_PER_SECOND}`)
  .nullable()
  .meta({ description: "Deliveries per second at most (per dispatcher process), or null for no limit." });

const orderedByKey = z.boolean().meta({ description: "Deliver in order per partitionkey: a later event of a key waits until the earlier one succeeded or failed for good." });

const disabled = z.boolean().meta({ description: "Create (or put) the endpoint disabled: events are kept as skipped deliveries and caught up when it is enabled." });

const endpointFields = {
  url,
  eventTypes,
  description: description.optional(),
  filter: filter.optional(),
  headers: headers.optional(),
  rateLimitPerSecond: rateLimitPerSecond.optional(),
  orderedByKey: orderedByKey.optional(),
  disabled: disabled.optional(),
};

export const createEndpointSchema = z.strictObject(endpointFields);
export type CreateEndpointBody = z.infer<typeof createEndpointSchema>;

/** Only the fields given change; `filter: null` removes the filter, `rateLimitPerSecond: null` the limit. */
export const updateEndpointSchema = z.strictObject({ ...endpointFields, url: url.optional(), eventTypes: eventTypes.optional() });
export type UpdateEndpointBody = z.infer<typeof updateEndpointSchema>;

/** The filter's compile error, with its position, worded for the `filter` field; undefined when it compiles. */
export function filterProblem(expression: string): string | undefined {
  try {
    compileFilter(expression);
    return undefined;
  } catch (error) {
    if (error instanceof FilterExpressionError) return `is not a valid filter: ${error.message}`;
    throw error;
  }
}

/**
 * Each pattern must match at least one registered type, so a typo (`exam.craeted`, `gradng.*`)
 * is an error instead of an endpoint that never receives anything. `*` always passes.
 */
export function validateEventTypes(patterns: readonly string[], registry: Pick<EventTypeRegistry, "list">): FieldIssue[] {
  const registered = registry.list().map((descriptor) => descriptor.type);
  const issues: FieldIssue[] = [];
  patterns.forEach((pattern, index) => {
    if (pattern === "*" || registered.some((type) => matchesAnyType([pattern], type))) return;
    issues.push({ path: `eventTypes[${index}]`, message: "matches no registered event type" });
  });
  return issues;
}
