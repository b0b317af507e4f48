import { RuleViolationError } from "@/server/engine/core/errors";
import type { Decider } from "@/server/engine/cqrs/decider";
import type { DomainEvent } from "./events";
import { requireOpenExam, type ExamState } from "./exam";

/**
 * The AnswerSheet aggregate (stream `sheet-<sheetId>`): one student's scanned sheet for an exam.
 *
 *   submitted -> ocr_running -> ocr_completed -> grading -> graded -> reviewed
 *                            -> ocr_failed               -> grading_failed
 *
 * OCR and grading run as tasks that the domain's reactions start and whose results they record
 * (reactions.ts). Delivery is at least once, so starting a step again or recording the same
 * outcome again decides nothing; only a transition that contradicts the sheet's history (grading
 * a sheet whose OCR failed, a second different outcome) is rejected, by a named rule. Failures are
 * final: the task queue has already retried the work before it reports one.
 */

export const sheetStatuses = ["submitted", "ocr_running", "ocr_completed", "ocr_failed", "grading", "graded", "grading_failed", "reviewed"] as const;
export type SheetStatus = (typeof sheetStatuses)[number];

export type GradingMethod = "auto" | "manual";

export interface AnswerSheet {
  sheetId: string;
  examId: string;
  studentId: string;
  batchId: string;
  pageCount: number;
  questionCount: number;
  maxScore: number;
  /** The exam's creator: the owner policy of every later command on the sheet. */
  examCreatedBy: string;
  status: SheetStatus;
  graderId: string | null;
  score: number | null;
}

/** Null until the sheet is submitted. */
export type SheetState = AnswerSheet | null;

export type SheetEvent = DomainEvent<
  "sheet.submitted" | "ocr.started" | "ocr.completed" | "ocr.failed" | "grading.started" | "grading.completed" | "grading.failed" | "grading.reviewed"
>;

export type OcrOutcome =
  | { status: "completed"; confidence: number; answersDetected: number; durationMs: number }
  | { status: "failed"; reason: string; retryable: boolean; durationMs: number };

export type GradeOutcome = { status: "completed"; score: number; durationMs: number } | { status: "failed"; reason: string; durationMs: number };

export type SheetCommand =
  /** `exam` is the exam's state when the sheet is submitted (null: no such exam). */
  | { type: "submit"; sheetId: string; examId: string; studentId: string; batchId: string; pageCount: number; exam: ExamState; submittedBy: string }
  | { type: "start_ocr"; sheetId: string; engine: string }
  | { type: "record_ocr"; sheetId: string; outcome: OcrOutcome }
  | { type: "start_grading"; sheetId: string; graderId: string; method: GradingMethod }
  | { type: "record_grade"; sheetId: string; outcome: GradeOutcome }
  | { type: "review"; sheetId: string; reviewerId: string; score: number; reason: string };

export const sheetStreamId = (sheetId: string): string => `sheet-${sheetId}`;

/** Statuses of a sheet whose OCR completed. */
const OCR_COMPLETED: ReadonlySet<SheetStatus> = new Set(["ocr_completed", "grading", "graded", "grading_failed", "reviewed"]);
/** Statuses of a sheet whose grading started. */
const GRADING_STARTED: ReadonlySet<SheetStatus> = new Set(["grading", "graded", "grading_failed", "reviewed"]);
/** Statuses of a sheet with a score. */
const GRADED: ReadonlySet<SheetStatus> = new Set(["graded", "reviewed"]);

function requireSheet(state: SheetState, sheetId: string): AnswerSheet {
  if (state === null) throw new RuleViolationError("sheet_not_found", `Answer sheet ${sheetId} was never submitted`);
  return state;
}

function requireScoreWithin(sheet: AnswerSheet, score: number): void {
  if (score > sheet.maxScore) throw new RuleViolationError("score_exceeds_max_score", `Score ${score} exceeds the sheet's maximum score ${sheet.maxScore}`);
}

function decideSubmit(command: Extract<SheetCommand, { type: "submit" }>, state: SheetState): SheetEvent[] {
  const exam = requireOpenExam(command.exam, command.examId);
  if (state !== null) throw new RuleViolationError("sheet_already_submitted", `Answer sheet ${command.sheetId} was already submitted`);
  const { sheetId, examId, studentId, batchId, pageCount, submittedBy } = command;
  return [
    {
      type: "sheet.submitted",
      data: { sheetId, examId, studentId, batchId, pageCount, questionCount: exam.questionCount, maxScore: exam.totalScore, examCreatedBy: exam.createdBy, submittedBy },
    },
  ];
}

function decideRecordOcr(sheet: AnswerSheet, outcome: OcrOutcome): SheetEvent[] {
  const ref = { sheetId: sheet.sheetId, examId: sheet.examId, studentId: sheet.studentId };
  if (sheet.status === "submitted") throw new RuleViolationError("ocr_not_started", `OCR of sheet ${sheet.sheetId} has not started`);
  if (sheet.status === "ocr_running") {
    return outcome.status === "completed"
      ? [{ type: "ocr.completed", data: { ...ref, pageCount: sheet.pageCount, confidence: outcome.confidence, answersDetected: outcome.answersDetected, durationMs: outcome.durationMs } }]
      : [{ type: "ocr.failed", data: { ...ref, reason: outcome.reason, retryable: outcome.retryable, durationMs: outcome.durationMs } }];
  }
  const recorded = sheet.status === "ocr_failed" ? "failed" : "completed";
  if (recorded === outcome.status) return [];
  throw new RuleViolationError("ocr_already_recorded", `OCR of sheet ${sheet.sheetId} already ${recorded}`);
}

function decideStartGrading(sheet: AnswerSheet, command: Extract<SheetCommand, { type: "start_grading" }>): SheetEvent[] {
  if (sheet.status === "ocr_failed") throw new RuleViolationError("ocr_failed", `OCR of sheet ${sheet.sheetId} failed: there are no answers to grade`);
  if (!OCR_COMPLETED.has(sheet.status)) throw new RuleViolationError("ocr_not_completed", `OCR of sheet ${sheet.sheetId} has not completed`);
  if (GRADING_STARTED.has(sheet.status)) {
    if (sheet.graderId === command.graderId) return [];
    throw new RuleViolationError("grading_already_started", `Sheet ${sheet.sheetId} is already graded by ${sheet.graderId}`);
  }
  return [
    {
      type: "grading.started",
      data: {
        sheetId: sheet.sheetId, examId: sheet.examId, studentId: sheet.studentId, graderId: command.graderId, method: command.method,
        questionCount: sheet.questionCount, maxScore: sheet.maxScore,
      },
    },
  ];
}

function decideRecordGrade(sheet: AnswerSheet, outcome: GradeOutcome): SheetEvent[] {
  if (!GRADING_STARTED.has(sheet.status) || sheet.graderId === null) {
    throw new RuleViolationError("grading_not_started", `Grading of sheet ${sheet.sheetId} has not started`);
  }
  const ref = { sheetId: sheet.sheetId, examId: sheet.examId, studentId: sheet.studentId, graderId: sheet.graderId };
  if (sheet.status === "grading") {
    if (outcome.status === "failed") return [{ type: "grading.failed", data: { ...ref, reason: outcome.reason, durationMs: outcome.durationMs } }];
    requireScoreWithin(sheet, outcome.score);
    return [{ type: "grading.completed", data: { ...ref, score: outcome.score, maxScore: sheet.maxScore, durationMs: outcome.durationMs } }];
  }
  const recorded = sheet.status === "grading_failed" ? "failed" : "completed";
  if (recorded === outcome.status) return [];
  throw new RuleViolationError("grading_already_recorded", `Grading of sheet ${sheet.sheetId} already ${recorded}`);
}

function decideReview(sheet: AnswerSheet, command: Extract<SheetCommand, { type: "review" }>): SheetEvent[] {
  if (sheet.status === "reviewed") throw new RuleViolationError("sheet_already_reviewed", `Sheet ${sheet.sheetId} was already reviewed`);
  if (!GRADED.has(sheet.status) || sheet.score === null) throw new RuleViolationError("sheet_not_graded", `Sheet ${sheet.sheetId} has no score to review`);
  requireScoreWithin(sheet, command.score);
  return [
    {
      type: "grading.reviewed",
      data: {
        sheetId: sheet.sheetId, examId: sheet.examId, studentId: sheet.studentId, reviewerId: command.reviewerId,
        previousScore: sheet.score, score: command.score, maxScore: sheet.maxScore, reason: command.reason,
      },
    },
  ];
}

export const answerSheetDecider: Decider<SheetCommand, SheetState, SheetEvent> = {
  name: "answer_sheet",
  initialState: () => null,

  evolve(state, event) {
    if (event.type === "sheet.submitted") {
      const { submittedBy: _submittedBy, ...sheet } = event.data;
      return { ...sheet, status: "submitted", graderId: null, score: null };
    }
    if (state === null) return state;
    switch (event.type) {
      case "ocr.started":
        return { ...state, status: "ocr_running" };
      case "ocr.completed":
        return { ...state, status: "ocr_completed" };
      case "ocr.failed":
        return { ...state, status: "ocr_failed" };
      case "grading.started":
        return { ...state, status: "grading", graderId: event.data.graderId };
      case "grading.completed":
        return { ...state, status: "graded", score: event.data.score };
      case "grading.failed":
        return { ...state, status: "grading_failed" };
      case "grading.reviewed":
        return { ...state, status: "reviewed", score: event.data.score };
    }
  },

  decide(command, state) {
    if (command.type === "submit") return decideSubmit(command, state);
    const sheet = requireSheet(state, command.sheetId);
    switch (command.type) {
      case "start_ocr":
        // Started before (a redelivered submission, or OCR already over): nothing to start.
        if (sheet.status !== "submitted") return [];
        return [
          {
            type: "ocr.started",
            data: { sheetId: sheet.sheetId, examId: sheet.examId, studentId: sheet.studentId, batchId: sheet.batchId, pageCount: sheet.pageCount, engine: command.engine },
          },
        ];
      case "record_ocr":
        return decideRecordOcr(sheet, command.outcome);
      case "start_grading":
        return decideStartGrading(sheet, command);
      case "record_grade":
        return decideRecordGrade(sheet, command.outcome);
      case "review":
        return decideReview(sheet, command);
    }
  },
};
