import { describe, expect, it } from "vitest";
import { z } from "zod";
import { validateAgainstSchema, type JsonSchema } from "../events/json-schema";
import {
  constraintHint,
  emptyValue,
  fieldsFor,
  formLayout,
  initialShapeValue,
  initialValue,
  issueKey,
  placeIssues,
  schemaFor,
  setAt,
  switchVariant,
  type FormField,
  type Shape,
} from "./schema-model";

// Schemas as the server lists them: zod's JSON Schema of a command's input.
const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input" }) as JsonSchema;

const examCreate = z.object({
  examId: z.uuid().optional(),
  title: z.string().min(1).max(200),
  scheduledAt: z.iso.datetime(),
  questionCount: z.number().int().positive().max(500).default(10),
  durationMinutes: z.number().int().positive().nullable(),
  mode: z.enum(["written", "oral"]),
  tags: z.array(z.enum(["midterm", "final", "retake"])).optional(),
  notes: z.string().max(2000).optional(),
  published: z.boolean().default(false),
  grading: z.object({ method: z.enum(["auto", "manual"]).default("auto"), passMark: z.number().min(0).max(100).optional() }),
  questions: z.array(z.object({ text: z.string().min(1), points: z.number().positive() })).min(1).max(50),
});

function shapeOf(schema: z.ZodType): Shape {
  const layout = formLayout(jsonSchema(schema));
  if (!layout.ok) throw new Error(`no layout: ${layout.reason}`);
  return layout.shape;
}

function layoutOf(schema: z.ZodType): FormField[] {
  const shape = shapeOf(schema);
  if (shape.kind !== "object") throw new Error(`not an object: ${shape.kind}`);
  return shape.fields;
}

describe("formLayout", () => {
  it("gives each property the control its schema calls for", () => {
    const fields = new Map(layoutOf(examCreate).map((field) => [field.key, field]));
    expect(fields.get("examId")).toMatchObject({ required: false, control: { kind: "text", format: "uuid" } });
    expect(fields.get("title")).toMatchObject({ label: "Title", required: true, control: { kind: "text", multiline: false, maxLength: 200 } });
    expect(fields.get("scheduledAt")).toMatchObject({ label: "Scheduled at", control: { kind: "text", format: "date-time" } });
    expect(fields.get("questionCount")).toMatchObject({ defaultValue: 10, control: { kind: "number", integer: true, exclusiveMinimum: 0, maximum: 500 } });
    expect(fields.get("durationMinutes")).toMatchObject({ required: true, nullable: true, control: { kind: "number" } });
    expect(fields.get("mode")?.control).toEqual({ kind: "choice", options: ["written", "oral"] });
    expect(fields.get("tags")).toMatchObject({ required: false, control: { kind: "choices", options: ["midterm", "final", "retake"] } });
    expect(fields.get("notes")?.control).toMatchObject({ kind: "text", multiline: true });
    expect(fields.get("published")).toMatchObject({ defaultValue: false, control: { kind: "boolean" } });
    const grading = fields.get("grading")?.control;
    expect(grading?.kind === "object" && grading.fields.map((field) => [field.key, field.required])).toEqual([
      ["method", false],
      ["passMark", false],
    ]);
    expect(fields.get("questions")?.control).toMatchObject({ kind: "list", itemLabel: "Question", minItems: 1, maxItems: 50, item: { kind: "object" } });
  });

  it("follows $ref and keeps the referring property's own keywords", () => {
    const schema = {
      type: "object",
      properties: { examId: { $ref: "#/$defs/id", description: "The exam" } },
      required: ["examId"],
      $defs: { id: { type: "string", format: "uuid" } },
    };
    const layout = formLayout(schema);
    expect(layout).toMatchObject({ ok: true, shape: { kind: "object", fields: [{ key: "examId", description: "The exam", control: { kind: "text", format: "uuid" } }] } });
  });

  it("puts ids first: what a command acts on before what it does", () => {
    const fields = layoutOf(z.object({ title: z.string(), reason: z.string(), examId: z.uuid() }));
    expect(fields.map((field) => field.key)).toEqual(["examId", "title", "reason"]);
  });

  it("has no layout for shapes no control fits, and says which", () => {
    expect(formLayout(jsonSchema(z.object({ value: z.union([z.string(), z.number()]) })))).toEqual({ ok: false, reason: "value: a value of several types" });
    expect(formLayout(jsonSchema(z.object({ shape: z.union([z.object({ a: z.string() }), z.object({ b: z.number() })]) })))).toEqual({
      ok: false,
      reason: "shape: a choice between several shapes",
    });
    expect(formLayout(jsonSchema(z.object({ labels: z.record(z.string(), z.string()) })))).toEqual({ ok: false, reason: "a free-form object (labels)" });
    expect(formLayout(jsonSchema(z.string()))).toEqual({ ok: false, reason: "the input is not an object" });
  });
});

describe("discriminated unions", () => {
  const recordOcr = z.discriminatedUnion("outcome", [
    z.object({ sheetId: z.uuid(), outcome: z.literal("completed"), confidence: z.number().min(0).max(1), durationMs: z.number().int().default(0) }),
    z.object({ sheetId: z.uuid(), outcome: z.literal("failed"), reason: z.string().min(1), retryable: z.boolean() }),
  ]);
  const shape = shapeOf(recordOcr);
  if (shape.kind !== "variants") throw new Error("expected variants");

  it("offers the discriminator as a select of every branch, then the chosen branch's fields", () => {
    expect(shape.discriminator).toBe("outcome");
    const start = initialShapeValue(shape);
    expect(start).toEqual({ outcome: "completed", durationMs: 0 });
    expect(fieldsFor(shape, start).map((field) => field.key)).toEqual(["sheetId", "outcome", "confidence", "durationMs"]);
    expect(fieldsFor(shape, start).find((field) => field.key === "outcome")?.control).toEqual({ kind: "choice", options: ["completed", "failed"] });
    expect(fieldsFor(shape, { outcome: "failed" }).map((field) => field.key)).toEqual(["sheetId", "outcome", "reason", "retryable"]);
  });

  it("keeps the shared fields and drops the old branch's own when the discriminator changes", () => {
    const completed = { sheetId: "0190f5e2-6a4b-7c3d-8e9f-0123456789ab", outcome: "completed", confidence: 0.9, durationMs: 5 };
    const failed = switchVariant(shape, completed, "failed");
    expect(failed).toEqual({ sheetId: completed.sheetId, outcome: "failed", retryable: false });
    expect(Object.keys(failed)).toEqual(["sheetId", "outcome", "retryable"]);
  });

  it("validates against the chosen branch only", () => {
    const value = { sheetId: "0190f5e2-6a4b-7c3d-8e9f-0123456789ab", outcome: "failed", retryable: true };
    const result = validateAgainstSchema(schemaFor(shape, jsonSchema(recordOcr), value), value, "");
    expect(result).toEqual({ ok: false, issues: [{ path: "reason", message: "is required" }] });
  });

  it("has no layout when no property tells the branches apart", () => {
    expect(formLayout(jsonSchema(z.union([z.object({ a: z.string() }), z.object({ b: z.string() })])))).toEqual({ ok: false, reason: "a choice between several shapes" });
  });
});

describe("initialValue", () => {
  it("starts with defaults and required nested objects, and leaves the rest empty", () => {
    expect(initialValue(layoutOf(examCreate))).toEqual({ questionCount: 10, published: false, grading: { method: "auto" } });
  });

  it("starts a required boolean unchecked and a const at its value", () => {
    expect(initialValue(layoutOf(z.object({ confirm: z.boolean(), kind: z.literal("exam") })))).toEqual({ confirm: false, kind: "exam" });
  });
});

describe("emptyValue", () => {
  it("sends null for an emptied required nullable field and drops any other", () => {
    expect(emptyValue({ required: true, nullable: true })).toBeNull();
    expect(emptyValue({ required: false, nullable: true })).toBeUndefined();
    expect(emptyValue({ required: true, nullable: false })).toBeUndefined();
  });
});

describe("setAt", () => {
  it("copies along the path and removes a key set to undefined", () => {
    const value = { grading: { method: "auto", passMark: 50 }, questions: [{ text: "a" }] };
    const next = setAt(value, ["questions", 0, "points"], 2);
    expect(next).toEqual({ grading: { method: "auto", passMark: 50 }, questions: [{ text: "a", points: 2 }] });
    expect(value.questions[0]).toEqual({ text: "a" });
    expect(setAt(value, ["grading", "passMark"], undefined)).toEqual({ grading: { method: "auto" }, questions: [{ text: "a" }] });
  });
});

describe("placeIssues", () => {
  const fields = layoutOf(examCreate);
  const value = { title: "", questions: [{ text: "" }, { text: "b", points: 1 }] };

  it("places the server's and the browser's paths at the same control", () => {
    expect(issueKey("questions[1].points")).toBe("questions/1/points");
    expect(issueKey("/questions/1/points")).toBe("questions/1/points");
    expect(issueKey('grading["passMark"]')).toBe("grading/passMark");
    const { byKey, unplaced } = placeIssues(
      [
        { path: "title", message: "is required" },
        { path: "questions[0].text", message: "too short" },
        { path: "questions[0].text", message: "too short" },
        { path: "grading", message: "pick one" },
        { path: "extra", message: "is not allowed" },
        { path: "questions[5].text", message: "no such row" },
        { path: "", message: "whole input" },
      ],
      fields,
      value,
    );
    expect(Object.fromEntries(byKey)).toEqual({ title: ["is required"], "questions/0/text": ["too short"], grading: ["pick one"] });
    expect(unplaced.map((issue) => issue.path)).toEqual(["extra", "questions[5].text", ""]);
  });

  it("places what the browser validator finds in the form's value", () => {
    const result = validateAgainstSchema(jsonSchema(examCreate), { ...initialValue(fields), title: "Algebra", durationMinutes: null, mode: "written", questions: [{ text: "" }] }, "");
    expect(result.ok).toBe(false);
    const issues = result.ok === false ? result.issues : [];
    const { byKey, unplaced } = placeIssues(issues, fields, { questions: [{ text: "" }] });
    expect([...byKey.keys()].sort()).toEqual(["questions/0/points", "questions/0/text", "scheduledAt"]);
    expect(unplaced).toEqual([]);
  });
});

describe("constraintHint", () => {
  it("says the bounds in words", () => {
    const fields = new Map(layoutOf(examCreate).map((field) => [field.key, field.control]));
    expect(constraintHint(fields.get("questionCount")!)).toBe("Whole number, > 0, ≤ 500");
    expect(constraintHint(fields.get("title")!)).toBe("Up to 200 characters");
    expect(constraintHint(fields.get("examId")!)).toBe("UUID");
    expect(constraintHint(fields.get("questions")!)).toBe("1–50 items");
  });
});
