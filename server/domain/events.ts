import { z } from "zod";
import type { CodeEventTypeDefinition, EventTypeRegistry } from "@/server/engine/core/registry";

/**
 * Event types of the demo domain: the exam-grading pipeline. An exam is created, answer sheets
 * are submitted in batches, each sheet is read by OCR and then graded, a teacher sometimes reviews
 * the grade, and the exam's results are published; people are notified along the way. Ids are
 * UUIDs; people (students, graders, reviewers, principals) are opaque string ids.
 *
 * The exam and answer-sheet deciders (exam.ts, answer-sheet.ts) decide these events; `batch.*`
 * and `system.health_check` are published directly (the health reporter, or clients).
 */

const uuid = z.uuid();
const personId = z.string().min(1).max(64);
const durationMs = z.number().int().nonnegative();
const reason = z.string().min(1).max(500);
const score = z.number().nonnegative();

export const examCreatedV1Schema = z.object({
  examId: uuid,
  title: z.string().min(1).max(200),
  subject: z.string().min(1).max(100),
  totalScore: z.number().positive(),
  questionCount: z.number().int().positive().max(500),
  createdBy: personId,
});

export const examCreatedSchema = examCreatedV1Schema.extend({
  /** Null for exams recorded before version 2, when the duration was not captured. */
  durationMinutes: z.number().int().positive().max(24 * 60).nullable(),
});

export const examUpdatedSchema = z.object({
  examId: uuid,
  changes: z
    .object({
      title: z.string().min(1).max(200).optional(),
      subject: z.string().min(1).max(100).optional(),
      totalScore: z.number().positive().optional(),
      questionCount: z.number().int().positive().max(500).optional(),
      durationMinutes: z.number().int().positive().max(24 * 60).optional(),
    })
    .refine((changes) => Object.keys(changes).length > 0, "at least one field must change"),
  updatedBy: personId,
});

export const examDeletedSchema = z.object({ examId: uuid, reason, deletedBy: personId });

const sheetRef = { sheetId: uuid, examId: uuid, studentId: personId };

export const ocrStartedSchema = z.object({
  ...sheetRef,
  batchId: uuid,
  pageCount: z.number().int().positive().max(100),
  engine: z.string().min(1).max(64),
});

export const ocrCompletedSchema = z.object({
  ...sheetRef,
  pageCount: z.number().int().positive().max(100),
  /** Mean recognition confidence over the sheet, 0..1. */
  confidence: z.number().min(0).max(1),
  answersDetected: z.number().int().nonnegative(),
  durationMs,
});

export const ocrFailedSchema = z.object({ ...sheetRef, reason, retryable: z.boolean(), durationMs });

export const gradingStartedV1Schema = z.object({ ...sheetRef, graderId: personId, method: z.enum(["auto", "manual"]) });

/** Version 2 carries what grading the sheet needs, so the task that grades it can start from the event alone. */
export const gradingStartedV2Schema = gradingStartedV1Schema.extend({
  /** The exam's question count when the sheet was submitted; null for events recorded before version 2. */
  questionCount: z.number().int().positive().max(500).nullable(),
  /** The sheet's maximum score; null for events recorded before version 2. */
  maxScore: z.number().positive().nullable(),
});

/** Version 3 says where the sheet was taken from: a person may grade a sheet set aside for manual review. */
export const gradingStartedSchema = gradingStartedV2Schema.extend({
  previousStatus: z.enum(["ocr_completed", "manual_review"]),
});

export const gradingCompletedSchema = z
  .object({ ...sheetRef, graderId: personId, score, maxScore: z.number().positive(), durationMs })
  .refine((data) => data.score <= data.maxScore, { message: "must not exceed maxScore", path: ["score"] });

export const gradingFailedSchema = z.object({ ...sheetRef, graderId: personId, reason, durationMs });

export const gradingReviewedSchema = z
  .object({ ...sheetRef, reviewerId: personId, previousScore: score, score, maxScore: z.number().positive(), reason })
  .refine((data) => data.score <= data.maxScore, { message: "must not exceed maxScore", path: ["score"] });

export const sheetSubmittedV1Schema = z.object({
  ...sheetRef,
  batchId: uuid,
  pageCount: z.number().int().positive().max(100),
  /** The exam's question count and total score at submission: the sheet is graded against them. */
  questionCount: z.number().int().positive().max(500),
  maxScore: z.number().positive(),
  /** The exam's creator (who owns the sheet), and who handed the sheet in. */
  examCreatedBy: personId,
  submittedBy: personId,
});

/** The resolutions a scan may have: below 150 dpi, OCR cannot read it (tasks.ts). */
export const scanDpi = z.number().int().min(72).max(1200);

/** Version 2 carries the scan's resolution, which decides whether OCR can read the sheet at all. */
export const sheetSubmittedSchema = sheetSubmittedV1Schema.extend({
  /** Null for sheets submitted before version 2, when the resolution was not recorded. */
  dpi: scanDpi.nullable(),
});

/** Statuses a sheet can be flagged for manual review from (answer-sheet.ts). */
const flaggableStatus = z.enum(["submitted", "ocr_running", "ocr_completed", "ocr_failed", "grading_failed"]);

export const gradingReleasedSchema = z.object({
  ...sheetRef,
  /** The grader that held the sheet and gave it up. */
  graderId: personId,
  reason,
  /** Where the sheet went back to: waiting for a grader, or for the person reviewing it. */
  returnedTo: z.enum(["ocr_completed", "manual_review"]),
});

export const sheetFlaggedForReviewSchema = z.object({ ...sheetRef, reason, previousStatus: flaggableStatus });

export const gradingOverdueSchema = z.object({
  ...sheetRef,
  /** How long the sheet had been in the pipeline when it was flagged. */
  overdueAfterMs: durationMs,
});

export const examResultsPublishedSchema = z.object({ examId: uuid, publishedBy: personId });

export const notificationTemplates = ["sheet_graded", "score_changed", "score_confirmed", "sheet_unreadable", "sheet_manual_review", "results_published", "report_failed"] as const;

export const notificationSentSchema = z.object({
  /** A person id, or `exam:<examId>:students` for everyone who sat an exam. */
  recipient: z.string().min(1).max(128),
  channel: z.enum(["email", "in_app"]),
  template: z.enum(notificationTemplates),
  about: z.object({ examId: uuid, sheetId: uuid.nullable() }),
});

export const batchStartedSchema = z.object({ batchId: uuid, examId: uuid, sheetCount: z.number().int().positive().max(1000) });

export const batchCompletedSchema = z
  .object({
    batchId: uuid,
    examId: uuid,
    sheetCount: z.number().int().positive().max(1000),
    gradedCount: z.number().int().nonnegative(),
    failedCount: z.number().int().nonnegative(),
    durationMs,
  })
  .refine((data) => data.gradedCount + data.failedCount === data.sheetCount, {
    message: "gradedCount + failedCount must equal sheetCount",
    path: ["sheetCount"],
  });

const componentStatus = z.enum(["up", "degraded", "down"]);

export const systemHealthCheckSchema = z.object({
  status: z.enum(["healthy", "degraded", "unhealthy"]),
  components: z
    .array(z.object({ name: z.string().min(1).max(64), status: componentStatus, latencyMs: z.number().nonnegative().nullable() }))
    .min(1),
  uptimeSeconds: z.number().int().nonnegative(),
});

export interface DomainEventData {
  "exam.created": z.infer<typeof examCreatedSchema>;
  "exam.updated": z.infer<typeof examUpdatedSchema>;
  "exam.deleted": z.infer<typeof examDeletedSchema>;
  "exam.results_published": z.infer<typeof examResultsPublishedSchema>;
  "sheet.submitted": z.infer<typeof sheetSubmittedSchema>;
  "ocr.started": z.infer<typeof ocrStartedSchema>;
  "ocr.completed": z.infer<typeof ocrCompletedSchema>;
  "ocr.failed": z.infer<typeof ocrFailedSchema>;
  "grading.started": z.infer<typeof gradingStartedSchema>;
  "grading.completed": z.infer<typeof gradingCompletedSchema>;
  "grading.failed": z.infer<typeof gradingFailedSchema>;
  "grading.reviewed": z.infer<typeof gradingReviewedSchema>;
  "grading.released": z.infer<typeof gradingReleasedSchema>;
  "grading.overdue": z.infer<typeof gradingOverdueSchema>;
  "sheet.flagged_for_review": z.infer<typeof sheetFlaggedForReviewSchema>;
  "batch.started": z.infer<typeof batchStartedSchema>;
  "batch.completed": z.infer<typeof batchCompletedSchema>;
  "system.health_check": z.infer<typeof systemHealthCheckSchema>;
  "notification.sent": z.infer<typeof notificationSentSchema>;
}

export type DomainEventType = keyof DomainEventData;
export type ExamCreatedV1 = z.infer<typeof examCreatedV1Schema>;
export type GradingStartedV1 = z.infer<typeof gradingStartedV1Schema>;
export type GradingStartedV2 = z.infer<typeof gradingStartedV2Schema>;
export type SheetSubmittedV1 = z.infer<typeof sheetSubmittedV1Schema>;

/** A domain event as deciders decide it: its type and its data at the type's latest version. */
export type DomainEvent<T extends DomainEventType = DomainEventType> = { [K in T]: { type: K; data: DomainEventData[K] } }[T];

/** In definition order; a type's versions ascend, as the registry requires. */
const definitions: ReadonlyArray<CodeEventTypeDefinition & { type: DomainEventType }> = [
  { type: "exam.created", version: 1, description: "An exam was created.", schema: examCreatedV1Schema },
  {
    type: "exam.created",
    version: 2,
    description: "An exam was created, with its duration (null for exams created before durations were recorded).",
    schema: examCreatedSchema,
    upcasters: [{ fromVersion: 1, upcast: (data) => ({ ...(data as ExamCreatedV1), durationMinutes: null }) }],
  },
  { type: "exam.updated", version: 1, description: "Some fields of an exam changed; `changes` holds the new values.", schema: examUpdatedSchema },
  { type: "exam.deleted", version: 1, description: "An exam was withdrawn.", schema: examDeletedSchema },
  { type: "exam.results_published", version: 1, description: "An exam's results were published; it accepts no more sheets.", schema: examResultsPublishedSchema },
  { type: "sheet.submitted", version: 1, description: "A scanned answer sheet was handed in for an exam.", schema: sheetSubmittedV1Schema },
  {
    type: "sheet.submitted",
    version: 2,
    description: "A scanned answer sheet was handed in for an exam, with the scan's resolution in dpi (null before version 2).",
    schema: sheetSubmittedSchema,
    upcasters: [{ fromVersion: 1, upcast: (data) => ({ ...(data as SheetSubmittedV1), dpi: null }) }],
  },
  {
    type: "sheet.flagged_for_review",
    version: 1,
    description: "A sheet was set aside for a person to grade (automatic grading gave up on it); reason says why, previousStatus where it stopped.",
    schema: sheetFlaggedForReviewSchema,
  },
  { type: "ocr.started", version: 1, description: "OCR began reading a scanned answer sheet.", schema: ocrStartedSchema },
  { type: "ocr.completed", version: 1, description: "OCR read an answer sheet; confidence is the mean over its pages.", schema: ocrCompletedSchema },
  { type: "ocr.failed", version: 1, description: "OCR could not read an answer sheet.", schema: ocrFailedSchema },
  { type: "grading.started", version: 1, description: "A grader (automatic or a person) began grading a sheet.", schema: gradingStartedV1Schema },
  {
    type: "grading.started",
    version: 2,
    description: "A grader (automatic or a person) began grading a sheet, with the question count and maximum score it grades against (null before version 2).",
    schema: gradingStartedV2Schema,
    upcasters: [{ fromVersion: 1, upcast: (data) => ({ ...(data as GradingStartedV1), questionCount: null, maxScore: null }) }],
  },
  {
    type: "grading.started",
    version: 3,
    description: "A grader began grading a sheet, taken from ocr_completed or (by a person) from manual_review; before version 3 always ocr_completed.",
    schema: gradingStartedSchema,
    // Before version 3 grading could only start once OCR had completed.
    upcasters: [{ fromVersion: 2, upcast: (data) => ({ ...(data as GradingStartedV2), previousStatus: "ocr_completed" }) }],
  },
  { type: "grading.completed", version: 1, description: "A sheet received its score.", schema: gradingCompletedSchema },
  { type: "grading.failed", version: 1, description: "Grading of a sheet failed.", schema: gradingFailedSchema },
  { type: "grading.reviewed", version: 1, description: "A reviewer changed or confirmed a sheet's score.", schema: gradingReviewedSchema },
  {
    type: "grading.released",
    version: 1,
    description: "A grader gave a sheet up before grading it: the sheet can be graded again (or waits for its manual review).",
    schema: gradingReleasedSchema,
  },
  { type: "grading.overdue", version: 1, description: "A sheet has not been graded in time: it is escalated to a person.", schema: gradingOverdueSchema },
  { type: "batch.started", version: 1, description: "A batch of answer sheets entered the pipeline.", schema: batchStartedSchema },
  { type: "batch.completed", version: 1, description: "Every sheet of a batch was graded or failed.", schema: batchCompletedSchema },
  { type: "system.health_check", version: 1, description: "Periodic status of the pipeline's components.", schema: systemHealthCheckSchema },
  { type: "notification.sent", version: 1, description: "A person was told about something that happened to an exam or a sheet.", schema: notificationSentSchema },
];

/** The version new events of each type are written with. */
export const domainSchemaVersions: Readonly<Record<DomainEventType, number>> = Object.freeze(
  definitions.reduce(
    (latest, definition) => ({ ...latest, [definition.type]: Math.max(latest[definition.type] ?? 0, definition.version) }),
    {} as Record<DomainEventType, number>,
  ),
);

export function registerDomainEventTypes(registry: EventTypeRegistry): void {
  for (const definition of definitions) registry.define(definition);
}
