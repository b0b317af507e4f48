import { describe, expect, it } from "vitest";
import { z } from "zod";
import { zodIssues } from "../core/field-issues";
import { EventTypeRegistry } from "../core/registry";
import { createEndpointSchema, filterProblem, updateEndpointSchema, validateEventTypes } from "./endpoint-input";

const valid = { url: "https://example.com/hooks", eventTypes: ["exam.*"] };

function issuesOf(schema: z.ZodType, input: unknown) {
  const parsed = schema.safeParse(input);
  return parsed.success ? [] : zodIssues(parsed.error);
}

function pathsOf(schema: z.ZodType, input: unknown): string[] {
  return issuesOf(schema, input).map((issue) => issue.path);
}

describe("createEndpointSchema", () => {
  it("accepts a minimal endpoint and a complete one", () => {
    expect(issuesOf(createEndpointSchema, valid)).toEqual([]);
    const complete = {
      ...valid,
      eventTypes: ["exam.created", "grading.*", "*"],
      description: "Grades to the LMS",
      filter: 'type.startsWith("grading.") && data.score >= 50',
      headers: { "x-api-key": "k-123", authorization: "Bearer abc" },
      rateLimitPerSecond: 100,
      orderedByKey: true,
      disabled: false,
    };
    expect(createEndpointSchema.parse(complete)).toEqual(complete);
    expect(issuesOf(createEndpointSchema, { ...valid, filter: null, rateLimitPerSecond: null })).toEqual([]);
  });

  it("requires url and eventTypes", () => {
    expect(pathsOf(createEndpointSchema, {}).sort()).toEqual(["eventTypes", "url"]);
  });

  it("refuses unknown fields by name", () => {
    expect(issuesOf(createEndpointSchema, { ...valid, colour: "red" })).toEqual([{ path: "colour", message: "is not allowed" }]);
  });

  describe("url", () => {
    it.each([
      ["not a url", "is not a valid URL"],
      ["ftp://example.com/x", "must use http or https, not ftp"],
      ["javascript:alert(1)", "must use http or https, not javascript"],
      ["https://user:pass@example.com/", "must not contain credentials (user:password@); use a custom header instead"],
    ])("%s: %s", (value, message) => {
      expect(issuesOf(createEndpointSchema, { ...valid, url: value })).toEqual([{ path: "url", message }]);
    });

    it("is at most 2048 characters", () => {
      const long = `https://example.com/${"a".repeat(2049 - "https://example.com/".length)}`;
      expect(issuesOf(createEndpointSchema, { ...valid, url: long })).toEqual([{ path: "url", message: "must be at most 2048 characters" }]);
      expect(issuesOf(createEndpointSchema, { ...valid, url: long.slice(0, 2048) })).toEqual([]);
    });

    it("leaves addresses to the service (no DNS in a schema)", () => {
      expect(issuesOf(createEndpointSchema, { ...valid, url: "http://10.0.0.1/x" })).toEqual([]);
    });
  });

  describe("eventTypes", () => {
    it.each([["exam.created"], ["exam.*"], ["a.b.c"], ["a.b.*"], ["*"], ["grading_v2.sheet_done"]])("accepts %s", (pattern) => {
      expect(issuesOf(createEndpointSchema, { ...valid, eventTypes: [pattern] })).toEqual([]);
    });

    it.each([["exam"], ["Exam.Created"], ["exam.*.created"], ["*.created"], ["exam*"], ["exam."], [".exam"], ["**"], [""], ["exam. created"]])(
      "refuses %s at its index",
      (pattern) => {
        expect(issuesOf(createEndpointSchema, { ...valid, eventTypes: ["exam.created", pattern] })).toEqual([
          { path: "eventTypes[1]", message: "must be an event type (exam.created), a prefix pattern (exam.*) or *" },
        ]);
      },
    );

    it("needs 1 to 50 patterns, without repeats", () => {
      expect(issuesOf(createEndpointSchema, { ...valid, eventTypes: [] })).toEqual([{ path: "eventTypes", message: "must name at least one event type pattern" }]);
      const many = Array.from({ length: 51 }, (_, index) => `exam.t${index}`);
      expect(pathsOf(createEndpointSchema, { ...valid, eventTypes: many })).toEqual(["eventTypes"]);
      expect(issuesOf(createEndpointSchema, { ...valid, eventTypes: many.slice(0, 50) })).toEqual([]);
      expect(issuesOf(createEndpointSchema, { ...valid, eventTypes: ["exam.*", "a.b", "exam.*"] })).toEqual([{ path: "eventTypes[2]", message: "repeats eventTypes[0]" }]);
    });
  });

  describe("filter", () => {
    it("must compile; the message names the position", () => {
      expect(issuesOf(createEndpointSchema, { ...valid, filter: "data.score >=" })).toEqual([
        { path: "filter", message: "is not a valid filter: Unexpected token: EOF (at position 13)" },
      ]);
      expect(issuesOf(createEndpointSchema, { ...valid, filter: 'tpye == "x"' })).toEqual([
        { path: "filter", message: "is not a valid filter: Unknown variable: tpye (at position 0)" },
      ]);
    });

    it("is at most 2000 characters", () => {
      const long = `type == "${"a".repeat(2000)}"`;
      expect(issuesOf(createEndpointSchema, { ...valid, filter: long })).toContainEqual({ path: "filter", message: "must be at most 2000 characters" });
    });
  });

  describe("description", () => {
    it("is at most 500 characters", () => {
      expect(issuesOf(createEndpointSchema, { ...valid, description: "d".repeat(500) })).toEqual([]);
      expect(pathsOf(createEndpointSchema, { ...valid, description: "d".repeat(501) })).toEqual(["description"]);
    });
  });

  describe("headers", () => {
    it.each([
      ["X-Api-Key", "is not a valid header name: use lowercase letters, digits and hyphens"],
      ["x_api_key", "is not a valid header name: use lowercase letters, digits and hyphens"],
      ["x api", "is not a valid header name: use lowercase letters, digits and hyphens"],
      ["", "is not a valid header name: use lowercase letters, digits and hyphens"],
      ["webhook-id", "is reserved: webhook-* headers carry the signature"],
      ["webhook-signature", "is reserved: webhook-* headers carry the signature"],
      ["webhook-anything", "is reserved: webhook-* headers carry the signature"],
      ["content-type", "is reserved: set by the sender"],
      ["content-length", "is reserved: set by the sender"],
      ["host", "is reserved: set by the sender"],
      ["transfer-encoding", "is reserved: set by the sender"],
      ["connection", "is reserved: set by the sender"],
    ])("refuses the name %j: %s", (name, message) => {
      const [issue, ...rest] = issuesOf(createEndpointSchema, { ...valid, headers: { [name]: "v" } });
      expect(rest).toEqual([]);
      expect(issue?.message).toBe(message);
      // The issue names the header (the house field path: headers.host, headers["x-api-key"]).
      expect(issue?.path).toBe(/^[a-z_]+$/.test(name) ? `headers.${name}` : `headers[${JSON.stringify(name)}]`);
    });

    it("refuses a value with a line break, or longer than 1000 characters", () => {
      expect(issuesOf(createEndpointSchema, { ...valid, headers: { "x-a": "one\r\nx-b: two" } })).toEqual([
        { path: 'headers["x-a"]', message: "must be printable ASCII (no line breaks)" },
      ]);
      expect(issuesOf(createEndpointSchema, { ...valid, headers: { "x-a": "v".repeat(1000) } })).toEqual([]);
      expect(issuesOf(createEndpointSchema, { ...valid, headers: { "x-a": "v".repeat(1001) } })).toEqual([
        { path: 'headers["x-a"]', message: "must be at most 1000 characters" },
      ]);
    });

    it("allows at most 20 headers", () => {
      const headers = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`x-h${index}`, "v"]));
      expect(issuesOf(createEndpointSchema, { ...valid, headers: headers(20) })).toEqual([]);
      expect(issuesOf(createEndpointSchema, { ...valid, headers: headers(21) })).toEqual([{ path: "headers", message: "must have at most 20 headers" }]);
    });
  });

  describe("rateLimitPerSecond", () => {
    it.each([[0], [10_001], [1.5], [-1]])("refuses %s", (value) => {
      expect(pathsOf(createEndpointSchema, { ...valid, rateLimitPerSecond: value })).toEqual(["rateLimitPerSecond"]);
    });

    it.each([[1], [10_000], [null]])("accepts %s", (value) => {
      expect(issuesOf(createEndpointSchema, { ...valid, rateLimitPerSecond: value })).toEqual([]);
    });
  });
});

describe("updateEndpointSchema", () => {
  it("accepts any subset of the fields, even none", () => {
    expect(issuesOf(updateEndpointSchema, {})).toEqual([]);
    expect(issuesOf(updateEndpointSchema, { description: "x" })).toEqual([]);
    expect(issuesOf(updateEndpointSchema, { filter: null, rateLimitPerSecond: null })).toEqual([]);
  });

  it("checks the fields given as create does", () => {
    expect(issuesOf(updateEndpointSchema, { url: "ftp://x.example/" })).toEqual([{ path: "url", message: "must use http or https, not ftp" }]);
    expect(pathsOf(updateEndpointSchema, { eventTypes: [] })).toEqual(["eventTypes"]);
    expect(pathsOf(updateEndpointSchema, { filter: "1 +" })).toEqual(["filter"]);
    expect(pathsOf(updateEndpointSchema, { headers: { host: "x" } })).toEqual(["headers.host"]);
    expect(pathsOf(updateEndpointSchema, { secret: "whsec_x" })).toEqual(["secret"]);
  });
});

describe("filterProblem", () => {
  it("is undefined for a filter that compiles", () => {
    expect(filterProblem('type == "exam.created"')).toBeUndefined();
  });

  it("names the position", () => {
    expect(filterProblem('type == "a" &&')).toBe("is not a valid filter: Unexpected token: EOF (at position 14)");
  });
});

describe("validateEventTypes", () => {
  const registry = new EventTypeRegistry();
  for (const type of ["exam.created", "exam.graded", "grading.sheet.completed"]) {
    registry.define({ type, version: 1, description: type, schema: z.object({}) });
  }

  it("passes patterns that match a registered type, and * always", () => {
    expect(validateEventTypes(["exam.created", "exam.*", "grading.*", "grading.sheet.*", "*"], registry)).toEqual([]);
    expect(validateEventTypes(["*"], new EventTypeRegistry())).toEqual([]);
  });

  it("names each pattern that matches nothing by its index", () => {
    expect(validateEventTypes(["exam.created", "exam.craeted", "gradng.*", "exam.created.*"], registry)).toEqual([
      { path: "eventTypes[1]", message: "matches no registered event type" },
      { path: "eventTypes[2]", message: "matches no registered event type" },
      { path: "eventTypes[3]", message: "matches no registered event type" },
    ]);
  });

  it("matches a prefix only at a dot: exam.* is not examination.*", () => {
    const other = new EventTypeRegistry();
    other.define({ type: "examination.created", version: 1, description: "", schema: z.object({}) });
    expect(validateEventTypes(["exam.*"], other)).toEqual([{ path: "eventTypes[0]", message: "matches no registered event type" }]);
  });
});
