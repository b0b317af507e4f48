import { v5 as uuidv5 } from "uuid";
import { z } from "zod";
import type { EventDraft } from "@/server/engine/core/envelope";
import { systemPrincipal } from "@/server/engine/core/principal";
import type { CommandExecutor, CommandResult } from "@/server/engine/cqrs/command";
import { defineSaga, type SagaChildrenResult, type SagaDefinition, type StepContext } from "@/server/engine/sagas/saga-definition";
import { batchCompletedSchema, domainSchemaVersions, scanDpi, sheetSubmittedSchema, type DomainEventData } from "./events";
import { clientUuid } from "./ids";
import { notificationDraft } from "./notifications";
import { gradingExecutionInput, gradingExecutionResult, ocrProcessingInput, ocrProcessingResult } from "./tasks";

/**
 * The domain's orchestrated sagas (server/engine/sagas):
 *
 * - `sheet_grading`, one per submitted sheet (started by a reaction on `sheet.submitted`, id
 *   {@link gradingSagaId}): start OCR -> the OCR task -> record its result -> reserve the automatic
 *   grader -> the grading task -> record the grade -> tell the student. When a step fails for good
 *   the grader is released and the sheet is flagged for a person to grade (whose student is then
 *   told, by the notification reaction). A scan below 150 dpi fails at `ocr` this way, every time.
 *   Not graded within 10 minutes: the sheet is flagged overdue and the saga goes on.
 * - `exam_batch`: announces a batch, submits its sheets, waits for every sheet's `sheet_grading`
 *   saga to end, and reports how many were graded.
 *
 * Any step may run again (a retry, or a worker that died before saving what it did), always with
 * the same idempotency key: commands replay their first result under it, tasks return the first
 * task, and events the steps publish have ids derived from it. The deciders decide nothing when a
 * step is started or an outcome recorded again, so even a replay the key no longer covers changes
 * nothing.
 */

export const SHEET_GRADING = "sheet_grading";
export const EXAM_BATCH = "exam_batch";
/** The automatic grader's id, on the sheets it grades. */
export const AUTO_GRADER = "grader-auto";
/** The OCR engine sheets are read with. */
export const OCR_ENGINE = "handwriting-v3" satisfies z.input<typeof ocrProcessingInput>["engine"];
/** Past this, a sheet still being graded is escalated (flagged overdue). */
export const GRADING_DEADLINE_MS = 10 * 60_000;

/** Commands a saga's local steps run go as the principal the orchestrator runs command steps as. */
const SAGAS_PRINCIPAL = systemPrincipal("sagas");
const SAGA_ID_NAMESPACE = "0d6c7f4e-2b51-4f7b-9a39-4f0c5b1e8d21";
const BATCH_EVENT_NAMESPACE = "6a0f3c55-6c2f-4d8e-8f0e-2c9b7d31a4e7";

/** The sheet's grading saga: one per sheet, whoever starts it (the reaction, a batch, an operator). */
export const gradingSagaId = (sheetId: string): string => uuidv5(sheetId.toLowerCase(), SAGA_ID_NAMESPACE);

/** What grading a sheet needs: the facts of its `sheet.submitted`. */
export const sheetGradingInput = sheetSubmittedSchema.pick({
  sheetId: true,
  examId: true,
  studentId: true,
  batchId: true,
  pageCount: true,
  dpi: true,
  questionCount: true,
  maxScore: true,
});
export type SheetGradingInput = z.infer<typeof sheetGradingInput>;

type OcrResult = z.infer<typeof ocrProcessingResult>;

export interface SheetGradingData {
  sheet: SheetGradingInput;
  /** The OCR task's result, once the `ocr` step completed. */
  ocr: OcrResult | null;
  /** The grading task's score, once the `grade` step completed. */
  grade: { score: number; durationMs: number } | null;
  /** The `grading.completed` event: what the student's notification follows from. */
  gradedEventId: string | null;
}

export const examBatchInput = z
  .object({
    examId: clientUuid,
    batchId: clientUuid,
    /**
     * The exam's question count and total score: what its sheets are graded against. A sheet's
     * saga is normally started from its `sheet.submitted`, which carries them; these matter when
     * the batch gets to a sheet's saga first.
     */
    questionCount: sheetSubmittedSchema.shape.questionCount,
    maxScore: gradingExecutionInput.shape.maxScore,
    sheets: z
      .array(z.object({ sheetId: clientUuid, studentId: sheetSubmittedSchema.shape.studentId, pageCount: sheetSubmittedSchema.shape.pageCount, dpi: scanDpi.default(300) }))
      .min(1)
      .max(1000),
  })
  .refine((batch) => new Set(batch.sheets.map((sheet) => sheet.sheetId)).size === batch.sheets.length, {
    message: "every sheet needs its own sheetId",
    path: ["sheets"],
  });
export type ExamBatchInput = z.infer<typeof examBatchInput>;

export interface ExamBatchData {
  batch: ExamBatchInput;
  /** When the batch was announced (its duration is reported from it). */
  startedAt: string | null;
  /** How the sheets' sagas ended. */
  outcome: SagaChildrenResult | null;
}

export interface DomainSagaDeps {
  /** The EventPublisher: notifications and batch events. */
  publish(drafts: EventDraft[]): Promise<unknown>;
  /** The CommandBus: a batch's submissions. */
  commands: CommandExecutor;
}

/** A value a step needs from an earlier one; missing means the saga's data was tampered with. */
function earlier<T>(value: T | null, what: string): T {
  if (value === null) throw new Error(`the saga's data has no ${what} yet`);
  return value;
}

const gaveUp = (context: StepContext): string => `automatic grading gave up (saga ${context.sagaId}); see the saga for the failed step`;

function sheetGrading(deps: DomainSagaDeps): SagaDefinition<SheetGradingInput, SheetGradingData> {
  return defineSaga<SheetGradingInput, SheetGradingData>({
    type: SHEET_GRADING,
    description: "Grades one answer sheet: OCR, automatic grading, the result recorded and the student told; on failure the grader is released and the sheet goes to a person.",
    input: sheetGradingInput,
    initialData: (sheet) => ({ sheet, ocr: null, grade: null, gradedEventId: null }),
    subject: (sheet) => sheet.sheetId,
    steps: [
      {
        name: "start_ocr",
        description: "Marks the sheet as being read (sheet.start_ocr).",
        action: { kind: "command", command: "sheet.start_ocr", input: ({ data }) => ({ sheetId: data.sheet.sheetId, engine: OCR_ENGINE }) },
        compensation: {
          kind: "command",
          command: "sheet.flag_for_review",
          input: (context) => ({ sheetId: context.data.sheet.sheetId, reason: gaveUp(context) }),
        },
      },
      {
        name: "ocr",
        description: "Reads the scan (an ocr_processing task, high priority). A scan below 150 dpi fails for good.",
        action: {
          kind: "task",
          taskType: "ocr_processing",
          priority: "high",
          input: ({ data: { sheet } }) =>
            ({
              sheetId: sheet.sheetId, examId: sheet.examId, studentId: sheet.studentId, pageCount: sheet.pageCount, engine: OCR_ENGINE,
              ...(sheet.dpi === null ? {} : { dpi: sheet.dpi }),
            }) satisfies z.input<typeof ocrProcessingInput>,
        },
        // The wait includes the task queue's own retries of a failed attempt.
        timeoutMs: 5 * 60_000,
        apply: (data, result) => ({ ...data, ocr: ocrProcessingResult.parse(result) }),
      },
      {
        name: "record_ocr",
        description: "Records what OCR read on the sheet (sheet.record_ocr).",
        action: {
          kind: "command",
          command: "sheet.record_ocr",
          input: ({ data }) => {
            const { confidence, answersDetected, durationMs } = earlier(data.ocr, "OCR result");
            return { sheetId: data.sheet.sheetId, outcome: "completed", confidence, answersDetected, durationMs };
          },
        },
      },
      {
        name: "reserve_grader",
        description: "Reserves the automatic grader for the sheet (sheet.start_grading).",
        action: { kind: "command", command: "sheet.start_grading", input: ({ data }) => ({ sheetId: data.sheet.sheetId, graderId: AUTO_GRADER, method: "auto" }) },
        compensation: {
          kind: "command",
          command: "sheet.release_grader",
          input: (context) => ({ sheetId: context.data.sheet.sheetId, graderId: AUTO_GRADER, reason: gaveUp(context) }),
        },
      },
      {
        name: "grade",
        description: "Grades the answers (a grading_execution task, high priority).",
        action: {
          kind: "task",
          taskType: "grading_execution",
          priority: "high",
          input: ({ data: { sheet } }) =>
            ({
              sheetId: sheet.sheetId, examId: sheet.examId, studentId: sheet.studentId, questionCount: sheet.questionCount, maxScore: sheet.maxScore, method: "auto",
            }) satisfies z.input<typeof gradingExecutionInput>,
        },
        timeoutMs: 5 * 60_000,
        apply: (data, result) => {
          const { score, durationMs } = gradingExecutionResult.parse(result);
          return { ...data, grade: { score, durationMs } };
        },
      },
      {
        name: "publish_result",
        description: "Records the sheet's score (sheet.record_grade).",
        action: {
          kind: "command",
          command: "sheet.record_grade",
          input: ({ data }) => ({ sheetId: data.sheet.sheetId, outcome: "completed", ...earlier(data.grade, "grade") }),
        },
        apply: (data, result) => ({ ...data, gradedEventId: (result as CommandResult).events.find((event) => event.type === "grading.completed")?.id ?? data.gradedEventId }),
      },
      {
        name: "notify",
        description: "Tells the student their sheet was graded (notification.sent).",
        action: {
          kind: "local",
          async run(context) {
            const { sheet } = context.data;
            const draft = notificationDraft(
              { recipient: sheet.studentId, channel: "email", template: "sheet_graded", about: { examId: sheet.examId, sheetId: sheet.sheetId } },
              {
                name: context.idempotencyKey,
                correlationid: context.correlationid,
                ...(context.data.gradedEventId === null ? {} : { causationid: context.data.gradedEventId }),
                ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
              },
            );
            await deps.publish([draft]);
            return { notificationId: draft.id };
          },
        },
      },
    ],
    deadline: {
      afterMs: GRADING_DEADLINE_MS,
      onExpiry: "escalate",
      escalation: { kind: "command", command: "sheet.flag_overdue", input: ({ data }) => ({ sheetId: data.sheet.sheetId, overdueAfterMs: GRADING_DEADLINE_MS }) },
    },
  });
}

type BatchEvent = "batch.started" | "batch.completed";

/** A batch event whose id is derived from the step's idempotency key: published again, stored once. */
function batchEvent<T extends BatchEvent>(type: T, data: DomainEventData[T], context: StepContext<ExamBatchData>): EventDraft<DomainEventData[T]> {
  return {
    id: uuidv5(context.idempotencyKey, BATCH_EVENT_NAMESPACE),
    type,
    data,
    subject: context.data.batch.batchId,
    partitionkey: context.data.batch.batchId,
    correlationid: context.correlationid,
    ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
    schemaversion: domainSchemaVersions[type],
  };
}

function examBatch(deps: DomainSagaDeps): SagaDefinition<ExamBatchInput, ExamBatchData> {
  return defineSaga<ExamBatchInput, ExamBatchData>({
    type: EXAM_BATCH,
    description: "Submits a batch of answer sheets, waits until every sheet's grading saga ended, and reports how many were graded.",
    input: examBatchInput,
    initialData: (batch) => ({ batch, startedAt: null, outcome: null }),
    subject: (batch) => batch.batchId,
    steps: [
      {
        name: "announce",
        description: "Announces the batch (batch.started).",
        action: {
          kind: "local",
          async run(context) {
            const { batchId, examId, sheets } = context.data.batch;
            await deps.publish([batchEvent("batch.started", { batchId, examId, sheetCount: sheets.length }, context)]);
            return { startedAt: new Date().toISOString() };
          },
        },
        apply: (data, result) => ({ ...data, startedAt: (result as { startedAt: string }).startedAt }),
      },
      {
        name: "submit",
        description: "Submits every sheet (sheet.submit, one idempotency key per sheet).",
        action: {
          kind: "local",
          async run(context) {
            const { batch } = context.data;
            for (const sheet of batch.sheets) {
              context.signal.throwIfAborted();
              await deps.commands.execute(
                "sheet.submit",
                { sheetId: sheet.sheetId, examId: batch.examId, batchId: batch.batchId, studentId: sheet.studentId, pageCount: sheet.pageCount, dpi: sheet.dpi },
                {
                  principal: SAGAS_PRINCIPAL,
                  idempotencyKey: `${context.idempotencyKey}:${sheet.sheetId}`,
                  correlationid: context.correlationid,
                  ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
                },
              );
            }
            return { submitted: batch.sheets.length };
          },
        },
        timeoutMs: 5 * 60_000,
      },
      {
        name: "grade",
        description: "Waits for every sheet's sheet_grading saga (those the submissions started; any not started yet is started here).",
        action: {
          kind: "children",
          sagaType: SHEET_GRADING,
          children: ({ data: { batch } }) =>
            batch.sheets.map((sheet) => ({
              key: sheet.sheetId,
              sagaId: gradingSagaId(sheet.sheetId),
              input: {
                sheetId: sheet.sheetId, examId: batch.examId, studentId: sheet.studentId, batchId: batch.batchId, pageCount: sheet.pageCount, dpi: sheet.dpi,
                questionCount: batch.questionCount, maxScore: batch.maxScore,
              } satisfies SheetGradingInput,
            })),
        },
        // Sheets are graded in minutes; waiting longer only repeats the wait (the children are kept).
        timeoutMs: 30 * 60_000,
        apply: (data, result) => ({ ...data, outcome: result as SagaChildrenResult }),
      },
      {
        name: "report",
        description: "Reports the batch done, with how many sheets were graded (batch.completed).",
        action: {
          kind: "local",
          async run(context) {
            const { batch, startedAt } = context.data;
            const outcome = earlier(context.data.outcome, "outcome of the sheets");
            const durationMs = Math.max(0, Date.now() - Date.parse(earlier(startedAt, "start time")));
            const data = batchCompletedSchema.parse({
              batchId: batch.batchId, examId: batch.examId, sheetCount: outcome.total, gradedCount: outcome.completed, failedCount: outcome.failed, durationMs,
            });
            await deps.publish([batchEvent("batch.completed", data, context)]);
            return { gradedCount: outcome.completed, failedCount: outcome.failed };
          },
        },
      },
    ],
  });
}

/** The domain's saga definitions, for the orchestrator (the runtime registers them). */
export function domainSagas(deps: DomainSagaDeps): SagaDefinition[] {
  return [sheetGrading(deps), examBatch(deps)] as SagaDefinition[];
}
