import type { z } from "zod";
import type { FieldIssue } from "@/server/engine/core/errors";
import { HttpProblem } from "./problem";

/**
 * Request parsing for REST v1: bodies (size, media type, UTF-8, JSON) and query parameters. Each
 * failure becomes the status the contract names: 413, 415, 400 for what cannot be parsed, 422 for
 * what parses but is invalid.
 */

export interface JsonBody {
  /** The request's media type, lower-cased, without parameters. */
  mediaType: string;
  value: unknown;
}

export function mediaTypeOf(request: Request): { type: string; charset: string | undefined } | undefined {
  const header = request.headers.get("content-type");
  if (!header) return undefined;
  const [type = "", ...parameters] = header.split(";").map((part) => part.trim());
  let charset: string | undefined;
  for (const parameter of parameters) {
    const [name, value] = parameter.split("=", 2);
    if (name?.trim().toLowerCase() === "charset" && value) charset = value.trim().replace(/^"|"$/g, "").toLowerCase();
  }
  return { type: type.toLowerCase(), charset };
}

/** Reads and parses a JSON body of one of `mediaTypes`, refusing more than `maxBytes`. */
export async function readJsonBody(
  request: Request,
  options: { maxBytes: number; mediaTypes: readonly string[] },
): Promise<JsonBody> {
  const media = mediaTypeOf(request);
  if (!media || !options.mediaTypes.includes(media.type)) {
    throw new HttpProblem(
      "unsupported_media_type",
      `Content-Type must be ${options.mediaTypes.join(" or ")}${media ? `, not ${media.type}` : ""}`,
      { headers: { "accept-post": options.mediaTypes.join(", ") } },
    );
  }
  if (media.charset !== undefined && media.charset !== "utf-8" && media.charset !== "utf8") {
    throw new HttpProblem("unsupported_media_type", `Only UTF-8 bodies are accepted, not charset=${media.charset}`);
  }
  const bytes = await readLimited(request, options.maxBytes);
  if (bytes.byteLength === 0) throw new HttpProblem("bad_request", "The request body is empty; expected JSON");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpProblem("bad_request", "The request body is not valid UTF-8");
  }
  try {
    return { mediaType: media.type, value: JSON.parse(text) as unknown };
  } catch (error) {
    throw new HttpProblem("bad_request", `The request body is not valid JSON: ${error instanceof Error ? error.message : "parse error"}`);
  }
}

/**
 * Content-Length is checked first (cheap, before reading anything), and the bytes are counted while
 * reading too: the header may be absent (chunked encoding) or lie.
 */
async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => new HttpProblem("payload_too_large", `The request body exceeds the limit of ${maxBytes} bytes`);
  const declared = request.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > maxBytes) throw tooLarge();
  if (!request.body) return new Uint8Array(0);

  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // Stop the upload rather than drain it: the client is told at once and memory stays bounded.
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// zod -> field issues

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `["events", 3, "data", "examId"]` -> `events[3].data.examId`. */
export function formatPath(segments: ReadonlyArray<PropertyKey>): string {
  let path = "";
  for (const segment of segments) {
    if (typeof segment === "number") path += `[${segment}]`;
    else if (typeof segment === "string" && IDENTIFIER.test(segment)) path += path === "" ? segment : `.${segment}`;
    else path += `[${JSON.stringify(String(segment))}]`;
  }
  return path;
}

export function issuesFromZod(error: z.ZodError): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      // One issue per unknown key, naming the key itself: that is what the client has to remove.
      for (const key of issue.keys) issues.push({ path: formatPath([...issue.path, key]), message: "is not allowed" });
    } else {
      issues.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return issues;
}

/** A missing field reads better as "is required" than as zod's "expected string, received undefined". */
const parseOptions = {
  error: (issue: { code?: string; input?: unknown }) =>
    issue.code === "invalid_type" && issue.input === undefined ? "is required" : undefined,
};

export function safeParse<S extends z.ZodType>(schema: S, value: unknown): { data: z.output<S> } | { issues: FieldIssue[] } {
  const parsed = schema.safeParse(value, parseOptions);
  return parsed.success ? { data: parsed.data } : { issues: issuesFromZod(parsed.error) };
}

function describeIssues(what: string, issues: FieldIssue[]): string {
  const first = issues[0];
  if (issues.length === 1 && first) return `Invalid ${what} ${first.path || "(root)"}: ${first.message}`;
  return `${issues.length} invalid ${what}s: ${[...new Set(issues.map((issue) => issue.path || "(root)"))].join(", ")}`;
}

/** Validates a parsed body: 422 with every failing field. */
export function parseBody<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = safeParse(schema, value);
  if ("data" in result) return result.data;
  throw new HttpProblem("validation", describeIssues("field", result.issues), { errors: result.issues });
}

/**
 * The query string as one value per parameter: a parameter given twice is refused (which one
 * should win is a guess), except those listed in `lists`, whose values are joined by commas
 * (`type=a&type=b` is `type=a,b`).
 */
export function queryValues(url: URL, options: { lists?: readonly string[] } = {}): { values: Record<string, string>; issues: FieldIssue[] } {
  const values: Record<string, string> = {};
  const issues: FieldIssue[] = [];
  for (const name of new Set(url.searchParams.keys())) {
    const given = url.searchParams.getAll(name);
    if (given.length > 1 && !options.lists?.includes(name)) {
      issues.push({ path: name, message: "must be given once" });
      continue;
    }
    values[name] = given.join(",");
  }
  return { values, issues };
}

/** A 400 naming each bad query parameter. */
export function badQuery(issues: FieldIssue[]): HttpProblem {
  return new HttpProblem("bad_request", describeIssues("query parameter", issues), { errors: issues });
}

/** Validates the query string (see {@link queryValues}): 400 naming each bad parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, url: URL, options: { lists?: readonly string[] } = {}): z.output<S> {
  const { values, issues } = queryValues(url, options);
  if (issues.length === 0) {
    const result = safeParse(schema, values);
    if ("data" in result) return result.data;
    issues.push(...result.issues);
  }
  throw badQuery(issues);
}

/**
 * Validates the request headers `schema` names (its keys in lower case): 400 naming each bad
 * header. Headers the schema does not name are ignored.
 */
export function parseHeaders<S extends z.ZodObject>(schema: S, request: Request): z.output<S> {
  const values: Record<string, string> = {};
  for (const name of Object.keys(schema.shape)) {
    const value = request.headers.get(name);
    if (value !== null) values[name] = value;
  }
  const parsed = schema.safeParse(values, parseOptions);
  if (parsed.success) return parsed.data;
  // A header's name is the whole path (formatPath would quote `if-match` as `["if-match"]`).
  const issues = parsed.error.issues.map((issue) => ({ path: String(issue.path[0] ?? ""), message: issue.message }));
  throw new HttpProblem("bad_request", describeIssues("header", issues), { errors: issues });
}
