import { describe, expect, it } from "vitest";
import { EventTypeRegistry } from "@/server/engine/core/registry";
import { foldEvents } from "@/server/engine/cqrs/decider";
import { specification } from "@/server/engine/cqrs/specification";
import { answerSheetDecider, type SheetCommand, type SheetEvent } from "./answer-sheet";
import { registerDomainEventTypes } from "./events";
import type { Exam } from "./exam";

const examId = "019c1f5e-8a00-7000-8000-000000000001";
const sheetId = "019c1f5e-8a00-7000-8000-000000000002";
const batchId = "019c1f5e-8a00-7000-8000-000000000003";
const studentId = "stu-10001";
const ref = { sheetId, examId, studentId };
const spec = specification(answerSheetDecider);

const exam: Exam = {
  examId, title: "Algebra II: Midterm", subject: "Mathematics", totalScore: 100, questionCount: 20, durationMinutes: 90, createdBy: "key-okafor", status: "open",
};

const submitted: SheetEvent = {
  type: "sheet.submitted",
  data: { ...ref, batchId, pageCount: 3, questionCount: 20, maxScore: 100, examCreatedBy: "key-okafor", submittedBy: "key-scanner" },
};
const ocrStarted: SheetEvent = { type: "ocr.started", data: { ...ref, batchId, pageCount: 3, engine: "handwriting-v3" } };
const ocrCompleted: SheetEvent = { type: "ocr.completed", data: { ...ref, pageCount: 3, confidence: 0.93, answersDetected: 19, durationMs: 4200 } };
const ocrFailed: SheetEvent = { type: "ocr.failed", data: { ...ref, reason: "page 2 is blank or unreadable", retryable: false, durationMs: 3100 } };
const gradingStarted: SheetEvent = {
  type: "grading.started",
  data: { ...ref, graderId: "grader-auto", method: "auto", questionCount: 20, maxScore: 100 },
};
const graded: SheetEvent = { type: "grading.completed", data: { ...ref, graderId: "grader-auto", score: 72.5, maxScore: 100, durationMs: 1800 } };
const gradingFailed: SheetEvent = { type: "grading.failed", data: { ...ref, graderId: "grader-auto", reason: "answer key missing for question 7", durationMs: 900 } };
const reviewed: SheetEvent = {
  type: "grading.reviewed",
  data: { ...ref, reviewerId: "key-okafor", previousScore: 72.5, score: 75, maxScore: 100, reason: "partial credit on question 4" },
};

const submit: SheetCommand = { type: "submit", sheetId, examId, studentId, batchId, pageCount: 3, exam, submittedBy: "key-scanner" };
const startOcr: SheetCommand = { type: "start_ocr", sheetId, engine: "handwriting-v3" };
const ocrSucceeds: SheetCommand = { type: "record_ocr", sheetId, outcome: { status: "completed", confidence: 0.93, answersDetected: 19, durationMs: 4200 } };
const ocrFails: SheetCommand = { type: "record_ocr", sheetId, outcome: { status: "failed", reason: "page 2 is blank or unreadable", retryable: false, durationMs: 3100 } };
const startGrading: SheetCommand = { type: "start_grading", sheetId, graderId: "grader-auto", method: "auto" };
const gradeSucceeds: SheetCommand = { type: "record_grade", sheetId, outcome: { status: "completed", score: 72.5, durationMs: 1800 } };
const gradeFails: SheetCommand = { type: "record_grade", sheetId, outcome: { status: "failed", reason: "answer key missing for question 7", durationMs: 900 } };
const review: SheetCommand = { type: "review", sheetId, reviewerId: "key-okafor", score: 75, reason: "partial credit on question 4" };

const afterOcr = [submitted, ocrStarted, ocrCompleted];
const afterGrading = [...afterOcr, gradingStarted, graded];

describe("answer sheet decider", () => {
  describe("submit", () => {
    it("submits the sheet with the exam's scoring and owner", () => spec.given([]).when(submit).then([submitted]));
    it("rejects a missing exam: exam_not_found", () => spec.given([]).when({ ...submit, exam: null }).thenRejects("exam_not_found"));
    it("rejects a deleted exam: exam_deleted", () => spec.given([]).when({ ...submit, exam: { ...exam, status: "deleted" } }).thenRejects("exam_deleted"));
    it("rejects an exam whose results are published: exam_results_published", () =>
      spec.given([]).when({ ...submit, exam: { ...exam, status: "results_published" } }).thenRejects("exam_results_published"));
    it("rejects a sheet id already submitted: sheet_already_submitted", () => spec.given([submitted]).when(submit).thenRejects("sheet_already_submitted"));
  });

  describe("start_ocr", () => {
    it("starts OCR of a submitted sheet", () => spec.given([submitted]).when(startOcr).then([ocrStarted]));
    it("decides nothing once OCR has started or ended", () => {
      spec.given([submitted, ocrStarted]).when(startOcr).thenNothing();
      spec.given([submitted, ocrStarted, ocrFailed]).when(startOcr).thenNothing();
      spec.given(afterGrading).when(startOcr).thenNothing();
    });
    it("rejects a sheet never submitted: sheet_not_found", () => spec.given([]).when(startOcr).thenRejects("sheet_not_found"));
  });

  describe("record_ocr", () => {
    it("records a completed OCR", () => spec.given([submitted, ocrStarted]).when(ocrSucceeds).then([ocrCompleted]));
    it("records a failed OCR", () => spec.given([submitted, ocrStarted]).when(ocrFails).then([ocrFailed]));
    it("decides nothing when the same outcome is recorded again", () => {
      spec.given(afterOcr).when(ocrSucceeds).thenNothing();
      spec.given(afterGrading).when(ocrSucceeds).thenNothing();
      spec.given([submitted, ocrStarted, ocrFailed]).when(ocrFails).thenNothing();
    });
    it("rejects the other outcome: ocr_already_recorded", () => {
      spec.given(afterOcr).when(ocrFails).thenRejects("ocr_already_recorded");
      spec.given([submitted, ocrStarted, ocrFailed]).when(ocrSucceeds).thenRejects("ocr_already_recorded");
    });
    it("rejects an outcome before OCR started: ocr_not_started", () => spec.given([submitted]).when(ocrSucceeds).thenRejects("ocr_not_started"));
    it("rejects a sheet never submitted: sheet_not_found", () => spec.given([]).when(ocrFails).thenRejects("sheet_not_found"));
  });

  describe("start_grading", () => {
    it("starts grading with the sheet's question count and maximum score", () => spec.given(afterOcr).when(startGrading).then([gradingStarted]));
    it("rejects a sheet whose OCR failed: ocr_failed", () => spec.given([submitted, ocrStarted, ocrFailed]).when(startGrading).thenRejects("ocr_failed"));
    it("rejects a sheet whose OCR has not completed: ocr_not_completed", () => {
      spec.given([submitted]).when(startGrading).thenRejects("ocr_not_completed");
      spec.given([submitted, ocrStarted]).when(startGrading).thenRejects("ocr_not_completed");
    });
    it("decides nothing when the same grader starts again", () => {
      spec.given([...afterOcr, gradingStarted]).when(startGrading).thenNothing();
      spec.given(afterGrading).when(startGrading).thenNothing();
    });
    it("rejects another grader once grading started: grading_already_started", () =>
      spec.given([...afterOcr, gradingStarted]).when({ type: "start_grading", sheetId, graderId: "key-okafor", method: "manual" }).thenRejects("grading_already_started"));
    it("rejects a sheet never submitted: sheet_not_found", () => spec.given([]).when(startGrading).thenRejects("sheet_not_found"));
  });

  describe("record_grade", () => {
    it("records the score", () => spec.given([...afterOcr, gradingStarted]).when(gradeSucceeds).then([graded]));
    it("records a failed grading", () => spec.given([...afterOcr, gradingStarted]).when(gradeFails).then([gradingFailed]));
    it("accepts the maximum score", () =>
      spec.given([...afterOcr, gradingStarted]).when({ type: "record_grade", sheetId, outcome: { status: "completed", score: 100, durationMs: 10 } })
        .then([{ type: "grading.completed", data: { ...ref, graderId: "grader-auto", score: 100, maxScore: 100, durationMs: 10 } }]));
    it("rejects a score above the maximum: score_exceeds_max_score", () =>
      spec.given([...afterOcr, gradingStarted]).when({ type: "record_grade", sheetId, outcome: { status: "completed", score: 100.5, durationMs: 10 } })
        .thenRejects("score_exceeds_max_score"));
    it("decides nothing when the same outcome is recorded again", () => {
      spec.given(afterGrading).when(gradeSucceeds).thenNothing();
      spec.given([...afterGrading, reviewed]).when(gradeSucceeds).thenNothing();
      spec.given([...afterOcr, gradingStarted, gradingFailed]).when(gradeFails).thenNothing();
    });
    it("rejects the other outcome: grading_already_recorded", () => {
      spec.given(afterGrading).when(gradeFails).thenRejects("grading_already_recorded");
      spec.given([...afterOcr, gradingStarted, gradingFailed]).when(gradeSucceeds).thenRejects("grading_already_recorded");
    });
    it("rejects an outcome before grading started: grading_not_started", () => {
      spec.given(afterOcr).when(gradeSucceeds).thenRejects("grading_not_started");
      spec.given([submitted, ocrStarted, ocrFailed]).when(gradeFails).thenRejects("grading_not_started");
    });
    it("rejects a sheet never submitted: sheet_not_found", () => spec.given([]).when(gradeSucceeds).thenRejects("sheet_not_found"));
  });

  describe("review", () => {
    it("changes the score, keeping the previous one", () => spec.given(afterGrading).when(review).then([reviewed]));
    it("confirms the score", () =>
      spec.given(afterGrading).when({ ...review, score: 72.5, reason: "random quality sample" })
        .then([{ type: "grading.reviewed", data: { ...reviewed.data, score: 72.5, reason: "random quality sample" } }]));
    it("rejects a score above the maximum: score_exceeds_max_score", () => spec.given(afterGrading).when({ ...review, score: 101 }).thenRejects("score_exceeds_max_score"));
    it("rejects a sheet without a score: sheet_not_graded", () => {
      spec.given([...afterOcr, gradingStarted]).when(review).thenRejects("sheet_not_graded");
      spec.given([...afterOcr, gradingStarted, gradingFailed]).when(review).thenRejects("sheet_not_graded");
    });
    it("rejects a second review: sheet_already_reviewed", () => spec.given([...afterGrading, reviewed]).when(review).thenRejects("sheet_already_reviewed"));
    it("rejects a sheet never submitted: sheet_not_found", () => spec.given([]).when(review).thenRejects("sheet_not_found"));
  });

  it("folds the history into the sheet, and its events validate against the registry", () => {
    const history = [...afterGrading, reviewed];
    expect(foldEvents(answerSheetDecider, answerSheetDecider.initialState(), history)).toEqual({
      sheetId, examId, studentId, batchId, pageCount: 3, questionCount: 20, maxScore: 100, examCreatedBy: "key-okafor",
      status: "reviewed", graderId: "grader-auto", score: 75,
    });
    const registry = new EventTypeRegistry();
    registerDomainEventTypes(registry);
    for (const event of [...history, ocrFailed, gradingFailed]) expect(registry.validate(event.type, event.data), event.type).toEqual({ ok: true, value: event.data });
  });
});
