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
  data: { ...ref, batchId, pageCount: 3, dpi: 300, questionCount: 20, maxScore: 100, examCreatedBy: "key-okafor", submittedBy: "key-scanner" },
};
const ocrStarted: SheetEvent = { type: "ocr.started", data: { ...ref, batchId, pageCount: 3, engine: "handwriting-v3" } };
const ocrCompleted: SheetEvent = { type: "ocr.completed", data: { ...ref, pageCount: 3, confidence: 0.93, answersDetected: 19, durationMs: 4200 } };
const ocrFailed: SheetEvent = { type: "ocr.failed", data: { ...ref, reason: "page 2 is blank or unreadable", retryable: false, durationMs: 3100 } };
const gradingStarted: SheetEvent = {
  type: "grading.started",
  data: { ...ref, graderId: "grader-auto", method: "auto", questionCount: 20, maxScore: 100, previousStatus: "ocr_completed" },
};
const graded: SheetEvent = { type: "grading.completed", data: { ...ref, graderId: "grader-auto", score: 72.5, maxScore: 100, durationMs: 1800 } };
const gradingFailed: SheetEvent = { type: "grading.failed", data: { ...ref, graderId: "grader-auto", reason: "answer key missing for question 7", durationMs: 900 } };
const reviewed: SheetEvent = {
  type: "grading.reviewed",
  data: { ...ref, reviewerId: "key-okafor", previousScore: 72.5, score: 75, maxScore: 100, reason: "partial credit on question 4" },
};

const submit = { type: "submit", sheetId, examId, studentId, batchId, pageCount: 3, dpi: 300, exam, submittedBy: "key-scanner" } satisfies SheetCommand;
const startOcr: SheetCommand = { type: "start_ocr", sheetId, engine: "handwriting-v3" };
const ocrSucceeds: SheetCommand = { type: "record_ocr", sheetId, outcome: { status: "completed", confidence: 0.93, answersDetected: 19, durationMs: 4200 } };
const ocrFails: SheetCommand = { type: "record_ocr", sheetId, outcome: { status: "failed", reason: "page 2 is blank or unreadable", retryable: false, durationMs: 3100 } };
const startGrading: SheetCommand = { type: "start_grading", sheetId, graderId: "grader-auto", method: "auto" };
const gradeSucceeds: SheetCommand = { type: "record_grade", sheetId, outcome: { status: "completed", score: 72.5, durationMs: 1800 } };
const gradeFails: SheetCommand = { type: "record_grade", sheetId, outcome: { status: "failed", reason: "answer key missing for question 7", durationMs: 900 } };
const review: SheetCommand = { type: "review", sheetId, reviewerId: "key-okafor", score: 75, reason: "partial credit on question 4" };

const released: SheetEvent = { type: "grading.released", data: { ...ref, graderId: "grader-auto", reason: "the grading task died", returnedTo: "ocr_completed" } };
const flagged = (previousStatus: "submitted" | "ocr_running" | "ocr_completed" | "ocr_failed" | "grading_failed"): SheetEvent => ({
  type: "sheet.flagged_for_review",
  data: { ...ref, reason: "automatic grading gave up", previousStatus },
});
const overdue: SheetEvent = { type: "grading.overdue", data: { ...ref, overdueAfterMs: 600_000 } };
const personStarts: SheetEvent = {
  type: "grading.started",
  data: { ...ref, graderId: "key-okafor", method: "manual", questionCount: 20, maxScore: 100, previousStatus: "manual_review" },
};

const release: SheetCommand = { type: "release_grader", sheetId, graderId: "grader-auto", reason: "the grading task died" };
const flag: SheetCommand = { type: "flag_for_review", sheetId, reason: "automatic grading gave up" };
const flagOverdue: SheetCommand = { type: "flag_overdue", sheetId, overdueAfterMs: 600_000 };

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

  describe("release_grader", () => {
    it("releases the grader holding the sheet: it can be graded again", () => {
      spec.given([...afterOcr, gradingStarted]).when(release).then([released]);
      spec.given([...afterOcr, gradingStarted, released]).when(startGrading).then([gradingStarted]);
    });
    it("returns a sheet a person took from manual review to manual review", () =>
      spec.given([submitted, ocrStarted, flagged("ocr_running"), personStarts]).when({ ...release, graderId: "key-okafor" })
        .then([{ type: "grading.released", data: { ...ref, graderId: "key-okafor", reason: "the grading task died", returnedTo: "manual_review" } }]));
    it("decides nothing when no grader holds the sheet", () => {
      spec.given(afterOcr).when(release).thenNothing();
      spec.given([...afterOcr, gradingStarted, released]).when(release).thenNothing();
      spec.given([...afterOcr, gradingStarted, gradingFailed]).when(release).thenNothing();
      spec.given([submitted, ocrStarted]).when(release).thenNothing();
    });
    it("rejects a grader that does not hold the sheet: grader_not_assigned", () =>
      spec.given([...afterOcr, gradingStarted]).when({ ...release, graderId: "key-okafor" }).thenRejects("grader_not_assigned"));
    it("rejects a graded sheet: sheet_already_graded", () => {
      spec.given(afterGrading).when(release).thenRejects("sheet_already_graded");
      spec.given([...afterGrading, reviewed]).when(release).thenRejects("sheet_already_graded");
    });
    it("rejects a sheet never submitted: sheet_not_found", () => spec.given([]).when(release).thenRejects("sheet_not_found"));
  });

  describe("flag_for_review", () => {
    it("sets the sheet aside for a person, noting where it stopped", () => {
      spec.given([submitted, ocrStarted]).when(flag).then([flagged("ocr_running")]);
      spec.given([...afterOcr, gradingStarted, released]).when(flag).then([flagged("ocr_completed")]);
      spec.given([submitted]).when(flag).then([flagged("submitted")]);
      spec.given([submitted, ocrStarted, ocrFailed]).when(flag).then([flagged("ocr_failed")]);
      spec.given([...afterOcr, gradingStarted, gradingFailed]).when(flag).then([flagged("grading_failed")]);
    });
    it("decides nothing once flagged, or while a grader holds the sheet", () => {
      spec.given([submitted, ocrStarted, flagged("ocr_running")]).when(flag).thenNothing();
      spec.given([...afterOcr, gradingStarted]).when(flag).thenNothing();
    });
    it("rejects a graded sheet: sheet_already_graded", () => {
      spec.given(afterGrading).when(flag).thenRejects("sheet_already_graded");
      spec.given([...afterGrading, reviewed]).when(flag).thenRejects("sheet_already_graded");
    });
    it("rejects a sheet never submitted: sheet_not_found", () => spec.given([]).when(flag).thenRejects("sheet_not_found"));
  });

  describe("a sheet in manual review", () => {
    const inReview = [submitted, ocrStarted, flagged("ocr_running")];
    it("is graded by a person, not by the automatic grader: sheet_in_manual_review", () => {
      spec.given(inReview).when({ type: "start_grading", sheetId, graderId: "key-okafor", method: "manual" }).then([personStarts]);
      spec.given(inReview).when(startGrading).thenRejects("sheet_in_manual_review");
      spec.given([...inReview, personStarts]).when({ type: "record_grade", sheetId, outcome: { status: "completed", score: 64, durationMs: 60_000 } })
        .then([{ type: "grading.completed", data: { ...ref, graderId: "key-okafor", score: 64, maxScore: 100, durationMs: 60_000 } }]);
    });
    it("takes no late OCR result: sheet_in_manual_review; one recorded before it was flagged is still a no-op", () => {
      spec.given(inReview).when(ocrSucceeds).thenRejects("sheet_in_manual_review");
      spec.given([...afterOcr, flagged("ocr_completed")]).when(ocrSucceeds).thenNothing();
      spec.given([...afterOcr, flagged("ocr_completed")]).when(ocrFails).thenRejects("ocr_already_recorded");
    });
  });

  describe("flag_overdue", () => {
    it("flags a sheet still in the pipeline, once, without moving it", () => {
      spec.given([submitted, ocrStarted]).when(flagOverdue).then([overdue]);
      spec.given([...afterOcr, gradingStarted]).when(flagOverdue).then([overdue]);
      spec.given([submitted, ocrStarted, overdue]).when(flagOverdue).thenNothing();
      spec.given([submitted, ocrStarted, overdue]).when(ocrSucceeds).then([ocrCompleted]);
    });
    it("leaves graded sheets and sheets with a person as they are", () => {
      spec.given(afterGrading).when(flagOverdue).thenNothing();
      spec.given([...afterGrading, reviewed]).when(flagOverdue).thenNothing();
      spec.given([submitted, ocrStarted, flagged("ocr_running")]).when(flagOverdue).thenNothing();
    });
    it("rejects a sheet never submitted: sheet_not_found", () => spec.given([]).when(flagOverdue).thenRejects("sheet_not_found"));
  });

  it("folds the history into the sheet, and its events validate against the registry", () => {
    const history = [...afterGrading, reviewed];
    expect(foldEvents(answerSheetDecider, answerSheetDecider.initialState(), history)).toEqual({
      sheetId, examId, studentId, batchId, pageCount: 3, dpi: 300, questionCount: 20, maxScore: 100, examCreatedBy: "key-okafor",
      status: "reviewed", ocr: "completed", graderId: "grader-auto", score: 75, manualReview: null, overdue: false,
    });
    expect(foldEvents(answerSheetDecider, answerSheetDecider.initialState(), [submitted, ocrStarted, overdue, flagged("ocr_running")])).toMatchObject({
      status: "manual_review", ocr: null, graderId: null, manualReview: "automatic grading gave up", overdue: true,
    });
    const registry = new EventTypeRegistry();
    registerDomainEventTypes(registry);
    for (const event of [...history, ocrFailed, gradingFailed, released, flagged("ocr_running"), overdue, personStarts]) {
      expect(registry.validate(event.type, event.data), event.type).toEqual({ ok: true, value: event.data });
    }
  });
});
