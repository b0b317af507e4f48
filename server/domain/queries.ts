import { z } from "zod";
import { NotFoundError } from "@/server/engine/core/errors";
import { defineQuery, type QueryDefinition } from "@/server/engine/cqrs/query";
import type { FindPage } from "@/server/engine/cqrs/read-model";
import { sheetStatuses } from "./answer-sheet";
import { clientUuid } from "./ids";
import {
  examSheetsProjection,
  examSheetsTable,
  examsProjection,
  examsTable,
  gradingStatsProjection,
  gradingStatsTable,
  type ExamRow,
  type ExamSheetRow,
  type GradingStatsRow,
} from "./projections";

/**
 * The domain's queries over its read models (projections.ts). Parameters come from a URL query
 * string, so numbers are coerced. Lists are pages in keyset order: pass a page's `next` as `after`
 * for the following one.
 */

/** The REST contract's list convention: limit defaults to 100, at most 1000. */
export const MAX_PAGE_SIZE = 1000;

const page = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(100),
  after: z.string().min(1).optional(),
};

export const listExamsParams = z.object({
  status: z.enum(["open", "results_published", "deleted"]).optional(),
  subject: z.string().min(1).max(100).optional(),
  createdBy: z.string().min(1).max(64).optional(),
  ...page,
});

export const examParams = z.object({ examId: clientUuid });

export const examSheetsParams = z.object({ examId: clientUuid, status: z.enum(sheetStatuses).optional(), ...page });

export const sheetParams = z.object({ sheetId: clientUuid });

/** What `exams.grading_stats` answers: the read model's figures, the histogram with its bands. */
export type GradingStats = Omit<GradingStatsRow, "scoreCounts" | "reviewAdjustmentSum" | "gradingMsSum" | "histogram"> & {
  histogram: Array<{ fromPercent: number; toPercent: number; count: number }>;
};

function presentStats({ scoreCounts: _counts, reviewAdjustmentSum: _adjustments, gradingMsSum: _durations, histogram, ...figures }: GradingStatsRow): GradingStats {
  const width = 100 / histogram.length;
  return { ...figures, histogram: histogram.map((count, band) => ({ fromPercent: band * width, toPercent: (band + 1) * width, count })) };
}

const listExams = defineQuery<z.infer<typeof listExamsParams>, FindPage<ExamRow>>({
  name: "exams.list",
  description: "Exams, newest first, each with its sheets counted by status. Filters: status, subject, createdBy.",
  schema: listExamsParams,
  projection: examsProjection.name,
  execute: ({ status, subject, createdBy, limit, after }, reader) =>
    reader.find(examsTable, { where: { status, subject, createdBy }, orderBy: { column: "createdAt", direction: "desc" }, limit, ...(after === undefined ? {} : { after }) }),
});

const getExam = defineQuery<z.infer<typeof examParams>, ExamRow>({
  name: "exams.get",
  description: "One exam with its sheets counted by status.",
  schema: examParams,
  projection: examsProjection.name,
  async execute({ examId }, reader) {
    const exam = await reader.get(examsTable, examId);
    if (!exam) throw new NotFoundError(`Exam ${examId} not found`);
    return exam;
  },
});

const examSheets = defineQuery<z.infer<typeof examSheetsParams>, FindPage<ExamSheetRow>>({
  name: "exams.sheets",
  description: "An exam's answer sheets in submission order, with their OCR, grading and review state. Filter: status.",
  schema: examSheetsParams,
  projection: examSheetsProjection.name,
  execute: ({ examId, status, limit, after }, reader) =>
    reader.find(examSheetsTable, { where: { examId, status }, orderBy: { column: "submittedAt", direction: "asc" }, limit, ...(after === undefined ? {} : { after }) }),
});

const gradingStats = defineQuery<z.infer<typeof examParams>, GradingStats>({
  name: "exams.grading_stats",
  description: "An exam's grading statistics: graded count, mean, min and max score (percent), histogram in ten-point bands, reviews and their mean adjustment, failures, mean grading time.",
  schema: examParams,
  projection: gradingStatsProjection.name,
  async execute({ examId }, reader) {
    const stats = await reader.get(gradingStatsTable, examId);
    if (!stats) throw new NotFoundError(`No grading statistics for exam ${examId}: it does not exist or was deleted`);
    return presentStats(stats);
  },
});

const getSheet = defineQuery<z.infer<typeof sheetParams>, ExamSheetRow>({
  name: "sheets.get",
  description: "One answer sheet with its OCR, grading and review state.",
  schema: sheetParams,
  projection: examSheetsProjection.name,
  async execute({ sheetId }, reader) {
    const sheet = await reader.get(examSheetsTable, sheetId);
    if (!sheet) throw new NotFoundError(`Answer sheet ${sheetId} not found`);
    return sheet;
  },
});

export const domainQueries: readonly QueryDefinition[] = [listExams, getExam, examSheets, gradingStats, getSheet];
