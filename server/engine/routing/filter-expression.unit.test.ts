import { describe, expect, it } from "vitest";
import { FILTER_VARIABLES, FilterExpressionError, MAX_FILTER_LENGTH, compileFilter } from "./filter-expression";

/** An event resource as GET /api/v1/events/{id} returns it. */
const event = {
  specversion: "1.0",
  id: "0190c7a4-0c8e-7b5a-9f3e-2d1c0b9a8f7e",
  type: "grading.completed",
  source: "urn:eventloom",
  time: "2026-03-01T12:00:00.000Z",
  subject: "exam/e-42",
  datacontenttype: "application/json",
  data: { examId: "e-42", score: 72, passed: true, tags: ["x", "math"], batchId: null, grader: { name: "Ada", type: "human" } },
  correlationid: "0190c7a4-0000-7000-8000-000000000001",
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  priority: "high",
  partitionkey: "student-7",
  schemaversion: 2,
  position: 1234,
};

function matches(expression: string, resource: object = event): boolean {
  return compileFilter(expression).matches(resource);
}

function compileError(expression: string): FilterExpressionError {
  try {
    compileFilter(expression);
  } catch (error) {
    if (error instanceof FilterExpressionError) return error;
    throw error;
  }
  throw new Error(`${expression} compiled`);
}

describe("compileFilter: common expressions", () => {
  it.each([
    ['type == "grading.completed"', true],
    ['type == "exam.created"', false],
    ['type != "exam.created"', true],
    ["data.score >= 50", true],
    ["data.score >= 80", false],
    ["data.score > 71.5", true],
    ["data.score == 72", true],
    ['type.startsWith("grading.") && data.examId == "e-42"', true],
    ['type.startsWith("grading.") && data.examId == "e-1"', false],
    ['type.endsWith(".completed") || type == "exam.created"', true],
    ["has(data.batchId)", true],
    ["has(data.missing)", false],
    ["!has(data.missing)", true],
    ["has(data.grader.name)", true],
    ['"x" in data.tags', true],
    ['"y" in data.tags', false],
    ['data.tags.exists(t, t == "math")', true],
    ["data.tags.all(t, t.size() >= 1)", true],
    ["size(data.tags) == 2", true],
    ["data.passed", true],
    ["data.passed == true && priority == \"high\"", true],
    ['subject.contains("e-42")', true],
    ['partitionkey == "student-7"', true],
    ["position > 1000 && schemaversion == 2", true],
    ['timestamp(time) >= timestamp("2026-01-01T00:00:00Z")', true],
    ['data.grader.type == "human"', true],
    ['data["examId"] == "e-42"', true],
    ['type in ["exam.created", "grading.completed"]', true],
    ['type(data.score) == double', true],
    ["data.score >= 50 ? true : false", true],
  ])("%s → %s", (expression, expected) => {
    expect(matches(expression)).toBe(expected);
  });

  it("keeps the expression as written", () => {
    expect(compileFilter('type == "a"').expression).toBe('type == "a"');
  });

  it("compiles once and evaluates against many events", () => {
    const filter = compileFilter('type.startsWith("exam.") && data.score >= 50');
    expect(filter.matches({ ...event, type: "exam.graded", data: { score: 50 } })).toBe(true);
    expect(filter.matches({ ...event, type: "exam.graded", data: { score: 49 } })).toBe(false);
    expect(filter.matches({ ...event, type: "grading.completed", data: { score: 99 } })).toBe(false);
  });

  it("does not mistake a string or a field called type for the variable", () => {
    expect(matches('data.grader.type == "human" && "type" != type')).toBe(true);
    expect(matches('{"type": type}["type"] == "grading.completed"')).toBe(true);
  });
});

describe("compileFilter: evaluation errors are no match", () => {
  it.each([
    ["data.missing == 1"],
    ["data.missing.deeper > 2"],
    ['data.examId > 5'], // string against int: no such overload at run time
    ["data.score + 1 == 73 && data.tags[5] == \"z\""], // index out of range
    ['data.tags.exists(t, t > 1)'],
    ["int(data.examId) == 1"],
    ["data.score / 0 > 1"],
  ])("%s → false", (expression) => {
    expect(matches(expression)).toBe(false);
  });

  it("an absent optional attribute is no match, in either direction", () => {
    const { subject: _subject, partitionkey: _partitionkey, ...bare } = event;
    expect(matches('subject == "exam/e-42"', bare)).toBe(false);
    expect(matches('subject != "exam/e-42"', bare)).toBe(false);
    expect(matches('partitionkey.startsWith("s")', bare)).toBe(false);
  });

  it("an event without data or type does not throw", () => {
    expect(matches("data.score > 1", {})).toBe(false);
    expect(matches('type == "x"', {})).toBe(false);
  });

  it("a non-boolean result known only at run time is no match", () => {
    expect(matches("data.score")).toBe(false);
    expect(matches("data.examId")).toBe(false);
    expect(matches("data.tags")).toBe(false);
  });
});

describe("compileFilter: compile errors name the position", () => {
  it.each([
    ['type == "a" &&', 14, /Unexpected token/],
    ['type == "a" && (data.x > 1', 26, /./],
    ['type = "a"', 5, /./],
    ['type == "unterminated', 8, /./],
    ['tpye == "exam.created"', 0, /Unknown variable: tpye/],
    ['data.score > 1 && sbuject == "x"', 18, /Unknown variable: sbuject/],
    ["type == 5", 0, /no such overload: string == int/],
    ['subject > 5', 0, /no such overload/],
    ["nosuchfunction(data)", 0, /no matching overload/],
  ])("%s → position %i", (expression, position, message) => {
    const error = compileError(expression);
    expect(error.position).toBe(position);
    expect(error.summary).toMatch(message);
    expect(error.message).toBe(`${error.summary} (at position ${position})`);
  });

  it("refuses a result that is not boolean when the type is known", () => {
    for (const expression of ["size(data.tags)", 'type + "x"', "[1, 2]", "1"]) {
      const error = compileError(expression);
      expect(error.summary, expression).toMatch(/^the filter must give true or false, but gives a /);
      expect(error.position).toBe(0);
    }
  });

  it("never mentions its internal name for type in messages", () => {
    expect(compileError("type > 5").summary).not.toContain("ty_e");
    expect(compileError("ty_e == \"x\"")).toMatchObject({ summary: "unknown variable ty_e", position: 0 });
  });

  it("refuses an empty filter", () => {
    expect(compileError("")).toMatchObject({ position: 0 });
    expect(compileError("   ")).toMatchObject({ position: 0 });
  });
});

describe("compileFilter: pathological input", () => {
  it(`refuses more than ${MAX_FILTER_LENGTH} characters`, () => {
    const long = `type == "${"a".repeat(MAX_FILTER_LENGTH)}"`;
    expect(compileError(long).summary).toMatch(/longer than 2000/);
  });

  it("refuses deep nesting instead of recursing without bound", () => {
    const deep = `${"(".repeat(200)}true${")".repeat(200)}`;
    expect(compileError(deep).summary).toMatch(/maxDepth/);
  });

  it("refuses matches(): backtracking regular expressions could stall delivery", () => {
    const error = compileError('data.examId.matches("(a+)+$")');
    expect(error.summary).toMatch(/matches\(\) is not available/);
    expect(error.position).toBe(0);
    expect(compileError('type == "a" || matches(type, "x")').position).toBe(15);
  });

  it("refuses a list macro nested in another (quadratic in the event's size)", () => {
    const error = compileError("data.tags.all(a, data.tags.exists(b, a == b))");
    expect(error.summary).toMatch(/exists\(\) inside another list macro/);
    expect(error.position).toBe(17);
    // Side by side is fine.
    expect(matches('data.tags.all(a, a != "") && data.tags.exists(b, b == "x")')).toBe(true);
  });

  it("has no way to reach JavaScript: no eval, globals or prototypes", () => {
    for (const expression of ['process.exit(1) == null', 'constructor == "x"', 'globalThis != null', 'eval("1") == 1']) {
      expect(compileError(expression)).toBeInstanceOf(FilterExpressionError);
    }
    expect(matches('data.constructor == "x"')).toBe(false);
    expect(matches("has(data.__proto__)")).toBe(false);
  });
});

describe("FILTER_VARIABLES", () => {
  it("are the event resource's attributes", () => {
    expect([...FILTER_VARIABLES].sort()).toEqual(
      ["causationid", "correlationid", "data", "datacontenttype", "dataschema", "id", "partitionkey", "position", "priority", "schemaversion", "source", "specversion", "subject", "time", "traceparent", "tracestate", "type"].sort(),
    );
  });

  it("each can be used in a filter", () => {
    for (const name of FILTER_VARIABLES) expect(() => compileFilter(`${name} == ${name}`), name).not.toThrow();
  });
});
