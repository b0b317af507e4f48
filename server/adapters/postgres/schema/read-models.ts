import { bigint, doublePrecision, index, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * The exam-grading domain's read models (server/domain/projections.ts), as drizzle tables under
 * any physical name. Migrations create each one once as its template `rm_<table>`; the
 * PostgresReadModelStore makes every generation's table as a copy of it (`CREATE TABLE ... (LIKE
 * rm_<table> INCLUDING ALL)`, indexes included) and reads and writes it through the factory.
 *
 * The domain's row types are checked against these tables' `$inferSelect` at compile time in
 * server/runtime/read-models.ts (adapters do not import the domain), so the string unions and
 * JSON shapes below repeat the domain's on purpose.
 */

type ExamStatus = "open" | "results_published" | "deleted";
type SheetStatus = "submitted" | "ocr_running" | "ocr_completed" | "ocr_failed" | "grading" | "graded" | "grading_failed" | "reviewed" | "manual_review";

const at = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
/** Durations in milliseconds: a bigint, so no recorded duration can overflow a projection's write. */
const milliseconds = (name: string) => bigint(name, { mode: "number" });

export function examsReadModel(name: string) {
  return pgTable(
    name,
    {
      examId: uuid("exam_id").primaryKey(),
      title: text("title").notNull(),
      subject: text("subject").notNull(),
      status: text("status").$type<ExamStatus>().notNull(),
      totalScore: doublePrecision("total_score").notNull(),
      questionCount: integer("question_count").notNull(),
      durationMinutes: integer("duration_minutes"),
      createdBy: text("created_by").notNull(),
      createdAt: at("created_at").notNull(),
      updatedAt: at("updated_at").notNull(),
      resultsPublishedAt: at("results_published_at"),
      sheetCount: integer("sheet_count").notNull(),
      sheetCounts: jsonb("sheet_counts").$type<Record<SheetStatus, number>>().notNull(),
    },
    // `exams.list`: newest first, alone or by creator or status (subject filters the page).
    (table) => [
      index(`${name}_created_idx`).on(table.createdAt, table.examId),
      index(`${name}_created_by_idx`).on(table.createdBy, table.createdAt, table.examId),
      index(`${name}_status_idx`).on(table.status, table.createdAt, table.examId),
    ],
  );
}

export function examSheetsReadModel(name: string) {
  return pgTable(
    name,
    {
      sheetId: uuid("sheet_id").primaryKey(),
      examId: uuid("exam_id").notNull(),
      studentId: text("student_id").notNull(),
      batchId: uuid("batch_id").notNull(),
      status: text("status").$type<SheetStatus>().notNull(),
      pageCount: integer("page_count").notNull(),
      maxScore: doublePrecision("max_score").notNull(),
      submittedAt: at("submitted_at").notNull(),
      updatedAt: at("updated_at").notNull(),
      ocrEngine: text("ocr_engine"),
      ocrConfidence: doublePrecision("ocr_confidence"),
      answersDetected: integer("answers_detected"),
      ocrDurationMs: milliseconds("ocr_duration_ms"),
      ocrError: text("ocr_error"),
      graderId: text("grader_id"),
      gradingMethod: text("grading_method").$type<"auto" | "manual">(),
      score: doublePrecision("score"),
      gradingDurationMs: milliseconds("grading_duration_ms"),
      gradingError: text("grading_error"),
      reviewerId: text("reviewer_id"),
      reviewReason: text("review_reason"),
      scoreBeforeReview: doublePrecision("score_before_review"),
      reviewedAt: at("reviewed_at"),
      manualReviewReason: text("manual_review_reason"),
      overdueAt: at("overdue_at"),
    },
    // `exams.sheets`: an exam's sheets in submission order (a status filters the page). The
    // indexed columns never change after the insert, so the many status updates stay HOT.
    (table) => [index(`${name}_exam_idx`).on(table.examId, table.submittedAt, table.sheetId)],
  );
}

export function gradingStatsReadModel(name: string) {
  return pgTable(name, {
    examId: uuid("exam_id").primaryKey(),
    gradedCount: integer("graded_count").notNull(),
    meanPercent: doublePrecision("mean_percent"),
    minPercent: doublePrecision("min_percent"),
    maxPercent: doublePrecision("max_percent"),
    histogram: jsonb("histogram").$type<number[]>().notNull(),
    scoreCounts: jsonb("score_counts").$type<Record<string, number>>().notNull(),
    reviewedCount: integer("reviewed_count").notNull(),
    reviewAdjustmentSum: doublePrecision("review_adjustment_sum").notNull(),
    meanReviewAdjustment: doublePrecision("mean_review_adjustment"),
    ocrFailedCount: integer("ocr_failed_count").notNull(),
    gradingFailedCount: integer("grading_failed_count").notNull(),
    manualReviewCount: integer("manual_review_count").notNull().default(0),
    gradingMsSum: milliseconds("grading_ms_sum").notNull(),
    meanGradingMs: doublePrecision("mean_grading_ms"),
    updatedAt: at("updated_at").notNull(),
  });
}

/** The templates the migrations create. */
export const rmExams = examsReadModel("rm_exams");
export const rmExamSheets = examSheetsReadModel("rm_exam_sheets");
export const rmGradingStats = gradingStatsReadModel("rm_grading_stats");
