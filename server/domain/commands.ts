import { z } from "zod";
import { defineCommand, type CommandDefinition } from "@/server/engine/cqrs/command";
import { answerSheetDecider, sheetStreamId, type SheetCommand, type SheetEvent, type SheetState } from "./answer-sheet";
import {
  examCreatedSchema,
  examDeletedSchema,
  gradingCompletedSchema,
  gradingFailedSchema,
  gradingReviewedSchema,
  gradingStartedSchema,
  ocrCompletedSchema,
  gradingOverdueSchema,
  gradingReleasedSchema,
  ocrFailedSchema,
  scanDpi,
  sheetFlaggedForReviewSchema,
  sheetSubmittedSchema,
} from "./events";
import { examDecider, examStreamId } from "./exam";
import { clientUuid } from "./ids";
import { mayActOnExam } from "./policies";
import { gradingExecutionInput, ocrProcessingInput } from "./tasks";

/**
 * The domain's commands: what clients (REST, tRPC, the dashboard's console), the demo traffic and
 * the domain's sagas ask of the exam and answer-sheet aggregates. Inputs reuse the event
 * schemas' field rules, so a command that passes validation decides events that do too.
 *
 * Conflict retries: re-deciding is safe for every command but a review (a reviewer judged the
 * score they saw; if it changed meanwhile, they must look again: 409). Creations retry too: the
 * lost race is then answered by its rule (`exam_already_exists`) rather than a bare 409.
 */

const RETRIES = 3;
const examId = clientUuid;
const sheetId = clientUuid;
const durationMinutes = examCreatedSchema.shape.durationMinutes.unwrap();
/** The grading task grades up to this score (tasks.ts), so an exam may not be worth more. */
const totalScore = gradingExecutionInput.shape.maxScore;
const durationMs = ocrCompletedSchema.shape.durationMs;

const examFields = z.object({
  title: examCreatedSchema.shape.title,
  subject: examCreatedSchema.shape.subject,
  totalScore,
  questionCount: examCreatedSchema.shape.questionCount,
  durationMinutes,
});

export const createExamInput = examFields.partial({ durationMinutes: true }).extend({
  /** Chosen by the client (a UUID) or, by default, a new UUIDv7. */
  examId: examId.optional(),
});

export const updateExamInput = examFields
  .partial()
  .extend({ examId })
  .refine(({ examId: _examId, ...changes }) => Object.values(changes).some((value) => value !== undefined), {
    message: "at least one of title, subject, totalScore, questionCount, durationMinutes must be given",
  });

export const deleteExamInput = z.object({ examId, reason: examDeletedSchema.shape.reason });
export const publishResultsInput = z.object({ examId });

export const submitSheetInput = z.object({
  sheetId: sheetId.optional(),
  examId,
  studentId: sheetSubmittedSchema.shape.studentId,
  /** Sheets submitted together share a batch; by default the sheet is a batch of its own. */
  batchId: clientUuid.optional(),
  pageCount: sheetSubmittedSchema.shape.pageCount,
  /** The scan's resolution. OCR cannot read a scan below 150 dpi: such a sheet goes to a person. */
  dpi: scanDpi.default(300),
});

export const startOcrInput = z.object({ sheetId, engine: ocrProcessingInput.shape.engine });

export const recordOcrInput = z.discriminatedUnion("outcome", [
  z.object({
    sheetId,
    outcome: z.literal("completed"),
    confidence: ocrCompletedSchema.shape.confidence,
    // The read model keeps it in an integer column; no sheet has more answers than this.
    answersDetected: ocrCompletedSchema.shape.answersDetected.max(10_000),
    durationMs,
  }),
  z.object({ sheetId, outcome: z.literal("failed"), reason: ocrFailedSchema.shape.reason, retryable: ocrFailedSchema.shape.retryable, durationMs }),
]);

export const startGradingInput = z.object({
  sheetId,
  /** Default: the caller. */
  graderId: gradingStartedSchema.shape.graderId.optional(),
  method: gradingStartedSchema.shape.method.default("manual"),
});

export const recordGradeInput = z.discriminatedUnion("outcome", [
  z.object({ sheetId, outcome: z.literal("completed"), score: gradingCompletedSchema.shape.score, durationMs }),
  z.object({ sheetId, outcome: z.literal("failed"), reason: gradingFailedSchema.shape.reason, durationMs }),
]);

export const reviewSheetInput = z.object({ sheetId, score: gradingReviewedSchema.shape.score, reason: gradingReviewedSchema.shape.reason });

export const releaseGraderInput = z.object({
  sheetId,
  /** Default: the caller. */
  graderId: gradingReleasedSchema.shape.graderId.optional(),
  reason: gradingReleasedSchema.shape.reason,
});

export const flagForReviewInput = z.object({ sheetId, reason: sheetFlaggedForReviewSchema.shape.reason });

export const flagOverdueInput = z.object({ sheetId, overdueAfterMs: gradingOverdueSchema.shape.overdueAfterMs });

const createExam = defineCommand({
  name: "exam.create",
  description: "Creates an exam owned by the caller.",
  schema: createExamInput,
  decider: examDecider,
  streamId: (command) => examStreamId(command.examId),
  prepare: (input, { principal, newId }) => ({
    type: "create" as const,
    examId: input.examId ?? newId("exam"),
    title: input.title,
    subject: input.subject,
    totalScore: input.totalScore,
    questionCount: input.questionCount,
    durationMinutes: input.durationMinutes ?? null,
    createdBy: principal.id,
  }),
  retryOnConflict: RETRIES,
});

const updateExam = defineCommand({
  name: "exam.update",
  description: "Changes an open exam's title, subject, total score, question count or duration. Sheets keep the scoring they were submitted with.",
  schema: updateExamInput,
  decider: examDecider,
  streamId: (command) => examStreamId(command.examId),
  prepare: ({ examId: id, ...changes }, { principal }) => ({ type: "update" as const, examId: id, changes, updatedBy: principal.id }),
  authorize: ({ principal, state }) => mayActOnExam(principal, state?.createdBy),
  retryOnConflict: RETRIES,
});

const deleteExam = defineCommand({
  name: "exam.delete",
  description: "Withdraws an exam whose results are not published. Deleting a deleted exam changes nothing.",
  schema: deleteExamInput,
  decider: examDecider,
  streamId: (command) => examStreamId(command.examId),
  prepare: (input, { principal }) => ({ type: "delete" as const, examId: input.examId, reason: input.reason, deletedBy: principal.id }),
  authorize: ({ principal, state }) => mayActOnExam(principal, state?.createdBy),
  retryOnConflict: RETRIES,
});

const publishResults = defineCommand({
  name: "exam.publish_results",
  description: "Publishes an exam's results: it accepts no more sheets, and its report is generated. Publishing again changes nothing.",
  schema: publishResultsInput,
  decider: examDecider,
  streamId: (command) => examStreamId(command.examId),
  prepare: (input, { principal }) => ({ type: "publish_results" as const, examId: input.examId, publishedBy: principal.id }),
  authorize: ({ principal, state }) => mayActOnExam(principal, state?.createdBy),
  retryOnConflict: RETRIES,
});

type SheetCommandDefinition<TInput> = CommandDefinition<TInput, SheetCommand, SheetState, SheetEvent>;

/** What every sheet command shares: the decider, the stream, the priority and (by default) the owner policy. */
function sheetCommand<TInput>(
  definition: Pick<SheetCommandDefinition<TInput>, "name" | "description" | "schema" | "prepare" | "authorize" | "retryOnConflict">,
): SheetCommandDefinition<TInput> {
  return defineCommand({
    decider: answerSheetDecider,
    streamId: (command) => sheetStreamId(command.sheetId),
    authorize: ({ principal, state }) => mayActOnExam(principal, state?.examCreatedBy),
    priority: "high",
    ...definition,
  });
}

const submitSheet = sheetCommand({
  name: "sheet.submit",
  description: "Submits a student's scanned answer sheet to an open exam; the sheet_grading saga then reads and grades it.",
  schema: submitSheetInput,
  prepare: async (input, { principal, newId, load }) => ({
    type: "submit" as const,
    sheetId: input.sheetId ?? newId("sheet"),
    examId: input.examId,
    studentId: input.studentId,
    batchId: input.batchId ?? newId("batch"),
    pageCount: input.pageCount,
    dpi: input.dpi,
    exam: (await load(examDecider, examStreamId(input.examId))).state,
    submittedBy: principal.id,
  }),
  // A new sheet has no owner yet: the exam's creator decides.
  authorize: ({ principal, command }) => mayActOnExam(principal, command.type === "submit" ? command.exam?.createdBy : undefined),
  retryOnConflict: RETRIES,
});

const startOcr = sheetCommand({
  name: "sheet.start_ocr",
  description: "Starts OCR of a submitted sheet. Starting it again changes nothing.",
  schema: startOcrInput,
  prepare: (input) => ({ type: "start_ocr" as const, sheetId: input.sheetId, engine: input.engine }),
  retryOnConflict: RETRIES,
});

const recordOcr = sheetCommand({
  name: "sheet.record_ocr",
  description: "Records how OCR of a sheet ended: completed (confidence, answers detected) or failed (reason). Recording the same outcome again changes nothing.",
  schema: recordOcrInput,
  prepare: (input) => ({
    type: "record_ocr" as const,
    sheetId: input.sheetId,
    outcome:
      input.outcome === "completed"
        ? { status: "completed" as const, confidence: input.confidence, answersDetected: input.answersDetected, durationMs: input.durationMs }
        : { status: "failed" as const, reason: input.reason, retryable: input.retryable, durationMs: input.durationMs },
  }),
  retryOnConflict: RETRIES,
});

const startGrading = sheetCommand({
  name: "sheet.start_grading",
  description: "Starts grading a sheet whose OCR completed, by a grader (default: the caller, manually). Automatic grading runs as a task.",
  schema: startGradingInput,
  prepare: (input, { principal }) => ({ type: "start_grading" as const, sheetId: input.sheetId, graderId: input.graderId ?? principal.id, method: input.method }),
  retryOnConflict: RETRIES,
});

const recordGrade = sheetCommand({
  name: "sheet.record_grade",
  description: "Records how grading of a sheet ended: its score (at most the sheet's maximum) or the failure. Recording the same outcome again changes nothing.",
  schema: recordGradeInput,
  prepare: (input) => ({
    type: "record_grade" as const,
    sheetId: input.sheetId,
    outcome:
      input.outcome === "completed"
        ? { status: "completed" as const, score: input.score, durationMs: input.durationMs }
        : { status: "failed" as const, reason: input.reason, durationMs: input.durationMs },
  }),
  retryOnConflict: RETRIES,
});

const reviewSheet = sheetCommand({
  name: "sheet.review",
  description: "A person changes or confirms a graded sheet's score, giving the reason. A sheet is reviewed once.",
  schema: reviewSheetInput,
  prepare: (input, { principal }) => ({ type: "review" as const, sheetId: input.sheetId, reviewerId: principal.id, score: input.score, reason: input.reason }),
});

const releaseGrader = sheetCommand({
  name: "sheet.release_grader",
  description:
    "A grader (default: the caller) gives up a sheet it holds without grading it, giving the reason: the sheet can be graded again. Releasing a sheet nobody holds changes nothing.",
  schema: releaseGraderInput,
  prepare: (input, { principal }) => ({ type: "release_grader" as const, sheetId: input.sheetId, graderId: input.graderId ?? principal.id, reason: input.reason }),
  retryOnConflict: RETRIES,
});

const flagForReview = sheetCommand({
  name: "sheet.flag_for_review",
  description: "Sets a sheet not yet graded aside for a person to grade, giving the reason; the student is told. Flagging it again changes nothing.",
  schema: flagForReviewInput,
  prepare: (input) => ({ type: "flag_for_review" as const, sheetId: input.sheetId, reason: input.reason }),
  retryOnConflict: RETRIES,
});

const flagOverdue = sheetCommand({
  name: "sheet.flag_overdue",
  description: "Flags a sheet still in the pipeline as overdue (its grading deadline passed). Graded sheets, sheets with a person and sheets already flagged are left as they are.",
  schema: flagOverdueInput,
  prepare: (input) => ({ type: "flag_overdue" as const, sheetId: input.sheetId, overdueAfterMs: input.overdueAfterMs }),
  retryOnConflict: RETRIES,
});

export const domainCommands: readonly CommandDefinition[] = [
  createExam,
  updateExam,
  deleteExam,
  publishResults,
  submitSheet,
  startOcr,
  recordOcr,
  startGrading,
  recordGrade,
  reviewSheet,
  releaseGrader,
  flagForReview,
  flagOverdue,
];
