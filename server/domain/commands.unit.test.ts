import { describe, expect, it } from "vitest";
import { systemPrincipal } from "@/server/engine/core/principal";
import { domainCommands } from "./commands";
import { adminKey, analyst, domainHarness, operator, reader, teacher } from "./domain.fixtures";

const okafor = teacher("key-okafor");
const haddad = teacher("key-haddad");
const pipeline = systemPrincipal("reactions");
const algebra = { title: "Algebra II: Midterm", subject: "Mathematics", totalScore: 80, questionCount: 20 };

/** A harness with one exam of Okafor's; `submit` hands in a sheet of it. */
async function withExam() {
  const harness = domainHarness();
  const created = await harness.execute("exam.create", algebra, { principal: okafor });
  const examId = created.streamId.replace(/^exam-/, "");
  const submit = (principal = okafor) => harness.execute("sheet.submit", { examId, studentId: "stu-10001", pageCount: 2 }, { principal });
  return { harness, examId, created, submit };
}

describe("domain commands", () => {
  it("are listed with a JSON Schema each, all under commands:execute", () => {
    const { commands } = domainHarness();
    expect(commands.list().map((command) => command.name)).toEqual([
      "exam.create", "exam.update", "exam.delete", "exam.publish_results",
      "sheet.submit", "sheet.start_ocr", "sheet.record_ocr", "sheet.start_grading", "sheet.record_grade", "sheet.review",
      "sheet.release_grader", "sheet.flag_for_review", "sheet.flag_overdue",
    ]);
    for (const descriptor of commands.list()) {
      expect(descriptor.scope).toBe("commands:execute");
      expect(descriptor.description.length).toBeGreaterThan(20);
      expect(descriptor.schema).toMatchObject({ $schema: "https://json-schema.org/draft/2020-12/schema" });
    }
    expect(domainCommands.filter((command) => command.retryOnConflict === undefined).map((command) => command.name)).toEqual(["sheet.review"]);
  });

  it("create an exam owned by the caller, under the id the client chose or a new one", async () => {
    const harness = domainHarness();
    const examId = "019c1f5e-8a00-7000-8000-000000000001";
    const chosen = await harness.execute("exam.create", { ...algebra, examId, durationMinutes: 90 }, { principal: okafor });
    expect(chosen).toMatchObject({ command: "exam.create", streamId: `exam-${examId}`, version: 1, replayed: false });
    const generated = await harness.execute("exam.create", algebra, { principal: haddad });
    expect(generated.streamId).toMatch(/^exam-[0-9a-f-]{36}$/);

    const [first, second] = await harness.log();
    expect(first).toMatchObject({ type: "exam.created", priority: "normal", data: { ...algebra, examId, durationMinutes: 90, createdBy: "key-okafor" } });
    expect(second?.data).toMatchObject({ durationMinutes: null, createdBy: "key-haddad" });
    await expect(harness.execute("exam.create", { ...algebra, examId }, { principal: okafor })).rejects.toMatchObject({ rule: "exam_already_exists" });
    // Ids are read in lower case: the upper-case spelling names the same exam.
    await expect(harness.execute("exam.create", { ...algebra, examId: examId.toUpperCase() }, { principal: okafor })).rejects.toMatchObject({ rule: "exam_already_exists" });
    const sheet = await harness.execute("sheet.submit", { examId: examId.toUpperCase(), studentId: "stu-1", pageCount: 1, sheetId: "019C1F5E-8A00-7000-8000-0000000000AA" }, { principal: okafor });
    expect(sheet.streamId).toBe("sheet-019c1f5e-8a00-7000-8000-0000000000aa");
    expect((await harness.log()).at(-1)?.data).toMatchObject({ examId, sheetId: "019c1f5e-8a00-7000-8000-0000000000aa" });
  });

  it("report every invalid field of the input", async () => {
    const harness = domainHarness();
    await expect(harness.execute("exam.create", { title: "", subject: "Mathematics", totalScore: 20_000, questionCount: 0 }, { principal: okafor })).rejects.toMatchObject({
      code: "validation",
      issues: [
        { path: "title", message: expect.any(String) },
        { path: "totalScore", message: expect.any(String) },
        { path: "questionCount", message: expect.any(String) },
      ],
    });
    await expect(harness.execute("exam.update", { examId: "019c1f5e-8a00-7000-8000-000000000001" }, { principal: okafor })).rejects.toMatchObject({
      code: "validation",
      issues: [{ message: "at least one of title, subject, totalScore, questionCount, durationMinutes must be given" }],
    });
    await expect(harness.execute("sheet.record_ocr", { sheetId: "019c1f5e-8a00-7000-8000-000000000002", outcome: "completed" }, { principal: pipeline })).rejects.toMatchObject({
      code: "validation",
      issues: [{ path: "confidence" }, { path: "answersDetected" }, { path: "durationMs" }],
    });
    expect(await harness.log()).toEqual([]);
  });

  it("refuse callers without commands:execute: analysts may not grade, readers may not write", async () => {
    const { harness, submit } = await withExam();
    const { streamId } = await submit();
    const sheetId = streamId.replace(/^sheet-/, "");
    for (const principal of [analyst, reader]) {
      await expect(harness.execute("sheet.start_grading", { sheetId }, { principal })).rejects.toMatchObject({ code: "forbidden" });
      await expect(harness.execute("exam.create", algebra, { principal })).rejects.toMatchObject({ code: "forbidden" });
    }
  });

  it("let a teacher key touch only its own exams and their sheets; admins, operators and Eventloom any", async () => {
    const { harness, examId, submit } = await withExam();
    const { streamId } = await submit();
    const sheetId = streamId.replace(/^sheet-/, "");
    const before = (await harness.log()).length;

    const foreign = [
      ["exam.update", { examId, title: "Renamed" }],
      ["exam.delete", { examId, reason: "not mine" }],
      ["exam.publish_results", { examId }],
      ["sheet.submit", { examId, studentId: "stu-10002", pageCount: 1 }],
      ["sheet.start_ocr", { sheetId }],
      ["sheet.review", { sheetId, score: 10, reason: "appeal" }],
    ] as const;
    for (const [name, input] of foreign) {
      await expect(harness.execute(name, input, { principal: haddad }), name).rejects.toMatchObject({ code: "forbidden", message: "This API key may only act on exams it created" });
    }
    expect(await harness.log()).toHaveLength(before);

    await harness.execute("exam.update", { examId, title: "Algebra II: Final" }, { principal: okafor });
    await harness.execute("exam.update", { examId, durationMinutes: 60 }, { principal: adminKey });
    await harness.execute("exam.update", { examId, durationMinutes: 75 }, { principal: operator });
    await harness.execute("sheet.start_ocr", { sheetId }, { principal: pipeline });
    expect((await harness.log()).slice(before).map((event) => [event.type, event.data])).toEqual([
      ["exam.updated", { examId, changes: { title: "Algebra II: Final" }, updatedBy: "key-okafor" }],
      ["exam.updated", { examId, changes: { durationMinutes: 60 }, updatedBy: "key-admin" }],
      ["exam.updated", { examId, changes: { durationMinutes: 75 }, updatedBy: "user-olu" }],
      ["ocr.started", expect.objectContaining({ sheetId, engine: "handwriting-v3" })],
    ]);
  });

  it("submit a sheet only to an open exam, with the exam's scoring, at high priority", async () => {
    const { harness, examId, submit } = await withExam();
    const result = await submit();
    const [, submitted] = await harness.log();
    expect(submitted).toMatchObject({
      type: "sheet.submitted",
      priority: "high",
      streamid: result.streamId,
      data: { examId, studentId: "stu-10001", pageCount: 2, dpi: 300, questionCount: 20, maxScore: 80, examCreatedBy: "key-okafor", submittedBy: "key-okafor" },
    });
    await harness.execute("sheet.submit", { examId, studentId: "stu-10002", pageCount: 1, dpi: 72 }, { principal: okafor });
    expect((await harness.log()).at(-1)?.data).toMatchObject({ studentId: "stu-10002", dpi: 72 });
    for (const dpi of [71, 1201, 299.5]) {
      await expect(harness.execute("sheet.submit", { examId, studentId: "stu-1", pageCount: 1, dpi }, { principal: okafor }), `${dpi} dpi`).rejects.toMatchObject({
        code: "validation",
        issues: [{ path: "dpi" }],
      });
    }

    await expect(harness.execute("sheet.submit", { examId: "019c1f5e-8a00-7000-8000-0000000000ff", studentId: "stu-1", pageCount: 1 }, { principal: okafor }))
      .rejects.toMatchObject({ rule: "exam_not_found" });
    await harness.execute("exam.publish_results", { examId }, { principal: okafor });
    await expect(submit()).rejects.toMatchObject({ rule: "exam_results_published" });

    const other = await harness.execute("exam.create", algebra, { principal: okafor });
    const otherId = other.streamId.replace(/^exam-/, "");
    await harness.execute("exam.delete", { examId: otherId, reason: "created by mistake" }, { principal: okafor });
    await expect(harness.execute("sheet.submit", { examId: otherId, studentId: "stu-1", pageCount: 1 }, { principal: okafor })).rejects.toMatchObject({ rule: "exam_deleted" });
  });

  it("reject grading a sheet whose OCR failed, by the rule ocr_failed, appending nothing", async () => {
    const { harness, submit } = await withExam();
    const sheetId = (await submit()).streamId.replace(/^sheet-/, "");
    await harness.execute("sheet.start_ocr", { sheetId }, { principal: pipeline });
    await harness.execute("sheet.record_ocr", { sheetId, outcome: "failed", reason: "page 2 is blank", retryable: false, durationMs: 900 }, { principal: pipeline });
    const before = await harness.log();
    await expect(harness.execute("sheet.start_grading", { sheetId }, { principal: okafor })).rejects.toMatchObject({
      name: "RuleViolationError",
      code: "validation",
      rule: "ocr_failed",
    });
    expect(await harness.log()).toEqual(before);
  });

  it("answer a repeated step with the unchanged version and no events", async () => {
    const { harness, submit } = await withExam();
    const sheetId = (await submit()).streamId.replace(/^sheet-/, "");
    const started = await harness.execute("sheet.start_ocr", { sheetId }, { principal: pipeline });
    const again = await harness.execute("sheet.start_ocr", { sheetId }, { principal: pipeline });
    expect(started).toMatchObject({ version: 2, events: [{ type: "ocr.started" }] });
    expect(again).toMatchObject({ version: 2, events: [] });
  });

  it("set a sheet aside for manual review, which a person grades, and give a grading up with the caller as grader", async () => {
    const { harness, submit } = await withExam();
    const sheetId = (await submit()).streamId.replace(/^sheet-/, "");
    await harness.execute("sheet.start_ocr", { sheetId }, { principal: pipeline });
    await harness.execute("sheet.flag_overdue", { sheetId, overdueAfterMs: 600_000 }, { principal: pipeline });
    await harness.execute("sheet.flag_for_review", { sheetId, reason: "scan at 100 dpi" }, { principal: pipeline });
    await expect(harness.execute("sheet.start_grading", { sheetId, graderId: "grader-auto", method: "auto" }, { principal: pipeline })).rejects.toMatchObject({
      rule: "sheet_in_manual_review",
    });
    await harness.execute("sheet.start_grading", { sheetId }, { principal: okafor });
    await expect(harness.execute("sheet.release_grader", { sheetId, reason: "not mine" }, { principal: operator })).rejects.toMatchObject({ rule: "grader_not_assigned" });
    await expect(harness.execute("sheet.release_grader", { sheetId, reason: "on leave" }, { principal: haddad })).rejects.toMatchObject({ code: "forbidden" });
    await harness.execute("sheet.release_grader", { sheetId, reason: "on leave" }, { principal: okafor });
    const events = (await harness.log()).slice(-5).map((event) => [event.type, event.data]);
    expect(events).toEqual([
      ["ocr.started", expect.anything()],
      ["grading.overdue", expect.objectContaining({ sheetId, overdueAfterMs: 600_000 })],
      ["sheet.flagged_for_review", expect.objectContaining({ sheetId, reason: "scan at 100 dpi", previousStatus: "ocr_running" })],
      ["grading.started", expect.objectContaining({ graderId: "key-okafor", method: "manual", previousStatus: "manual_review" })],
      ["grading.released", expect.objectContaining({ graderId: "key-okafor", reason: "on leave", returnedTo: "manual_review" })],
    ]);
  });

  it("let a teacher grade by hand and review the grade, with the caller as grader and reviewer", async () => {
    const { harness, submit } = await withExam();
    const sheetId = (await submit()).streamId.replace(/^sheet-/, "");
    await harness.execute("sheet.start_ocr", { sheetId }, { principal: pipeline });
    await harness.execute("sheet.record_ocr", { sheetId, outcome: "completed", confidence: 0.88, answersDetected: 20, durationMs: 3000 }, { principal: pipeline });
    await harness.execute("sheet.start_grading", { sheetId }, { principal: okafor });
    await expect(harness.execute("sheet.record_grade", { sheetId, outcome: "completed", score: 81, durationMs: 60_000 }, { principal: okafor })).rejects.toMatchObject({
      rule: "score_exceeds_max_score",
    });
    await harness.execute("sheet.record_grade", { sheetId, outcome: "completed", score: 64, durationMs: 60_000 }, { principal: okafor });
    const reviewed = await harness.execute("sheet.review", { sheetId, score: 68, reason: "partial credit on question 4" }, { principal: okafor });
    expect(reviewed.version).toBe(6);
    const events = (await harness.log()).slice(-4).map((event) => [event.type, event.data]);
    expect(events).toEqual([
      ["ocr.completed", expect.anything()],
      ["grading.started", expect.objectContaining({ graderId: "key-okafor", method: "manual", questionCount: 20, maxScore: 80 })],
      ["grading.completed", expect.objectContaining({ graderId: "key-okafor", score: 64, maxScore: 80 })],
      ["grading.reviewed", expect.objectContaining({ reviewerId: "key-okafor", previousScore: 64, score: 68, reason: "partial credit on question 4" })],
    ]);
  });
});
