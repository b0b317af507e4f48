import { RuleViolationError } from "@/server/engine/core/errors";
import type { Decider } from "@/server/engine/cqrs/decider";
import type { DomainEvent } from "./events";
import { requireOpenExam, type ExamState } from "./exam";

/**
 * The AnswerSheet aggregate (stream `sheet-<sheetId>`): one student's scanned sheet for an exam.
 *
 *   submitted -> ocr_running -> ocr_completed -> grading -> graded -> reviewed
 *                            -> ocr_failed                 -> grading_failed
 *   grading -> (grader released) -> ocr_completed, or manual_review when it was flagged
 *   any status before a grade (but grading) -> manual_review -> grading by a person -> ...
 *
 * OCR and grading run as tasks that the `sheet_grading` saga (sagas.ts) starts and whose results it
 * records. A saga step may run again after a crash, so starting a step again or recording the same
 * outcome again decides nothing; only a transition that contradicts the sheet's history (grading
 * a sheet whose OCR failed, a second different outcome) is rejected, by a named rule. When the
 * saga gives up it compensates: the automatic grader releases the sheet (`grading.released`) and
 * the sheet is flagged for a person to grade (`sheet.flagged_for_review`). A sheet still not
 * graded when its deadline passes is flagged overdue (`grading.overdue`), which changes no status.
 */

export const sheetStatuses = ["submitted", "ocr_running", "ocr_completed", "ocr_failed", "grading", "graded", "grading_failed", "reviewed", "manual_review"] as const;
export type SheetStatus = (typeof sheetStatuses)[number];

export type GradingMethod = "auto" | "manual";

export interface AnswerSheet {
  sheetId: string;
  examId: string;
  studentId: string;
  batchId: string;
  pageCount: number;
  /** The scan's resolution; null for sheets submitted before it was recorded. */
  dpi: number | null;
  questionCount: number;
  maxScore: number;
  /** The exam's creator: the owner policy of every later command on the sheet. */
  examCreatedBy: string;
  status: SheetStatus;
  /** How OCR ended; null while it has not (a sheet flagged for review may never have been read). */
  ocr: "completed" | "failed" | null;
  /** The grader holding the sheet (while grading) or that graded it. */
  graderId: string | null;
  score: number | null;
  /** Why the sheet was set aside for a person to grade; null unless it was flagged. */
  manualReview: string | null;
  /** Flagged overdue: its grading deadline passed. */
  overdue: boolean;
}

/** Null until the sheet is submitted. */
export type SheetState = AnswerSheet | null;

export type SheetEvent = DomainEvent<
  | "sheet.submitted"
  | "ocr.started"
  | "ocr.completed"
  | "ocr.failed"
  | "grading.started"
  | "grading.completed"
  | "grading.failed"
  | "grading.reviewed"
  | "grading.released"
  | "grading.overdue"
  | "sheet.flagged_for_review"
>;

export type OcrOutcome =
  | { status: "completed"; confidence: number; answersDetected: number; durationMs: number }
  | { status: "failed"; reason: string; retryable: boolean; durationMs: number };

export type GradeOutcome = { status: "completed"; score: number; durationMs: number } | { status: "failed"; reason: string; durationMs: number };

export type SheetCommand =
  /** `exam` is the exam's state when the sheet is submitted (null: no such exam). */
  | { type: "submit"; sheetId: string; examId: string; studentId: string; batchId: string; pageCount: number; dpi: number; exam: ExamState; submittedBy: string }
  | { type: "start_ocr"; sheetId: string; engine: string }
  | { type: "record_ocr"; sheetId: string; outcome: OcrOutcome }
  | { type: "start_grading"; sheetId: string; graderId: string; method: GradingMethod }
  | { type: "record_grade"; sheetId: string; outcome: GradeOutcome }
  | { type: "review"; sheetId: string; reviewerId: string; score: number; reason: string }
  | { type: "release_grader"; sheetId: string; graderId: string; reason: string }
  | { type: "flag_for_review"; sheetId: string; reason: string }
  | { type: "flag_overdue"; sheetId: string; overdueAfterMs: number };

export const sheetStreamId = (sheetId: string): string => `sheet-${sheetId}`;

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
  const { sheetId, examId, studentId, batchId, pageCount, dpi, submittedBy } = command;
  return [
    {
      type: "sheet.submitted",
      data: { sheetId, examId, studentId, batchId, pageCount, dpi, questionCount: exam.questionCount, maxScore: exam.totalScore, examCreatedBy: exam.createdBy, submittedBy },
    },
  ];
}

function decideRecordOcr(sheet: AnswerSheet, outcome: OcrOutcome): SheetEvent[] {
  if (sheet.ocr !== null) {
    if (sheet.ocr === outcome.status) return [];
    throw new RuleViolationError("ocr_already_recorded", `OCR of sheet ${sheet.sheetId} already ${sheet.ocr}`);
  }
  if (sheet.status === "manual_review") {
    throw new RuleViolationError("sheet_in_manual_review", `Sheet ${sheet.sheetId} was set aside for a person to grade; OCR results are no longer recorded`);
  }
  if (sheet.status !== "ocr_running") throw new RuleViolationError("ocr_not_started", `OCR of sheet ${sheet.sheetId} has not started`);
  const ref = { sheetId: sheet.sheetId, examId: sheet.examId, studentId: sheet.studentId };
  return outcome.status === "completed"
    ? [{ type: "ocr.completed", data: { ...ref, pageCount: sheet.pageCount, confidence: outcome.confidence, answersDetected: outcome.answersDetected, durationMs: outcome.durationMs } }]
    : [{ type: "ocr.failed", data: { ...ref, reason: outcome.reason, retryable: outcome.retryable, durationMs: outcome.durationMs } }];
}

function decideStartGrading(sheet: AnswerSheet, command: Extract<SheetCommand, { type: "start_grading" }>): SheetEvent[] {
  if (GRADING_STARTED.has(sheet.status)) {
    if (sheet.graderId === command.graderId) return [];
    throw new RuleViolationError("grading_already_started", `Sheet ${sheet.sheetId} is already graded by ${sheet.graderId}`);
  }
  if (sheet.status === "manual_review") {
    // A person reads the paper itself, whatever OCR made of it; the automatic grader gave up on it.
    if (command.method === "auto") throw new RuleViolationError("sheet_in_manual_review", `Sheet ${sheet.sheetId} waits for a person to grade it: ${sheet.manualReview}`);
  } else if (sheet.ocr === "failed") {
    throw new RuleViolationError("ocr_failed", `OCR of sheet ${sheet.sheetId} failed: there are no answers to grade`);
  } else if (sheet.ocr !== "completed") {
    throw new RuleViolationError("ocr_not_completed", `OCR of sheet ${sheet.sheetId} has not completed`);
  }
  return [
    {
      type: "grading.started",
      data: {
        sheetId: sheet.sheetId, examId: sheet.examId, studentId: sheet.studentId, graderId: command.graderId, method: command.method,
        questionCount: sheet.questionCount, maxScore: sheet.maxScore, previousStatus: sheet.status === "manual_review" ? "manual_review" : "ocr_completed",
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

function decideReleaseGrader(sheet: AnswerSheet, command: Extract<SheetCommand, { type: "release_grader" }>): SheetEvent[] {
  if (GRADED.has(sheet.status)) throw new RuleViolationError("sheet_already_graded", `Sheet ${sheet.sheetId} is graded: there is no grading to give up`);
  // Only grading holds a grader (a failed grading let go of it): otherwise nothing to release.
  if (sheet.status !== "grading") return [];
  if (sheet.graderId !== command.graderId) {
    throw new RuleViolationError("grader_not_assigned", `Sheet ${sheet.sheetId} is held by ${sheet.graderId}, not by ${command.graderId}`);
  }
  return [
    {
      type: "grading.released",
      data: {
        sheetId: sheet.sheetId, examId: sheet.examId, studentId: sheet.studentId, graderId: command.graderId, reason: command.reason,
        returnedTo: sheet.manualReview === null ? "ocr_completed" : "manual_review",
      },
    },
  ];
}

function decideFlagForReview(sheet: AnswerSheet, command: Extract<SheetCommand, { type: "flag_for_review" }>): SheetEvent[] {
  const { status } = sheet;
  if (status === "graded" || status === "reviewed") throw new RuleViolationError("sheet_already_graded", `Sheet ${sheet.sheetId} is graded: a person reviews it with sheet.review`);
  // Already with a person, or held by a grader who is grading it now: nobody needs telling.
  if (status === "manual_review" || status === "grading") return [];
  const ref = { sheetId: sheet.sheetId, examId: sheet.examId, studentId: sheet.studentId };
  return [{ type: "sheet.flagged_for_review", data: { ...ref, reason: command.reason, previousStatus: status } }];
}

function decideFlagOverdue(sheet: AnswerSheet, command: Extract<SheetCommand, { type: "flag_overdue" }>): SheetEvent[] {
  // Late is about sheets still in the pipeline: graded ones are done, flagged ones are a person's.
  if (sheet.overdue || GRADED.has(sheet.status) || sheet.status === "manual_review") return [];
  const ref = { sheetId: sheet.sheetId, examId: sheet.examId, studentId: sheet.studentId };
  return [{ type: "grading.overdue", data: { ...ref, overdueAfterMs: command.overdueAfterMs } }];
}

export const answerSheetDecider: Decider<SheetCommand, SheetState, SheetEvent> = {
  name: "answer_sheet",
  initialState: () => null,

  evolve(state, event) {
    if (event.type === "sheet.submitted") {
      const { submittedBy: _submittedBy, ...sheet } = event.data;
      return { ...sheet, status: "submitted", ocr: null, graderId: null, score: null, manualReview: null, overdue: false };
    }
    if (state === null) return state;
    switch (event.type) {
      case "ocr.started":
        return { ...state, status: "ocr_running" };
      case "ocr.completed":
        return { ...state, status: "ocr_completed", ocr: "completed" };
      case "ocr.failed":
        return { ...state, status: "ocr_failed", ocr: "failed" };
      case "grading.started":
        return { ...state, status: "grading", graderId: event.data.graderId };
      case "grading.completed":
        return { ...state, status: "graded", score: event.data.score };
      case "grading.failed":
        return { ...state, status: "grading_failed" };
      case "grading.reviewed":
        return { ...state, status: "reviewed", score: event.data.score };
      case "grading.released":
        return { ...state, status: event.data.returnedTo, graderId: null };
      case "sheet.flagged_for_review":
        return { ...state, status: "manual_review", manualReview: event.data.reason };
      case "grading.overdue":
        return { ...state, overdue: true };
    }
  },

  decide(command, state) {
    if (command.type === "submit") return decideSubmit(command, state);
    const sheet = requireSheet(state, command.sheetId);
    switch (command.type) {
      case "start_ocr":
        // Started before (a step run again, or OCR already over): nothing to start.
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
      case "release_grader":
        return decideReleaseGrader(sheet, command);
      case "flag_for_review":
        return decideFlagForReview(sheet, command);
      case "flag_overdue":
        return decideFlagOverdue(sheet, command);
    }
  },
};
