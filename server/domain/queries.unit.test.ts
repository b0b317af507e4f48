import { afterEach, describe, expect, it } from "vitest";
import type { TaskRecord } from "@/server/engine/tasks/task-store";
import { domainHarness, teacher, type DomainHarness, type FakeTaskOutcome } from "./domain.fixtures";
import type { ExamRow, ExamSheetRow } from "./projections";
import type { GradingStats } from "./queries";

const okafor = teacher("key-okafor");
const haddad = teacher("key-haddad");
const tick = () => new Promise((resolve) => setTimeout(resolve, 3));

const harnesses: DomainHarness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((harness) => harness.close()));
});

/** Sheets are graded at half marks, and the OCR of stu-3's sheet fails for good (the sheet goes to manual review). */
function outcomeOf(task: TaskRecord): FakeTaskOutcome {
  const input = task.input as { sheetId: string; studentId: string; pageCount: number; maxScore: number; questionCount: number };
  if (task.type === "grading_execution") {
    return { result: { sheetId: input.sheetId, score: input.maxScore / 2, maxScore: input.maxScore, questionsGraded: input.questionCount, method: "auto", durationMs: 100 } };
  }
  if (input.studentId === "stu-3") return { dead: { message: "page 2 is blank or unreadable", reason: "non_retryable" } };
  return { result: { sheetId: input.sheetId, pageCount: input.pageCount, engine: "handwriting-v3", confidence: 0.9, answersDetected: 10, durationMs: 1000 } };
}

/**
 * Okafor's algebra exam with four sheets (one unreadable, one reviewed), Haddad's biology exam,
 * and an exam of Okafor's deleted: created in that order, a few milliseconds apart.
 */
async function examsWithSheets() {
  const harness = domainHarness({ outcome: outcomeOf });
  harnesses.push(harness);
  const examIdOf = (streamId: string) => streamId.replace(/^exam-/, "");
  const algebra = examIdOf((await harness.execute("exam.create", { title: "Algebra II: Midterm", subject: "Mathematics", totalScore: 80, questionCount: 20 }, { principal: okafor })).streamId);
  await tick();
  const biology = examIdOf((await harness.execute("exam.create", { title: "Cell Biology: Unit Test 3", subject: "Biology", totalScore: 60, questionCount: 30 }, { principal: haddad })).streamId);
  await tick();
  const withdrawn = examIdOf((await harness.execute("exam.create", { title: "Quiz 5", subject: "Chemistry", totalScore: 20, questionCount: 10 }, { principal: okafor })).streamId);
  await harness.execute("exam.delete", { examId: withdrawn, reason: "created by mistake" }, { principal: okafor });

  const sheets: string[] = [];
  for (const studentId of ["stu-1", "stu-2", "stu-3", "stu-4"]) {
    const { streamId } = await harness.execute("sheet.submit", { examId: algebra, studentId, pageCount: 2 }, { principal: okafor });
    sheets.push(streamId.replace(/^sheet-/, ""));
    await tick();
  }
  await harness.settle();
  expect(harness.failures).toEqual([]);
  await harness.execute("sheet.review", { sheetId: sheets[0], score: 60, reason: "student appeal" }, { principal: okafor });
  await harness.startProjections();
  return { harness, algebra, biology, withdrawn, sheets };
}

describe("domain queries", () => {
  it("exams.list: newest first, filtered by status, subject or creator, in pages", async () => {
    const { harness, algebra, biology, withdrawn } = await examsWithSheets();
    type Page = { items: ExamRow[]; next: string | null };
    const ids = (page: Page) => page.items.map((exam) => exam.examId);

    const all = await harness.query<Page>("exams.list", {});
    expect(ids(all.result)).toEqual([withdrawn, biology, algebra]);
    expect(all.position).toBe(await harness.store.headPosition());
    expect(all.result.items[2]).toMatchObject({ status: "open", sheetCount: 4, sheetCounts: { graded: 2, reviewed: 1, manual_review: 1, ocr_failed: 0 } });

    expect(ids((await harness.query<Page>("exams.list", { status: "open" })).result)).toEqual([biology, algebra]);
    expect(ids((await harness.query<Page>("exams.list", { status: "deleted" })).result)).toEqual([withdrawn]);
    expect(ids((await harness.query<Page>("exams.list", { subject: "Biology" })).result)).toEqual([biology]);
    expect(ids((await harness.query<Page>("exams.list", { createdBy: "key-okafor" })).result)).toEqual([withdrawn, algebra]);

    const first = await harness.query<Page>("exams.list", { limit: "2" });
    expect(ids(first.result)).toEqual([withdrawn, biology]);
    const second = await harness.query<Page>("exams.list", { limit: "2", after: first.result.next });
    expect(second.result).toEqual({ items: [expect.objectContaining({ examId: algebra })], next: null });

    await expect(harness.query("exams.list", { limit: "0", status: "archived" })).rejects.toMatchObject({ code: "validation", issues: [{ path: "status" }, { path: "limit" }] });
    await expect(harness.query("exams.list", { after: "not-a-cursor" })).rejects.toMatchObject({ code: "validation" });
  });

  it("exams.get: one exam, or not found", async () => {
    const { harness, biology } = await examsWithSheets();
    expect((await harness.query<ExamRow>("exams.get", { examId: biology })).result).toMatchObject({
      examId: biology, title: "Cell Biology: Unit Test 3", createdBy: "key-haddad", sheetCount: 0, createdAt: expect.any(Date),
    });
    expect((await harness.query<ExamRow>("exams.get", { examId: biology.toUpperCase() })).result.examId).toBe(biology);
    await expect(harness.query("exams.get", { examId: "019c1f5e-8a00-7000-8000-0000000000ff" })).rejects.toMatchObject({ code: "not_found" });
    await expect(harness.query("exams.get", { examId: "42" })).rejects.toMatchObject({ code: "validation", issues: [{ path: "examId" }] });
  });

  it("exams.sheets: an exam's sheets in submission order with their state, by status, in pages", async () => {
    const { harness, algebra, biology, sheets } = await examsWithSheets();
    type Page = { items: ExamSheetRow[]; next: string | null };
    const all = await harness.query<Page>("exams.sheets", { examId: algebra });
    expect(all.result.items.map((sheet) => [sheet.sheetId, sheet.status, sheet.score])).toEqual([
      [sheets[0], "reviewed", 60],
      [sheets[1], "graded", 40],
      [sheets[2], "manual_review", null],
      [sheets[3], "graded", 40],
    ]);
    expect(all.result.items[0]).toMatchObject({ scoreBeforeReview: 40, reviewerId: "key-okafor", graderId: "grader-auto", ocrConfidence: 0.9 });
    expect(all.result.items[2]).toMatchObject({ manualReviewReason: expect.stringContaining("automatic grading gave up"), ocrError: null });

    const graded = await harness.query<Page>("exams.sheets", { examId: algebra, status: "graded", limit: "1" });
    expect(graded.result.items.map((sheet) => sheet.sheetId)).toEqual([sheets[1]]);
    const rest = await harness.query<Page>("exams.sheets", { examId: algebra, status: "graded", limit: "1", after: graded.result.next });
    expect(rest.result.items.map((sheet) => sheet.sheetId)).toEqual([sheets[3]]);
    expect((await harness.query<Page>("exams.sheets", { examId: biology })).result).toEqual({ items: [], next: null });
  });

  it("exams.grading_stats: the score distribution with its bands, or not found for a missing or deleted exam", async () => {
    const { harness, algebra, withdrawn } = await examsWithSheets();
    const stats = (await harness.query<GradingStats>("exams.grading_stats", { examId: algebra })).result;
    expect(stats).toEqual({
      examId: algebra, gradedCount: 3, meanPercent: 58.33, minPercent: 50, maxPercent: 75,
      histogram: Array.from({ length: 10 }, (_, band) => ({ fromPercent: band * 10, toPercent: band * 10 + 10, count: band === 5 ? 2 : band === 7 ? 1 : 0 })),
      reviewedCount: 1, meanReviewAdjustment: 25, ocrFailedCount: 0, gradingFailedCount: 0, manualReviewCount: 1, meanGradingMs: 100, updatedAt: expect.any(Date),
    } satisfies GradingStats);
    await expect(harness.query("exams.grading_stats", { examId: withdrawn })).rejects.toMatchObject({ code: "not_found" });
  });

  it("sheets.get: one sheet, or not found", async () => {
    const { harness, algebra, sheets } = await examsWithSheets();
    expect((await harness.query<ExamSheetRow>("sheets.get", { sheetId: sheets[1] })).result).toMatchObject({
      sheetId: sheets[1], examId: algebra, studentId: "stu-2", status: "graded", gradingMethod: "auto",
    });
    await expect(harness.query("sheets.get", { sheetId: "019c1f5e-8a00-7000-8000-0000000000ff" })).rejects.toMatchObject({ code: "not_found" });
  });

  it("are listed with the projection they read, under queries:read", async () => {
    const { harness } = await examsWithSheets();
    expect(harness.queries.list().map(({ name, projection, scope }) => [name, projection, scope])).toEqual([
      ["exams.list", "exams", "queries:read"],
      ["exams.get", "exams", "queries:read"],
      ["exams.sheets", "exam_sheets", "queries:read"],
      ["exams.grading_stats", "grading_stats", "queries:read"],
      ["sheets.get", "exam_sheets", "queries:read"],
    ]);
    expect(harness.projectionErrors).toEqual([]);
  });
});
