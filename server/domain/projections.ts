import {
  defineTable,
  defineTableProjection,
  type ProjectedEvent,
  type ProjectionDefinition,
} from "@/server/engine/cqrs/read-model";
import { decidedEvent, isSheetEvent, type AggregateEvent } from "./aggregate-events";
import { sheetStatuses, type GradingMethod, type SheetEvent, type SheetStatus } from "./answer-sheet";
import type { ExamStatus } from "./exam";

/**
 * The domain's read models, built from the log by the projection runner:
 *
 * - `exams`: the exam list, each exam with its sheets counted by status;
 * - `exam_sheets`: every sheet with its OCR, grading and review state, manual review and lateness;
 * - `grading_stats`: per exam, the score distribution, reviews, failures and grading time. This
 *   is the analytics concern of the pipeline: it needs no reaction of its own.
 *
 * Only events the aggregates decided count (aggregate-events.ts). Because the deciders enforce the
 * sheet's state machine, each event moves a sheet from a status it names (by its type, or in its
 * data where it can come from several) to the next, which lets the exam rows count sheets
 * without keeping them.
 */

export type SheetCounts = Record<SheetStatus, number>;

export type ExamRow = {
  examId: string;
  title: string;
  subject: string;
  status: ExamStatus;
  totalScore: number;
  questionCount: number;
  durationMinutes: number | null;
  createdBy: string;
  createdAt: Date;
  /** The latest change to the exam or to one of its sheets. */
  updatedAt: Date;
  resultsPublishedAt: Date | null;
  sheetCount: number;
  sheetCounts: SheetCounts;
};

export type ExamSheetRow = {
  sheetId: string;
  examId: string;
  studentId: string;
  batchId: string;
  status: SheetStatus;
  pageCount: number;
  maxScore: number;
  submittedAt: Date;
  updatedAt: Date;
  ocrEngine: string | null;
  /** Mean recognition confidence, 0..1. */
  ocrConfidence: number | null;
  answersDetected: number | null;
  ocrDurationMs: number | null;
  ocrError: string | null;
  graderId: string | null;
  gradingMethod: GradingMethod | null;
  /** The current score: the grader's, or the reviewer's once reviewed. */
  score: number | null;
  gradingDurationMs: number | null;
  gradingError: string | null;
  reviewerId: string | null;
  reviewReason: string | null;
  /** The grader's score, kept when a review changed it. */
  scoreBeforeReview: number | null;
  reviewedAt: Date | null;
  /** Why the sheet was set aside for a person to grade. */
  manualReviewReason: string | null;
  /** When its grading deadline passed with the sheet still in the pipeline. */
  overdueAt: Date | null;
};

export type GradingStatsRow = {
  examId: string;
  gradedCount: number;
  /** Scores as percentages of the sheet's maximum, rounded to 0.01. */
  meanPercent: number | null;
  minPercent: number | null;
  maxPercent: number | null;
  /** Graded sheets per ten-point band of percentage: [0, 10), [10, 20), ... [90, 100]. */
  histogram: number[];
  /**
   * How many graded sheets have each percentage (key: the percentage as text). A review moves a
   * sheet's score, and the minimum or maximum it leaves cannot be found again without this.
   */
  scoreCounts: Record<string, number>;
  reviewedCount: number;
  /** Sum over reviews of (new - previous score), in percentage points. */
  reviewAdjustmentSum: number;
  meanReviewAdjustment: number | null;
  ocrFailedCount: number;
  gradingFailedCount: number;
  /** Sheets automatic grading gave up on, set aside for a person. */
  manualReviewCount: number;
  /** Sum of the completed gradings' durations. */
  gradingMsSum: number;
  meanGradingMs: number | null;
  updatedAt: Date;
};

export const examsTable = defineTable<ExamRow>("exams", "examId");
export const examSheetsTable = defineTable<ExamSheetRow>("exam_sheets", "sheetId");
export const gradingStatsTable = defineTable<GradingStatsRow>("grading_stats", "examId");

/** The event as its aggregate decided it, or undefined (aggregate-events.ts). */
export const aggregateEvent = (event: ProjectedEvent): AggregateEvent | undefined => decidedEvent(event, event.streamid);

/** The status a sheet moves from and to on an event after its submission; undefined when it stays. */
function sheetTransition(event: Exclude<SheetEvent, { type: "sheet.submitted" }>): readonly [SheetStatus, SheetStatus] | undefined {
  switch (event.type) {
    case "ocr.started":
      return ["submitted", "ocr_running"];
    case "ocr.completed":
      return ["ocr_running", "ocr_completed"];
    case "ocr.failed":
      return ["ocr_running", "ocr_failed"];
    case "grading.started":
      return [event.data.previousStatus, "grading"];
    case "grading.completed":
      return ["grading", "graded"];
    case "grading.failed":
      return ["grading", "grading_failed"];
    case "grading.reviewed":
      return ["graded", "reviewed"];
    case "grading.released":
      return ["grading", event.data.returnedTo];
    case "sheet.flagged_for_review":
      return [event.data.previousStatus, "manual_review"];
    case "grading.overdue":
      return undefined;
  }
}

const noSheets = (): SheetCounts => Object.fromEntries(sheetStatuses.map((status) => [status, 0])) as SheetCounts;

const examKeys = (event: ProjectedEvent): string[] => {
  const decided = aggregateEvent(event);
  return decided ? [decided.data.examId] : [];
};

export const examsProjection: ProjectionDefinition = {
  name: "exams",
  description: "The exam list: each exam's details and status, with its sheets counted by status.",
  // 2: sheets in manual review are counted.
  version: 2,
  eventTypes: ["exam.*", "sheet.submitted", "sheet.flagged_for_review", "ocr.*", "grading.*"],
  tables: [
    defineTableProjection<ExamRow>({
      table: examsTable,
      keysOf: examKeys,
      evolve(row, event) {
        const decided = aggregateEvent(event);
        if (!decided) return row;
        const at = new Date(event.time);
        if (decided.type === "exam.created") {
          const { examId, title, subject, totalScore, questionCount, durationMinutes, createdBy } = decided.data;
          return {
            examId, title, subject, status: "open", totalScore, questionCount, durationMinutes, createdBy,
            createdAt: at, updatedAt: at, resultsPublishedAt: null, sheetCount: 0, sheetCounts: noSheets(),
          };
        }
        if (!row) return row;
        switch (decided.type) {
          case "exam.updated":
            // Stored events are JSON: a change that is absent has no key to spread.
            return { ...row, ...decided.data.changes, updatedAt: at };
          case "exam.deleted":
            return { ...row, status: "deleted", updatedAt: at };
          case "exam.results_published":
            return { ...row, status: "results_published", resultsPublishedAt: at, updatedAt: at };
          case "sheet.submitted":
            return { ...row, sheetCount: row.sheetCount + 1, sheetCounts: { ...row.sheetCounts, submitted: row.sheetCounts.submitted + 1 }, updatedAt: at };
          default: {
            const transition = sheetTransition(decided);
            if (!transition) return { ...row, updatedAt: at };
            const [from, to] = transition;
            const sheetCounts = { ...row.sheetCounts, [from]: row.sheetCounts[from] - 1 };
            sheetCounts[to] += 1;
            return { ...row, sheetCounts, updatedAt: at };
          }
        }
      },
    }),
  ],
};

export const examSheetsProjection: ProjectionDefinition = {
  name: "exam_sheets",
  description: "Every answer sheet with its OCR, grading and review state, by exam.",
  // 2: manual review (status and reason), grader releases and overdue sheets.
  version: 2,
  eventTypes: ["sheet.submitted", "sheet.flagged_for_review", "ocr.*", "grading.*"],
  tables: [
    defineTableProjection<ExamSheetRow>({
      table: examSheetsTable,
      keysOf(event) {
        const decided = aggregateEvent(event);
        return decided && isSheetEvent(decided) ? [decided.data.sheetId] : [];
      },
      evolve(row, event) {
        const decided = aggregateEvent(event);
        if (!decided) return row;
        const at = new Date(event.time);
        if (decided.type === "sheet.submitted") {
          const { sheetId, examId, studentId, batchId, pageCount, maxScore } = decided.data;
          return {
            sheetId, examId, studentId, batchId, status: "submitted", pageCount, maxScore, submittedAt: at, updatedAt: at,
            ocrEngine: null, ocrConfidence: null, answersDetected: null, ocrDurationMs: null, ocrError: null,
            graderId: null, gradingMethod: null, score: null, gradingDurationMs: null, gradingError: null,
            reviewerId: null, reviewReason: null, scoreBeforeReview: null, reviewedAt: null, manualReviewReason: null, overdueAt: null,
          };
        }
        if (!row) return row;
        switch (decided.type) {
          case "ocr.started":
            return { ...row, status: "ocr_running", ocrEngine: decided.data.engine, updatedAt: at };
          case "ocr.completed": {
            const { confidence, answersDetected, durationMs } = decided.data;
            return { ...row, status: "ocr_completed", ocrConfidence: confidence, answersDetected, ocrDurationMs: durationMs, updatedAt: at };
          }
          case "ocr.failed":
            return { ...row, status: "ocr_failed", ocrError: decided.data.reason, ocrDurationMs: decided.data.durationMs, updatedAt: at };
          case "grading.started":
            return { ...row, status: "grading", graderId: decided.data.graderId, gradingMethod: decided.data.method, updatedAt: at };
          case "grading.completed":
            return { ...row, status: "graded", score: decided.data.score, gradingDurationMs: decided.data.durationMs, updatedAt: at };
          case "grading.failed":
            return { ...row, status: "grading_failed", gradingError: decided.data.reason, gradingDurationMs: decided.data.durationMs, updatedAt: at };
          case "grading.reviewed": {
            const { reviewerId, reason, previousScore, score } = decided.data;
            return { ...row, status: "reviewed", score, scoreBeforeReview: previousScore, reviewerId, reviewReason: reason, reviewedAt: at, updatedAt: at };
          }
          case "grading.released":
            return { ...row, status: decided.data.returnedTo, graderId: null, gradingMethod: null, updatedAt: at };
          case "sheet.flagged_for_review":
            return { ...row, status: "manual_review", manualReviewReason: decided.data.reason, updatedAt: at };
          case "grading.overdue":
            return { ...row, overdueAt: at, updatedAt: at };
          default:
            return row;
        }
      },
    }),
  ],
};

const HISTOGRAM_BANDS = 10;

const round2 = (value: number): number => Math.round(value * 100) / 100;
const percentOf = (score: number, maxScore: number): number => round2((score / maxScore) * 100);
/** Band of a percentage; 100 % belongs to the top band. */
const bandOf = (percent: number): number => Math.min(HISTOGRAM_BANDS - 1, Math.floor(percent / (100 / HISTOGRAM_BANDS)));

/** The row's figures recomputed from its score counts and sums (each a pure function of them). */
function withFigures(row: GradingStatsRow): GradingStatsRow {
  const histogram = new Array<number>(HISTOGRAM_BANDS).fill(0);
  let count = 0;
  let sum = 0;
  let min: number | null = null;
  let max: number | null = null;
  for (const [key, sheets] of Object.entries(row.scoreCounts)) {
    const percent = Number(key);
    count += sheets;
    sum += percent * sheets;
    min = min === null ? percent : Math.min(min, percent);
    max = max === null ? percent : Math.max(max, percent);
    histogram[bandOf(percent)]! += sheets;
  }
  return {
    ...row,
    gradedCount: count,
    meanPercent: count === 0 ? null : round2(sum / count),
    minPercent: min,
    maxPercent: max,
    histogram,
    meanReviewAdjustment: row.reviewedCount === 0 ? null : round2(row.reviewAdjustmentSum / row.reviewedCount),
    meanGradingMs: count === 0 ? null : Math.round(row.gradingMsSum / count),
  };
}

/** Score counts with one sheet moved: out of `from` (if any), into `to` (if any). */
function moveScore(counts: Record<string, number>, from: number | null, to: number | null): Record<string, number> {
  const next = { ...counts };
  if (from !== null) {
    const key = String(from);
    const left = (next[key] ?? 0) - 1;
    if (left > 0) next[key] = left;
    else delete next[key];
  }
  if (to !== null) next[String(to)] = (next[String(to)] ?? 0) + 1;
  return next;
}

const GRADING_STATS_TYPES: ReadonlyArray<AggregateEvent["type"]> = [
  "exam.created", "exam.deleted", "ocr.failed", "grading.completed", "grading.failed", "grading.reviewed", "sheet.flagged_for_review",
];

export const gradingStatsProjection: ProjectionDefinition = {
  name: "grading_stats",
  description: "Grading statistics per exam: score distribution (mean, min, max, histogram), reviews and their adjustments, failures, sheets set aside for manual review, grading time.",
  // 2: sheets set aside for manual review are counted.
  version: 2,
  eventTypes: [...GRADING_STATS_TYPES],
  tables: [
    defineTableProjection<GradingStatsRow>({
      table: gradingStatsTable,
      keysOf: (event) => ((GRADING_STATS_TYPES as readonly string[]).includes(event.type) ? examKeys(event) : []),
      evolve(row, event) {
        const decided = aggregateEvent(event);
        if (!decided) return row;
        const updatedAt = new Date(event.time);
        if (decided.type === "exam.created") {
          return withFigures({
            examId: decided.data.examId, gradedCount: 0, meanPercent: null, minPercent: null, maxPercent: null, histogram: [], scoreCounts: {},
            reviewedCount: 0, reviewAdjustmentSum: 0, meanReviewAdjustment: null, ocrFailedCount: 0, gradingFailedCount: 0, manualReviewCount: 0,
            gradingMsSum: 0, meanGradingMs: null, updatedAt,
          });
        }
        // A withdrawn exam has no results to describe.
        if (decided.type === "exam.deleted" || !row) return undefined;
        switch (decided.type) {
          case "ocr.failed":
            return { ...row, ocrFailedCount: row.ocrFailedCount + 1, updatedAt };
          case "grading.failed":
            return { ...row, gradingFailedCount: row.gradingFailedCount + 1, updatedAt };
          case "sheet.flagged_for_review":
            return { ...row, manualReviewCount: row.manualReviewCount + 1, updatedAt };
          case "grading.completed": {
            const { score, maxScore, durationMs } = decided.data;
            const scoreCounts = moveScore(row.scoreCounts, null, percentOf(score, maxScore));
            return withFigures({ ...row, scoreCounts, gradingMsSum: row.gradingMsSum + durationMs, updatedAt });
          }
          case "grading.reviewed": {
            const { previousScore, score, maxScore } = decided.data;
            const before = percentOf(previousScore, maxScore);
            const after = percentOf(score, maxScore);
            return withFigures({
              ...row,
              scoreCounts: moveScore(row.scoreCounts, before, after),
              reviewedCount: row.reviewedCount + 1,
              reviewAdjustmentSum: round2(row.reviewAdjustmentSum + after - before),
              updatedAt,
            });
          }
          default:
            return row;
        }
      },
    }),
  ],
};

export const domainProjections: readonly ProjectionDefinition[] = [examsProjection, examSheetsProjection, gradingStatsProjection];
