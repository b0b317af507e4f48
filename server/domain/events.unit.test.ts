import { describe, expect, it } from "vitest";
import { buildEnvelope } from "@/server/engine/core/envelope";
import { EventTypeRegistry } from "@/server/engine/core/registry";
import { domainSchemaVersions, registerDomainEventTypes } from "./events";

function domainRegistry(): EventTypeRegistry {
  const registry = new EventTypeRegistry();
  registerDomainEventTypes(registry);
  return registry;
}

const examId = "019c1f5e-8a00-7000-8000-000000000001";
const sheetId = "019c1f5e-8a00-7000-8000-000000000002";

describe("domain event types", () => {
  it("registers every pipeline type from code with a JSON Schema and a description", () => {
    const types = domainRegistry().list();
    expect(types.map((type) => type.type)).toEqual(Object.keys(domainSchemaVersions).sort());
    for (const type of types) {
      expect(type.origin).toBe("code");
      expect(type.description.length).toBeGreaterThan(10);
      expect(type.schema).toMatchObject({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "object" });
      expect(type.version).toBe(domainSchemaVersions[type.type as keyof typeof domainSchemaVersions]);
    }
    expect(domainSchemaVersions["exam.created"]).toBe(2);
    expect(domainSchemaVersions["grading.started"]).toBe(3);
    expect(domainSchemaVersions["sheet.submitted"]).toBe(2);
  });

  it("reads a version 1 exam.created as version 2 with an unknown duration", () => {
    const registry = domainRegistry();
    const v1 = { examId, title: "Algebra II: Midterm", subject: "Mathematics", totalScore: 100, questionCount: 20, createdBy: "teacher-okafor" };
    expect(registry.validate("exam.created", v1, 1).ok).toBe(true);
    expect(registry.validate("exam.created", v1).ok).toBe(false);

    const upcast = registry.upcast(buildEnvelope({ type: "exam.created", data: v1, schemaversion: 1 }));
    expect(upcast.schemaversion).toBe(2);
    expect(upcast.data).toEqual({ ...v1, durationMinutes: null });
    expect(registry.validate("exam.created", upcast.data).ok).toBe(true);
  });

  it("reads a version 1 grading.started with no question count or maximum score", () => {
    const registry = domainRegistry();
    const v1 = { sheetId, examId, studentId: "stu-10001", graderId: "grader-auto-1", method: "auto" };
    expect(registry.validate("grading.started", v1, 1).ok).toBe(true);
    expect(registry.validate("grading.started", v1).ok).toBe(false);

    const upcast = registry.upcast(buildEnvelope({ type: "grading.started", data: v1, schemaversion: 1 }));
    expect(upcast).toMatchObject({ schemaversion: 3, data: { ...v1, questionCount: null, maxScore: null, previousStatus: "ocr_completed" } });
    expect(registry.validate("grading.started", upcast.data).ok).toBe(true);
  });

  it("reads a version 2 grading.started as version 3, taken from ocr_completed (the only way before manual review)", () => {
    const registry = domainRegistry();
    const v2 = { sheetId, examId, studentId: "stu-10001", graderId: "grader-auto", method: "auto", questionCount: 20, maxScore: 80 };
    expect(registry.validate("grading.started", v2, 2).ok).toBe(true);
    expect(registry.validate("grading.started", v2).ok).toBe(false);
    expect(registry.upcast(buildEnvelope({ type: "grading.started", data: v2, schemaversion: 2 }))).toMatchObject({ schemaversion: 3, data: { ...v2, previousStatus: "ocr_completed" } });
  });

  it("reads a version 1 sheet.submitted as version 2 with an unknown resolution, and takes scans of 72 to 1200 dpi", () => {
    const registry = domainRegistry();
    const v1 = { sheetId, examId, studentId: "stu-10001", batchId: sheetId, pageCount: 2, questionCount: 20, maxScore: 80, examCreatedBy: "key-okafor", submittedBy: "key-okafor" };
    expect(registry.validate("sheet.submitted", v1, 1).ok).toBe(true);
    expect(registry.validate("sheet.submitted", v1).ok).toBe(false);
    const upcast = registry.upcast(buildEnvelope({ type: "sheet.submitted", data: v1, schemaversion: 1 }));
    expect(upcast).toMatchObject({ schemaversion: 2, data: { ...v1, dpi: null } });
    expect(registry.validate("sheet.submitted", upcast.data).ok).toBe(true);
    for (const dpi of [72, 100, 1200]) expect(registry.validate("sheet.submitted", { ...v1, dpi }).ok, `${dpi} dpi`).toBe(true);
    for (const dpi of [71, 1201, 150.5]) expect(registry.validate("sheet.submitted", { ...v1, dpi }).ok, `${dpi} dpi`).toBe(false);
  });

  it("enforces cross-field rules with paths callers can show", () => {
    const registry = domainRegistry();
    const graded = { sheetId, examId, studentId: "stu-10001", graderId: "grader-auto-1", score: 101, maxScore: 100, durationMs: 900 };
    expect(registry.validate("grading.completed", graded)).toEqual({ ok: false, error: [{ path: "data.score", message: "must not exceed maxScore" }] });

    const batch = { batchId: sheetId, examId, sheetCount: 4, gradedCount: 2, failedCount: 1, durationMs: 1000 };
    const result = registry.validate("batch.completed", batch);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error[0]?.path).toBe("data.sheetCount");

    const update = registry.validate("exam.updated", { examId, changes: {}, updatedBy: "teacher-okafor" });
    expect(update.ok).toBe(false);
    if (!update.ok) expect(update.error[0]?.path).toBe("data.changes");
  });
});
