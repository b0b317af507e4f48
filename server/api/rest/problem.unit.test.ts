import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { EngineError, NotFoundError, RuleViolationError, ValidationError, VersionConflictError } from "@/server/engine/core/errors";
import { commandHeaders } from "./cqrs-schemas";
import { formatPath, parseHeaders, parseQuery, readJsonBody } from "./http";
import { HttpProblem, problemFromError } from "./problem";

const where = { method: "GET", path: "/api/v1/test" };

async function problemOf(error: unknown) {
  const response = problemFromError(error, where);
  return { response, body: (await response.json()) as Record<string, unknown> };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("problemFromError", () => {
  it.each([
    ["validation", 422, "validation"],
    ["not_found", 404, "not-found"],
    ["conflict", 409, "conflict"],
    ["forbidden", 403, "forbidden"],
    ["unauthorized", 401, "unauthorized"],
    ["rate_limited", 429, "rate-limited"],
    ["unavailable", 503, "unavailable"],
  ] as const)("maps engine code %s to %i with a stable type URI", async (code, status, slug) => {
    const { response, body } = await problemOf(new EngineError(code, `went ${code}`));
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(body).toMatchObject({ type: `https://eventloom.dev/problems/${slug}`, status, detail: `went ${code}` });
  });

  it("carries field issues of validation errors", async () => {
    const { body } = await problemOf(new ValidationError("bad", [{ path: "events[3].data.examId", message: "is required" }]));
    expect(body.errors).toEqual([{ path: "events[3].data.examId", message: "is required" }]);
    expect((await problemOf(new NotFoundError("gone"))).body).not.toHaveProperty("errors");
  });

  it("names the broken business rule (422) and the versions of a conflict (409) in detail and as members", async () => {
    const rule = await problemOf(new RuleViolationError("ocr_failed", "The sheet's OCR failed; it cannot be graded"));
    expect(rule.response.status).toBe(422);
    expect(rule.body).toMatchObject({ type: "https://eventloom.dev/problems/validation", rule: "ocr_failed" });
    expect(rule.body.detail).toContain("ocr_failed");
    expect(rule.body.detail).toContain("cannot be graded");

    const conflict = await problemOf(new VersionConflictError("exam-1", 3, 5));
    expect(conflict.response.status).toBe(409);
    expect(conflict.body).toMatchObject({ type: "https://eventloom.dev/problems/conflict", expected: 3, actual: 5 });
    expect(conflict.body.detail).toMatch(/version 5.*expected 3/);

    // Other engine errors carry no extension members.
    const plain = await problemOf(new EngineError("conflict", "key reused"));
    expect(Object.keys(plain.body).sort()).toEqual(["detail", "status", "title", "type"]);
  });

  it("recognises the two by their members, not their class (Next.js bundles hold several copies)", async () => {
    const foreignCopy = Object.assign(new EngineError("validation", "no grading after a failed OCR"), { rule: "ocr_failed" });
    expect((await problemOf(foreignCopy)).body).toMatchObject({ status: 422, rule: "ocr_failed" });
  });

  it("sets Retry-After on 429 and 503, from the error or a default", async () => {
    expect((await problemOf(new EngineError("rate_limited", "slow down", { retryAfterSeconds: 7.2 }))).response.headers.get("retry-after")).toBe("8");
    expect((await problemOf(new EngineError("rate_limited", "slow down"))).response.headers.get("retry-after")).toBe("1");
    expect((await problemOf(new EngineError("unavailable", "db down"))).response.headers.get("retry-after")).toBe("5");
    expect((await problemOf(new EngineError("conflict", "x"))).response.headers.get("retry-after")).toBeNull();
  });

  it("answers 500 with a generic detail for anything else, logging the real error", async () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    for (const error of [new Error("relation secret_table does not exist at /srv/app.ts:12"), new EngineError("internal", "upcaster exploded"), "a string"]) {
      const { response, body } = await problemOf(error);
      expect(response.status).toBe(500);
      expect(body.type).toBe("https://eventloom.dev/problems/internal");
      expect(JSON.stringify(body)).not.toMatch(/secret_table|upcaster|a string|app\.ts/);
    }
    expect(stderr.mock.calls.map(([line]) => String(line)).join("")).toContain("secret_table");
  });

  it("renders HttpProblems as given, with WWW-Authenticate on 401", async () => {
    const { response, body } = await problemOf(new HttpProblem("payload_too_large", "too big"));
    expect(response.status).toBe(413);
    expect(body).toEqual({ type: "https://eventloom.dev/problems/payload-too-large", title: "Payload too large", status: 413, detail: "too big" });
    expect((await problemOf(new EngineError("unauthorized", "who?"))).response.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });
});

describe("readJsonBody", () => {
  const read = (body: BodyInit | null, headers: Record<string, string>, maxBytes = 100) =>
    readJsonBody(new Request("http://x/", { method: "POST", body, headers }), { maxBytes, mediaTypes: ["application/json"] });
  const kindOf = (promise: Promise<unknown>) => promise.then(() => "ok", (error: HttpProblem) => error.kind);

  it("parses JSON of an accepted media type, ignoring case and a utf-8 charset", async () => {
    expect(await read('{"a":1}', { "content-type": "Application/JSON; charset=UTF-8" })).toEqual({ mediaType: "application/json", value: { a: 1 } });
  });

  it("refuses other media types and charsets (415), bad JSON and empty bodies (400), big bodies (413)", async () => {
    expect(await kindOf(read("{}", { "content-type": "text/json" }))).toBe("unsupported_media_type");
    expect(await kindOf(read("{}", { "content-type": "application/json; charset=latin1" }))).toBe("unsupported_media_type");
    expect(await kindOf(read("{", { "content-type": "application/json" }))).toBe("bad_request");
    expect(await kindOf(read("", { "content-type": "application/json" }))).toBe("bad_request");
    expect(await kindOf(read(`"${"x".repeat(200)}"`, { "content-type": "application/json" }))).toBe("payload_too_large");
    // A Content-Length over the limit is refused before anything is read.
    expect(await kindOf(read("{}", { "content-type": "application/json", "content-length": "101" }))).toBe("payload_too_large");
    expect(await kindOf(read(`"${"x".repeat(98)}"`, { "content-type": "application/json" }))).toBe("ok");
  });
});

describe("parseQuery", () => {
  const schema = z.strictObject({ limit: z.string().regex(/^\d+$/, "must be a number").optional(), type: z.string().optional() });
  const parse = (query: string) => {
    try {
      return parseQuery(schema, new URL(`http://x/?${query}`), { lists: ["type"] });
    } catch (error) {
      return error as HttpProblem;
    }
  };

  it("joins repeated list parameters and refuses other repeats, unknown and invalid parameters with 400", () => {
    expect(parse("type=a&type=b&limit=2")).toEqual({ type: "a,b", limit: "2" });
    for (const [query, path] of [["limit=1&limit=2", "limit"], ["limit=x", "limit"], ["colour=red", "colour"]] as const) {
      const problem = parse(query) as HttpProblem;
      expect(problem.kind).toBe("bad_request");
      expect(problem.options.errors?.map((issue) => issue.path)).toEqual([path]);
      expect(problem.message).toContain(path);
    }
  });
});

describe("parseHeaders (a command's headers)", () => {
  const parse = (headers: Record<string, string>) => {
    try {
      return parseHeaders(commandHeaders, new Request("http://x/", { headers }));
    } catch (error) {
      return error as HttpProblem;
    }
  };

  it("reads If-Match as a version, plain or as an ETag, and ignores headers it does not name", () => {
    expect(parse({ "if-match": "3" })).toEqual({ "if-match": 3 });
    expect(parse({ "If-Match": '"0"', "ce-correlationid": "conv-1", accept: "*/*" })).toEqual({ "if-match": 0, "ce-correlationid": "conv-1" });
    expect(parse({})).toEqual({});
  });

  it("refuses any other If-Match (a wildcard, a weak or non-numeric ETag, a list) with 400 naming it", () => {
    for (const value of ["*", 'W/"3"', '"abc"', "-1", "3, 4", '"3', "1.5", "9".repeat(16)]) {
      const problem = parse({ "if-match": value }) as HttpProblem;
      expect(problem.kind, value).toBe("bad_request");
      expect(problem.options.errors).toEqual([{ path: "if-match", message: expect.stringContaining("If-Match") }]);
    }
  });

  it("refuses a malformed Idempotency-Key with 400 naming it", () => {
    const problem = parse({ "idempotency-key": "two words" }) as HttpProblem;
    expect(problem.kind).toBe("bad_request");
    expect(problem.options.errors?.map((issue) => issue.path)).toEqual(["idempotency-key"]);
  });
});

describe("formatPath", () => {
  it("writes indexes in brackets and odd keys quoted", () => {
    expect(formatPath(["events", 3, "data", "examId"])).toBe("events[3].data.examId");
    expect(formatPath([2, "data"])).toBe("[2].data");
    expect(formatPath(["data", "with space"])).toBe('data["with space"]');
  });
});
