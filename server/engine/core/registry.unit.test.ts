import { describe, expect, it } from "vitest";
import { z } from "zod";
import { FakeClock } from "./clock";
import { buildEnvelope } from "./envelope";
import { EngineError, ValidationError } from "./errors";
import { EventTypeRegistry, InMemoryEventTypeRepository, type RuntimeEventTypeRecord } from "./registry";

const examCreatedV1 = z.object({
  examId: z.string().min(1),
  title: z.string().min(1),
  items: z.array(z.object({ question: z.number().int(), score: z.number().min(0) })).optional(),
});
const examCreatedV2 = examCreatedV1.extend({ durationMinutes: z.number().int().positive().nullable() });
const examCreatedV3 = examCreatedV2.omit({ title: true }).extend({ name: z.string().min(1) });

function registryWithExam(): EventTypeRegistry {
  const registry = new EventTypeRegistry();
  registry.define({ type: "exam.created", version: 1, description: "An exam was created", schema: examCreatedV1 });
  return registry;
}

const scoreSchema = {
  type: "object",
  properties: {
    studentId: { type: "string", minLength: 1 },
    items: { type: "array", items: { type: "object", properties: { score: { type: "number", minimum: 0 } }, required: ["score"] } },
    email: { type: "string", format: "email" },
  },
  required: ["studentId"],
  additionalProperties: false,
};

function issuesOf(run: () => unknown): { error: unknown } {
  try {
    run();
  } catch (error) {
    return { error };
  }
  throw new Error("expected a throw");
}

describe("EventTypeRegistry: code-defined types", () => {
  it("validates data with the zod schema and returns the parsed value", () => {
    const registry = registryWithExam();
    const result = registry.validate("exam.created", { examId: "e1", title: "Algebra", extra: true });
    expect(result).toEqual({ ok: true, value: { examId: "e1", title: "Algebra" } });
  });

  it("maps zod issues to dotted and bracketed paths under data", () => {
    const registry = registryWithExam();
    const result = registry.validate("exam.created", { title: "", items: [{ question: 1, score: 1 }, { question: 2, score: 2 }, { question: 3, score: -1 }] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.map((issue) => issue.path).sort()).toEqual(["data.examId", "data.items[2].score", "data.title"]);
  });

  it("reports unknown keys of strict objects one by one, and odd keys in brackets", () => {
    const registry = new EventTypeRegistry();
    registry.define({ type: "shop.order_placed", version: 1, description: "d", schema: z.strictObject({ "line-items": z.strictObject({ sku: z.string() }) }) });
    const result = registry.validate("shop.order_placed", { "line-items": { sku: "a", qty: 1 }, note: "x" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.map((issue) => issue.path).sort()).toEqual(["data.note", 'data["line-items"].qty']);
  });

  it("answers an unknown type with one issue on `type` and an unknown version on `schemaversion`", () => {
    const registry = registryWithExam();
    expect(registry.validate("exam.nope", {})).toEqual({ ok: false, error: [{ path: "type", message: expect.stringContaining("exam.nope") }] });
    const result = registry.validate("exam.created", {}, 7);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toEqual([{ path: "schemaversion", message: expect.stringContaining("known versions: 1") }]);
  });

  it("validates against a named older version, and the latest by default", () => {
    const registry = registryWithExam();
    registry.define({
      type: "exam.created", version: 2, description: "adds duration", schema: examCreatedV2,
      upcasters: [{ fromVersion: 1, upcast: (data) => ({ ...(data as object), durationMinutes: null }) }],
    });
    const v1Data = { examId: "e1", title: "Algebra" };
    expect(registry.validate("exam.created", v1Data, 1).ok).toBe(true);
    expect(registry.validate("exam.created", v1Data).ok).toBe(false);
    expect(registry.validate("exam.created", { ...v1Data, durationMinutes: 90 }).ok).toBe(true);
  });

  it("chains upcasters so an old event reads as the latest version", () => {
    const registry = registryWithExam();
    registry.define({
      type: "exam.created", version: 2, description: "adds duration", schema: examCreatedV2,
      upcasters: [{ fromVersion: 1, upcast: (data) => ({ ...(data as object), durationMinutes: null }) }],
    });
    registry.define({
      type: "exam.created", version: 3, description: "title renamed to name", schema: examCreatedV3,
      upcasters: [{
        fromVersion: 2,
        upcast: (data) => {
          const { title, ...rest } = data as { title: string };
          return { ...rest, name: title };
        },
      }],
    });
    const stored = buildEnvelope({ type: "exam.created", data: { examId: "e1", title: "Algebra" }, schemaversion: 1 });
    const upcast = registry.upcast(stored);
    expect(upcast.schemaversion).toBe(3);
    expect(upcast.data).toEqual({ examId: "e1", name: "Algebra", durationMinutes: null });
    expect(upcast.id).toBe(stored.id);
    expect(registry.validate("exam.created", upcast.data).ok).toBe(true);
    // The stored event is left as it was.
    expect(stored.schemaversion).toBe(1);

    const fromV2 = registry.upcast({ ...stored, data: { examId: "e1", title: "T", durationMinutes: 30 }, schemaversion: 2 });
    expect(fromV2).toMatchObject({ schemaversion: 3, data: { examId: "e1", name: "T", durationMinutes: 30 } });

    const latest = { ...stored, schemaversion: 3 };
    expect(registry.upcast(latest)).toBe(latest);
  });

  it("names the event when an upcaster throws", () => {
    const registry = registryWithExam();
    registry.define({
      type: "exam.created", version: 2, description: "d", schema: examCreatedV2,
      upcasters: [{ fromVersion: 1, upcast: () => { throw new Error("boom"); } }],
    });
    const event = buildEnvelope({ type: "exam.created", data: {}, schemaversion: 1 });
    expect(() => registry.upcast(event)).toThrow(/exam.created .* from v1 to v2/);
  });

  it("refuses a new version without an upcaster from the previous one, gaps, and stray upcasters", () => {
    const registry = registryWithExam();
    expect(() => registry.define({ type: "exam.created", version: 2, description: "d", schema: examCreatedV2 })).toThrow(/needs an upcaster from version 1/);
    expect(() => registry.define({ type: "exam.created", version: 3, description: "d", schema: examCreatedV2, upcasters: [{ fromVersion: 1, upcast: (d) => d }] })).toThrow(/ascending order/);
    expect(() => registry.define({ type: "exam.created", version: 1, description: "d", schema: examCreatedV1 })).toThrow(ValidationError);
    expect(() => registry.define({ type: "exam.updated", version: 1, description: "d", schema: examCreatedV1, upcasters: [{ fromVersion: 0, upcast: (d) => d }] })).toThrow(/not a defined earlier version/);
    // The refused definitions left nothing behind.
    expect(registry.get("exam.created")?.versions).toEqual([1]);
    expect(registry.get("exam.updated")).toBeUndefined();
  });

  it("refuses bad type names", () => {
    const registry = new EventTypeRegistry();
    for (const type of ["exam", "Exam.created", "exam.", "exam..created", "exam.created-now", "1exam.created"]) {
      const { error } = issuesOf(() => registry.define({ type, version: 1, description: "d", schema: examCreatedV1 }));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues[0]?.path).toBe("type");
    }
    expect(() => registry.define({ type: "exam.sheet.graded_v2", version: 1, description: "d", schema: examCreatedV1 })).not.toThrow();
  });

  it("exports a draft 2020-12 JSON Schema for every code type and refuses schemas that cannot be exported", () => {
    const registry = registryWithExam();
    const descriptor = registry.get("exam.created");
    expect(descriptor).toMatchObject({ type: "exam.created", version: 1, versions: [1], origin: "code", description: "An exam was created" });
    expect(descriptor?.schema).toMatchObject({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      required: ["examId", "title"],
    });
    expect(Object.isFrozen(descriptor?.schema)).toBe(true);
    expect(() => registry.define({ type: "exam.dated", version: 1, description: "d", schema: z.object({ at: z.date() }) })).toThrow(/cannot be exported/);
  });

  it("lists types sorted by name with their latest version", () => {
    const registry = registryWithExam();
    registry.define({ type: "batch.started", version: 1, description: "b", schema: z.object({ batchId: z.string() }) });
    registry.registerJsonSchema({ type: "audit.logged", schema: { type: "object" } });
    expect(registry.list().map((type) => [type.type, type.origin, type.version])).toEqual([
      ["audit.logged", "runtime", 1],
      ["batch.started", "code", 1],
      ["exam.created", "code", 1],
    ]);
  });
});

describe("EventTypeRegistry: runtime JSON Schema types", () => {
  it("validates with Ajv and maps errors to data paths", () => {
    const registry = new EventTypeRegistry();
    registry.registerJsonSchema({ type: "school.score_recorded", description: "A score", schema: scoreSchema });
    expect(registry.validate("school.score_recorded", { studentId: "s1", items: [{ score: 3 }] })).toEqual({
      ok: true,
      value: { studentId: "s1", items: [{ score: 3 }] },
    });
    const result = registry.validate("school.score_recorded", {
      items: [{ score: 1 }, { score: 2 }, { score: -4 }, {}],
      email: "not-an-email",
      extra: 1,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toEqual(expect.arrayContaining([
      { path: "data.studentId", message: "is required" },
      { path: "data.extra", message: "is not allowed" },
      { path: "data.items[2].score", message: "must be >= 0" },
      { path: "data.items[3].score", message: "is required" },
      { path: "data.email", message: 'must match format "email"' },
    ]));
    expect(result.error).toHaveLength(5);
  });

  it("uses brackets for numeric keys of objects only when the value is an array", () => {
    const registry = new EventTypeRegistry();
    registry.registerJsonSchema({
      type: "school.grid_saved",
      schema: { type: "object", properties: { rows: { type: "object", additionalProperties: { type: "array", items: { type: "integer" } } } } },
    });
    const result = registry.validate("school.grid_saved", { rows: { "7": [1, 2.5], "a b": ["x"] } });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.map((issue) => issue.path).sort()).toEqual(['data.rows["7"][1]', 'data.rows["a b"][0]']);
  });

  it("returns the record to persist and registers a type only once per version", () => {
    const clock = new FakeClock(Date.parse("2026-03-01T10:00:00.000Z"));
    const registry = new EventTypeRegistry({ clock });
    const record = registry.registerJsonSchema({ type: "school.score_recorded", description: "A score", schema: scoreSchema });
    expect(record).toEqual({ type: "school.score_recorded", version: 1, description: "A score", schema: scoreSchema, registeredAt: "2026-03-01T10:00:00.000Z" });

    clock.advance(60_000);
    const reordered = { required: ["studentId"], additionalProperties: false, properties: scoreSchema.properties, type: "object" };
    expect(registry.registerJsonSchema({ type: "school.score_recorded", schema: reordered })).toEqual(record);
  });

  it("rejects the same version with another schema and explains that a new version is needed", () => {
    const registry = new EventTypeRegistry();
    registry.registerJsonSchema({ type: "school.score_recorded", schema: scoreSchema });
    const changed = { ...scoreSchema, required: ["studentId", "items"] };
    const { error } = issuesOf(() => registry.registerJsonSchema({ type: "school.score_recorded", version: 1, schema: changed }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toMatch(/register the change as version 2/);
    expect(() => registry.registerJsonSchema({ type: "school.score_recorded", schema: changed })).toThrow(/version 2/);

    const v2 = registry.registerJsonSchema({ type: "school.score_recorded", version: 2, schema: changed });
    expect(v2.version).toBe(2);
    expect(registry.get("school.score_recorded")).toMatchObject({ version: 2, versions: [1, 2], origin: "runtime", schema: changed });
    expect(registry.validate("school.score_recorded", { studentId: "s" }).ok).toBe(false);
    expect(registry.validate("school.score_recorded", { studentId: "s" }, 1).ok).toBe(true);
    expect(() => registry.registerJsonSchema({ type: "school.score_recorded", version: 1, schema: { type: "object" } })).toThrow(/different schema/);
  });

  it("rejects a lower version that was never registered", () => {
    const registry = new EventTypeRegistry();
    registry.registerJsonSchema({ type: "school.score_recorded", version: 3, schema: scoreSchema });
    expect(() => registry.registerJsonSchema({ type: "school.score_recorded", version: 2, schema: { type: "object" } })).toThrow(/versions only increase/);
  });

  it("rejects invalid JSON Schemas with issues under `schema`", () => {
    const registry = new EventTypeRegistry();
    const cases: unknown[] = [
      "not an object",
      [],
      { type: "object", properties: { score: { type: "numbr" } } },
      { type: "object", requried: ["a"] },
      { type: "string", format: "no-such-format" },
      { $ref: "#/$defs/missing" },
      { $schema: "http://json-schema.org/draft-07/schema#", type: "object" },
    ];
    for (const schema of cases) {
      const { error } = issuesOf(() => registry.registerJsonSchema({ type: "school.broken", schema }));
      expect(error, JSON.stringify(schema)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.length).toBeGreaterThan(0);
      for (const issue of (error as ValidationError).issues) expect(issue.path.startsWith("schema")).toBe(true);
    }
    const { error } = issuesOf(() => registry.registerJsonSchema({ type: "school.broken", schema: cases[2] }));
    expect((error as ValidationError).issues[0]?.path).toBe("schema.properties.score.type");
    expect(registry.get("school.broken")).toBeUndefined();
  });

  it("compiles each version independently even when versions share a $id", () => {
    const registry = new EventTypeRegistry();
    const id = "https://schemas.example.com/score";
    registry.registerJsonSchema({ type: "school.score_recorded", schema: { $id: id, type: "object", properties: { score: { type: "string" } } } });
    registry.registerJsonSchema({ type: "school.score_recorded", version: 2, schema: { $id: id, type: "object", properties: { score: { type: "number" } } } });
    expect(registry.validate("school.score_recorded", { score: 1 }).ok).toBe(true);
    expect(registry.validate("school.score_recorded", { score: 1 }, 1).ok).toBe(false);
  });

  it("keeps its own copy of the schema", () => {
    const registry = new EventTypeRegistry();
    const schema = { type: "object", properties: { n: { type: "number" } } };
    registry.registerJsonSchema({ type: "school.counted", schema });
    schema.properties.n.type = "string";
    expect(registry.validate("school.counted", { n: 1 }).ok).toBe(true);
    expect(registry.schemaOf("school.counted")).toEqual({ type: "object", properties: { n: { type: "number" } } });
  });

  it("refuses to redefine a code type at run time and vice versa", () => {
    const registry = registryWithExam();
    const { error } = issuesOf(() => registry.registerJsonSchema({ type: "exam.created", version: 1, schema: { type: "object" } }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([{ path: "type", message: "defined in code" }]);
    expect(() => registry.registerJsonSchema({ type: "exam.created", version: 2, schema: { type: "object" } })).toThrow(/defined in code/);

    registry.registerJsonSchema({ type: "school.counted", schema: { type: "object" } });
    expect(() => registry.define({ type: "school.counted", version: 1, description: "d", schema: z.object({}) })).toThrow(EngineError);
  });

  it("leaves events of runtime types at their own version when upcasting", () => {
    const registry = new EventTypeRegistry();
    registry.registerJsonSchema({ type: "school.counted", schema: { type: "object" } });
    registry.registerJsonSchema({ type: "school.counted", version: 2, schema: { type: "object", required: ["n"] } });
    const event = buildEnvelope({ type: "school.counted", data: {}, schemaversion: 1 });
    expect(registry.upcast(event)).toBe(event);
  });
});

describe("EventTypeRegistry: persistence through EventTypeRepository", () => {
  it("round-trips runtime types through the repository into a fresh registry", async () => {
    const repository = new InMemoryEventTypeRepository();
    const first = new EventTypeRegistry();
    await repository.save(first.registerJsonSchema({ type: "school.score_recorded", description: "v1", schema: scoreSchema }));
    await repository.save(first.registerJsonSchema({ type: "school.score_recorded", version: 2, schema: { type: "object" } }));
    await repository.save(first.registerJsonSchema({ type: "audit.logged", schema: { type: "object" } }));

    const second = new EventTypeRegistry();
    expect(await second.loadRuntimeTypes(repository)).toEqual({ loaded: 3, skipped: [] });
    expect(second.get("school.score_recorded")).toMatchObject({ version: 2, versions: [1, 2], origin: "runtime" });
    expect(second.validate("school.score_recorded", {}, 1).ok).toBe(false);
    // Loading again is harmless.
    expect(await second.loadRuntimeTypes(repository)).toEqual({ loaded: 3, skipped: [] });
  });

  it("keeps the stored registration time and skips records that clash with code types", async () => {
    const records: RuntimeEventTypeRecord[] = [
      { type: "exam.created", version: 1, schema: { type: "object" }, registeredAt: "2025-01-01T00:00:00.000Z" },
      { type: "school.counted", version: 1, schema: { type: "object" }, registeredAt: "2025-02-01T00:00:00.000Z" },
      { type: "school.broken", version: 1, schema: { type: "nope" }, registeredAt: "2025-02-01T00:00:00.000Z" },
    ];
    const registry = registryWithExam();
    const report = await registry.loadRuntimeTypes({ loadAll: async () => records, save: async () => undefined });
    expect(report.loaded).toBe(1);
    expect(report.skipped.map((skip) => skip.type)).toEqual(["exam.created", "school.broken"]);
    expect(registry.registerJsonSchema({ type: "school.counted", schema: { type: "object" } }).registeredAt).toBe("2025-02-01T00:00:00.000Z");
  });

  it("in-memory repository ignores an identical save and rejects a conflicting one", async () => {
    const repository = new InMemoryEventTypeRepository();
    const record: RuntimeEventTypeRecord = { type: "school.counted", version: 1, schema: { type: "object" }, registeredAt: "2025-01-01T00:00:00.000Z" };
    await repository.save(record);
    await repository.save({ ...record, registeredAt: "2025-06-01T00:00:00.000Z" });
    await expect(repository.save({ ...record, schema: { type: "array" } })).rejects.toMatchObject({ code: "conflict" });
    expect(await repository.loadAll()).toEqual([record]);
  });
});
