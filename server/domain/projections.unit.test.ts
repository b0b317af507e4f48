import { describe, expect, it } from "vitest";
import { buildEnvelope, type StoredEvent } from "@/server/engine/core/envelope";
import type { ProjectionDefinition, ReadModelRow } from "@/server/engine/cqrs/read-model";
import { sheetStreamId, type SheetEvent } from "./answer-sheet";
import { examStreamId, type ExamEvent } from "./exam";
import {
  domainProjections,
  examSheetsProjection,
  examsProjection,
  gradingStatsProjection,
  type ExamRow,
  type ExamSheetRow,
  type GradingStatsRow,
} from "./projections";

const examId = "019c1f5e-8a00-7000-8000-000000000001";
const batchId = "019c1f5e-8a00-7000-8000-00000000000b";
const sheetIds = ["019c1f5e-8a00-7000-8000-0000000000a1", "019c1f5e-8a00-7000-8000-0000000000a2", "019c1f5e-8a00-7000-8000-0000000000a3", "019c1f5e-8a00-7000-8000-0000000000a4"];
const [s1, s2, s3, s4] = sheetIds as [string, string, string, string];
const T0 = Date.parse("2026-03-02T08:00:00.000Z");

/** Events as the store hands them to projections: in the aggregate's stream unless `streamid` says otherwise. */
function logOf(events: Array<ExamEvent | SheetEvent | { event: ExamEvent | SheetEvent; streamid: string }>): StoredEvent[] {
  return events.map((entry, index) => {
    const { event, streamid } = "event" in entry ? entry : { event: entry, streamid: undefined };
    const stream = streamid ?? ("sheetId" in event.data ? sheetStreamId(event.data.sheetId) : examStreamId(event.data.examId));
    const envelope = buildEnvelope({ type: event.type, data: event.data, time: new Date(T0 + index * 60_000).toISOString() });
    return { ...envelope, position: index + 1, streamid: stream, streamversion: 1 };
  });
}

const timeOf = (index: number) => new Date(T0 + index * 60_000);

/** Deep-freezes a row, so a reducer that mutates instead of copying throws. */
function frozen<T>(value: T): T {
  if (value && typeof value === "object" && !(value instanceof Date)) {
    for (const nested of Object.values(value)) frozen(nested);
    Object.freeze(value);
  }
  return value;
}

/** Folds the log through every table projection of `projection`, the way the runner does, rows frozen between events. */
function fold(projection: ProjectionDefinition, log: StoredEvent[]): Map<string, ReadModelRow> {
  const rows = new Map<string, ReadModelRow>();
  for (const { keysOf, evolve } of projection.tables) {
    for (const event of log) {
      for (const key of keysOf(event)) {
        const row = evolve(rows.get(key), event, key);
        if (row === undefined) rows.delete(key);
        else rows.set(key, frozen(row));
      }
    }
  }
  return rows;
}

const created: ExamEvent = {
  type: "exam.created",
  data: { examId, title: "Algebra II: Midterm", subject: "Mathematics", totalScore: 80, questionCount: 20, durationMinutes: null, createdBy: "key-okafor" },
};
const ref = (sheetId: string) => ({ sheetId, examId, studentId: `stu-${sheetId.slice(-2)}` });
const submitted = (sheetId: string): SheetEvent => ({
  type: "sheet.submitted",
  data: { ...ref(sheetId), batchId, pageCount: 2, dpi: 300, questionCount: 20, maxScore: 80, examCreatedBy: "key-okafor", submittedBy: "key-okafor" },
});
const ocrStarted = (sheetId: string): SheetEvent => ({ type: "ocr.started", data: { ...ref(sheetId), batchId, pageCount: 2, engine: "handwriting-v3" } });
const ocrCompleted = (sheetId: string): SheetEvent => ({ type: "ocr.completed", data: { ...ref(sheetId), pageCount: 2, confidence: 0.9, answersDetected: 18, durationMs: 2500 } });
const ocrFailed = (sheetId: string): SheetEvent => ({ type: "ocr.failed", data: { ...ref(sheetId), reason: "scan resolution below 150 dpi", retryable: false, durationMs: 700 } });
const gradingStarted = (sheetId: string): SheetEvent => ({
  type: "grading.started",
  data: { ...ref(sheetId), graderId: "grader-auto", method: "auto", questionCount: 20, maxScore: 80, previousStatus: "ocr_completed" },
});
const graded = (sheetId: string, score: number, durationMs: number): SheetEvent => ({
  type: "grading.completed",
  data: { ...ref(sheetId), graderId: "grader-auto", score, maxScore: 80, durationMs },
});
const gradingFailed = (sheetId: string): SheetEvent => ({ type: "grading.failed", data: { ...ref(sheetId), graderId: "grader-auto", reason: "grader lost its lease", durationMs: 300 } });
const reviewed = (sheetId: string, previousScore: number, score: number): SheetEvent => ({
  type: "grading.reviewed",
  data: { ...ref(sheetId), reviewerId: "key-okafor", previousScore, score, maxScore: 80, reason: "student appeal" },
});
const upToGrading = (sheetId: string) => [submitted(sheetId), ocrStarted(sheetId), ocrCompleted(sheetId), gradingStarted(sheetId)];
const released = (sheetId: string, graderId: string, returnedTo: "ocr_completed" | "manual_review"): SheetEvent => ({
  type: "grading.released",
  data: { ...ref(sheetId), graderId, reason: "automatic grading gave up", returnedTo },
});
const flagged = (sheetId: string, previousStatus: "ocr_running" | "ocr_completed"): SheetEvent => ({
  type: "sheet.flagged_for_review",
  data: { ...ref(sheetId), reason: "automatic grading gave up", previousStatus },
});
const overdue = (sheetId: string): SheetEvent => ({ type: "grading.overdue", data: { ...ref(sheetId), overdueAfterMs: 600_000 } });
const personStarts = (sheetId: string): SheetEvent => ({
  type: "grading.started",
  data: { ...ref(sheetId), graderId: "key-okafor", method: "manual", questionCount: 20, maxScore: 80, previousStatus: "manual_review" },
});

/**
 * Two sheets the grading saga gave up on: s1 while OCR ran (after it was flagged overdue), s2
 * after its grader was released; a person took s2 and gave it back.
 */
const setAside: Array<ExamEvent | SheetEvent> = [
  created,
  submitted(s1),
  ocrStarted(s1),
  overdue(s1),
  flagged(s1, "ocr_running"),
  ...upToGrading(s2),
  released(s2, "grader-auto", "ocr_completed"),
  flagged(s2, "ocr_completed"),
  personStarts(s2),
  released(s2, "key-okafor", "manual_review"),
];

/**
 * The exam with four sheets: s1 graded 40/80 then reviewed to 60, s2 graded 80/80, s3 unreadable,
 * s4 whose grading failed. Indexes in the log: see `timeOf`.
 */
const history: Array<ExamEvent | SheetEvent> = [
  created,
  { type: "exam.updated", data: { examId, changes: { title: "Algebra II: Final", durationMinutes: 90 }, updatedBy: "key-okafor" } },
  ...upToGrading(s1),
  graded(s1, 40, 1000),
  ...upToGrading(s2),
  graded(s2, 80, 3000),
  submitted(s3),
  ocrStarted(s3),
  ocrFailed(s3),
  ...upToGrading(s4),
  gradingFailed(s4),
  reviewed(s1, 40, 60),
];

describe("exams projection", () => {
  it("keeps each exam's details and counts its sheets by status", () => {
    const rows = fold(examsProjection, logOf(history));
    expect(rows.get(examId)).toEqual({
      examId, title: "Algebra II: Final", subject: "Mathematics", status: "open", totalScore: 80, questionCount: 20, durationMinutes: 90,
      createdBy: "key-okafor", createdAt: timeOf(0), updatedAt: timeOf(history.length - 1), resultsPublishedAt: null,
      sheetCount: 4,
      sheetCounts: { submitted: 0, ocr_running: 0, ocr_completed: 0, ocr_failed: 1, grading: 0, graded: 1, grading_failed: 1, reviewed: 1, manual_review: 0 },
    } satisfies ExamRow);
  });

  it("counts sheets set aside for manual review, from wherever they stopped, and through a person's grading given up", () => {
    const counts = (log: Array<ExamEvent | SheetEvent>) => (fold(examsProjection, logOf(log)).get(examId) as ExamRow).sheetCounts;
    expect(counts(setAside)).toEqual({ submitted: 0, ocr_running: 0, ocr_completed: 0, ocr_failed: 0, grading: 0, graded: 0, grading_failed: 0, reviewed: 0, manual_review: 2 });
    expect(counts(setAside.slice(0, -1))).toMatchObject({ grading: 1, manual_review: 1 });
    expect(counts(setAside.slice(0, 4))).toMatchObject({ ocr_running: 1, manual_review: 0 });
  });

  it("counts sheets still on their way", () => {
    const rows = fold(examsProjection, logOf([created, submitted(s1), ...upToGrading(s2), submitted(s3), ocrStarted(s3), submitted(s4), ocrStarted(s4), ocrCompleted(s4)]));
    expect((rows.get(examId) as ExamRow).sheetCounts).toEqual({
      submitted: 1, ocr_running: 1, ocr_completed: 1, ocr_failed: 0, grading: 1, graded: 0, grading_failed: 0, reviewed: 0, manual_review: 0,
    });
  });

  it("marks published results and deletions in the status", () => {
    const published = fold(examsProjection, logOf([...history, { type: "exam.results_published", data: { examId, publishedBy: "key-okafor" } }]));
    expect(published.get(examId)).toMatchObject({ status: "results_published", resultsPublishedAt: timeOf(history.length), updatedAt: timeOf(history.length) });

    const deleted = fold(examsProjection, logOf([created, { type: "exam.deleted", data: { examId, reason: "created by mistake", deletedBy: "key-okafor" } }]));
    expect(deleted.get(examId)).toMatchObject({ status: "deleted", updatedAt: timeOf(1), resultsPublishedAt: null });
  });
});

describe("exam_sheets projection", () => {
  it("keeps each sheet's OCR, grading and review state", () => {
    const rows = fold(examSheetsProjection, logOf(history));
    expect([...rows.keys()].sort()).toEqual([s1, s2, s3, s4]);
    const empty = {
      examId, batchId, pageCount: 2, maxScore: 80, ocrEngine: null, ocrConfidence: null, answersDetected: null, ocrDurationMs: null, ocrError: null,
      graderId: null, gradingMethod: null, score: null, gradingDurationMs: null, gradingError: null,
      reviewerId: null, reviewReason: null, scoreBeforeReview: null, reviewedAt: null, manualReviewReason: null, overdueAt: null,
    };
    const ocrRead = { ocrEngine: "handwriting-v3", ocrConfidence: 0.9, answersDetected: 18, ocrDurationMs: 2500 };
    expect(rows.get(s1)).toEqual({
      ...empty, ...ocrRead, sheetId: s1, studentId: "stu-a1", status: "reviewed", submittedAt: timeOf(2), updatedAt: timeOf(history.length - 1),
      graderId: "grader-auto", gradingMethod: "auto", score: 60, gradingDurationMs: 1000,
      reviewerId: "key-okafor", reviewReason: "student appeal", scoreBeforeReview: 40, reviewedAt: timeOf(history.length - 1),
    } satisfies ExamSheetRow);
    expect(rows.get(s2)).toMatchObject({ status: "graded", score: 80, scoreBeforeReview: null, gradingDurationMs: 3000 });
    expect(rows.get(s3)).toEqual({
      ...empty, sheetId: s3, studentId: "stu-a3", status: "ocr_failed", submittedAt: timeOf(12), updatedAt: timeOf(14),
      ocrEngine: "handwriting-v3", ocrError: "scan resolution below 150 dpi", ocrDurationMs: 700,
    } satisfies ExamSheetRow);
    expect(rows.get(s4)).toMatchObject({ status: "grading_failed", score: null, gradingError: "grader lost its lease", gradingDurationMs: 300 });
  });

  it("shows why a sheet waits for a person, when it was flagged overdue, and who holds it", () => {
    const rows = fold(examSheetsProjection, logOf(setAside));
    expect(rows.get(s1)).toMatchObject({ status: "manual_review", manualReviewReason: "automatic grading gave up", overdueAt: timeOf(3), updatedAt: timeOf(4), graderId: null });
    expect(rows.get(s2)).toMatchObject({ status: "manual_review", manualReviewReason: "automatic grading gave up", overdueAt: null, graderId: null, gradingMethod: null });
    expect(fold(examSheetsProjection, logOf(setAside.slice(0, -1))).get(s2)).toMatchObject({ status: "grading", graderId: "key-okafor", gradingMethod: "manual" });
    expect(fold(examSheetsProjection, logOf(setAside.slice(0, 10))).get(s2)).toMatchObject({ status: "ocr_completed", graderId: null, ocrConfidence: 0.9 });
  });
});

describe("grading_stats projection", () => {
  const statsOf = (log: Array<ExamEvent | SheetEvent>) => fold(gradingStatsProjection, logOf(log)).get(examId) as GradingStatsRow | undefined;

  it("describes the scores as percentages, with reviews moving a score out of its place and into the new one", () => {
    const beforeReview = statsOf(history.slice(0, -1));
    expect(beforeReview).toMatchObject({
      gradedCount: 2, meanPercent: 75, minPercent: 50, maxPercent: 100, histogram: [0, 0, 0, 0, 0, 1, 0, 0, 0, 1], scoreCounts: { "50": 1, "100": 1 },
      reviewedCount: 0, meanReviewAdjustment: null, ocrFailedCount: 1, gradingFailedCount: 1, gradingMsSum: 4000, meanGradingMs: 2000,
    });
    expect(statsOf(history)).toEqual({
      examId, gradedCount: 2, meanPercent: 87.5, minPercent: 75, maxPercent: 100, histogram: [0, 0, 0, 0, 0, 0, 0, 1, 0, 1], scoreCounts: { "75": 1, "100": 1 },
      reviewedCount: 1, reviewAdjustmentSum: 25, meanReviewAdjustment: 25, ocrFailedCount: 1, gradingFailedCount: 1, manualReviewCount: 0,
      gradingMsSum: 4000, meanGradingMs: 2000, updatedAt: timeOf(history.length - 1),
    } satisfies GradingStatsRow);
  });

  it("counts the sheets set aside for manual review", () => {
    expect(statsOf(setAside)).toMatchObject({ manualReviewCount: 2, gradedCount: 0, ocrFailedCount: 0, gradingFailedCount: 0 });
  });

  it("keeps equal scores apart in the counts, so lowering one of them leaves the other", () => {
    const stats = statsOf([created, ...upToGrading(s1), graded(s1, 20, 10), ...upToGrading(s2), graded(s2, 20, 10), reviewed(s2, 20, 10)]);
    expect(stats).toMatchObject({ gradedCount: 2, scoreCounts: { "12.5": 1, "25": 1 }, minPercent: 12.5, maxPercent: 25, meanPercent: 18.75, meanReviewAdjustment: -12.5 });
    expect(stats?.histogram).toEqual([0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("starts empty and drops the row of a deleted exam for good", () => {
    expect(statsOf([created])).toMatchObject({ gradedCount: 0, meanPercent: null, minPercent: null, maxPercent: null, histogram: new Array(10).fill(0), meanGradingMs: null });
    const deleted: ExamEvent = { type: "exam.deleted", data: { examId, reason: "created by mistake", deletedBy: "key-okafor" } };
    expect(statsOf([created, deleted])).toBeUndefined();
    expect(statsOf([created, ...upToGrading(s1), deleted, graded(s1, 40, 10)])).toBeUndefined();
  });
});

describe("every projection", () => {
  it("skips events that no aggregate decided (published straight to a stream of their own)", () => {
    const direct = (event: ExamEvent | SheetEvent) => ({ event, streamid: "data" in event && "sheetId" in event.data ? event.data.sheetId : examId });
    const log = logOf([created, submitted(s1), direct(submitted(s2)), direct(ocrStarted(s2)), direct(graded(s2, 10, 10)), direct(created)]);
    expect((fold(examsProjection, log).get(examId) as ExamRow).sheetCount).toBe(1);
    expect([...fold(examSheetsProjection, log).keys()]).toEqual([s1]);
    expect((fold(gradingStatsProjection, log).get(examId) as GradingStatsRow).gradedCount).toBe(0);
  });

  it("reads only the event types it declares", () => {
    for (const projection of domainProjections) {
      const declared = new RegExp(`^(${projection.eventTypes.map((pattern) => pattern.replace(".", "\\.").replace("*", ".*")).join("|")})$`);
      for (const event of logOf([...history, ...setAside.slice(1), { type: "exam.results_published", data: { examId, publishedBy: "key-okafor" } }])) {
        const touches = projection.tables.some(({ keysOf }) => keysOf(event).length > 0);
        if (touches) expect(event.type, `${projection.name} reads ${event.type}`).toMatch(declared);
      }
    }
  });
});
