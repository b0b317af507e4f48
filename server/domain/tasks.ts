import { z } from "zod";
import { NonRetryableError } from "@/server/engine/core/errors";
import { defineTaskType, type TaskContext, type TaskTypeDefinition } from "@/server/engine/tasks/task-type";
import { scanDpi } from "./events";

/**
 * The demo domain's background work (the seed's task types): OCR of a scanned answer sheet and
 * grading of a sheet (high priority: a teacher is waiting), processing of a whole batch (normal),
 * and exam reports (low). The handlers only simulate the work: they advance in steps, report
 * progress after each, fail now and then (a transient error, retried; rarely a permanent one,
 * dead at once), and stop as soon as their AbortSignal fires (timeout or shutdown).
 */

const uuid = z.uuid();
const personId = z.string().min(1).max(64);

export const ocrProcessingInput = z.object({
  sheetId: uuid,
  examId: uuid,
  studentId: personId,
  pageCount: z.number().int().positive().max(100),
  engine: z.enum(["handwriting-v3", "printed-forms-v2"]).default("handwriting-v3"),
  /** Scans below {@link MIN_OCR_DPI} are accepted, and fail: the work is what finds them unreadable. */
  dpi: scanDpi.default(300),
});

/** OCR cannot read a scan of a lower resolution: retrying will not change that. */
export const MIN_OCR_DPI = 150;

export const gradingExecutionInput = z.object({
  sheetId: uuid,
  examId: uuid,
  studentId: personId,
  questionCount: z.number().int().positive().max(500),
  maxScore: z.number().positive().max(10_000),
  method: z.enum(["auto", "manual"]).default("auto"),
});

/** What the two sheet tasks return; the `sheet_grading` saga records it on the sheet (sagas.ts). */
export const ocrProcessingResult = z.object({
  sheetId: uuid,
  pageCount: z.number().int().positive(),
  engine: z.string(),
  confidence: z.number().min(0).max(1),
  answersDetected: z.number().int().nonnegative(),
  durationMs: z.number().int().nonnegative(),
});

export const gradingExecutionResult = z.object({
  sheetId: uuid,
  score: z.number().nonnegative(),
  maxScore: z.number().positive(),
  questionsGraded: z.number().int().positive(),
  method: z.enum(["auto", "manual"]),
  durationMs: z.number().int().nonnegative(),
});

export const batchProcessingInput = z.object({
  batchId: uuid,
  examId: uuid,
  sheetCount: z.number().int().positive().max(1000),
});

export const reportSections = ["summary", "score_distribution", "question_analysis", "student_ranking", "grader_agreement"] as const;

export const reportGenerationInput = z.object({
  examId: uuid,
  format: z.enum(["pdf", "csv", "xlsx"]).default("pdf"),
  sections: z.array(z.enum(reportSections)).min(1).max(reportSections.length).default(["summary", "score_distribution"]),
  requestedBy: personId,
});

export interface DemoTaskOptions {
  /** Simulated time of one step. Default 150 ms. */
  stepMs?: number;
  /** Uniform in [0, 1). Default Math.random. */
  random?: () => number;
  /** Chance that an attempt fails with a transient (retried) error. Default 0.08. */
  transientFailureRate?: number;
  /** Chance that an attempt fails for good (dead at once). Default 0.01. */
  permanentFailureRate?: number;
}

/** A transient failure of a simulated dependency: retried on the task schedule. */
export class SimulatedOutage extends Error {
  override name = "SimulatedOutage";
}

/** Waits `ms`, or rejects with the signal's reason as soon as it is aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The four demo task types. `options` make them fast and deterministic in tests.
 */
export function demoTaskTypes(options: DemoTaskOptions = {}): Array<TaskTypeDefinition<z.ZodType, unknown>> {
  const stepMs = options.stepMs ?? 150;
  const random = options.random ?? Math.random;
  const transient = options.transientFailureRate ?? 0.08;
  const permanent = options.permanentFailureRate ?? 0.01;

  /**
   * Runs `steps` steps of simulated work. Whether (and at which step) this attempt fails is
   * drawn once at the start, so a failing attempt still shows some progress first.
   */
  const work = async (
    context: TaskContext,
    steps: number,
    describe: (step: number) => string,
    failures: { transient: string; permanent: string },
  ): Promise<void> => {
    const roll = random();
    const failAt = roll < transient + permanent ? Math.floor(random() * steps) + 1 : 0;
    for (let step = 1; step <= steps; step += 1) {
      await sleep(stepMs, context.signal);
      if (step === failAt) {
        if (roll < permanent) throw new NonRetryableError(failures.permanent);
        throw new SimulatedOutage(failures.transient);
      }
      await context.progress((step / steps) * 100, describe(step));
    }
  };
  const between = (low: number, high: number): number => low + random() * (high - low);
  const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;

  const ocrProcessing = defineTaskType({
    type: "ocr_processing",
    description: "Reads a scanned answer sheet page by page.",
    priority: "high",
    timeoutMs: 120_000,
    input: ocrProcessingInput,
    async handler(input, context) {
      const started = Date.now();
      // Found on the first page, as a real engine would: nothing on a scan this coarse is legible.
      if (input.dpi < MIN_OCR_DPI) {
        await sleep(stepMs, context.signal);
        throw new NonRetryableError(`scan at ${input.dpi} dpi is below the ${MIN_OCR_DPI} dpi OCR can read`);
      }
      await work(context, input.pageCount, (page) => `page ${page} of ${input.pageCount} read`, {
        transient: `OCR worker for ${input.engine} did not answer`,
        permanent: `page ${Math.min(2, input.pageCount)} is blank or unreadable`,
      });
      return {
        sheetId: input.sheetId,
        pageCount: input.pageCount,
        engine: input.engine,
        confidence: round(between(0.82, 0.99), 3),
        answersDetected: Math.max(1, Math.round(input.pageCount * between(4, 8))),
        durationMs: Date.now() - started,
      } satisfies z.infer<typeof ocrProcessingResult>;
    },
  });

  const gradingExecution = defineTaskType({
    type: "grading_execution",
    description: "Grades the answers of one sheet, a few questions per step.",
    priority: "high",
    timeoutMs: 180_000,
    input: gradingExecutionInput,
    async handler(input, context) {
      const started = Date.now();
      const perStep = 5;
      const steps = Math.ceil(input.questionCount / perStep);
      await work(context, steps, (step) => `${Math.min(step * perStep, input.questionCount)} of ${input.questionCount} questions graded`, {
        transient: "the grading model is overloaded",
        permanent: `answer key missing for question ${Math.ceil(input.questionCount / 2)}`,
      });
      const score = round(input.maxScore * between(0.35, 1));
      return {
        sheetId: input.sheetId, score, maxScore: input.maxScore, questionsGraded: input.questionCount, method: input.method, durationMs: Date.now() - started,
      } satisfies z.infer<typeof gradingExecutionResult>;
    },
  });

  const batchProcessing = defineTaskType({
    type: "batch_processing",
    description: "Moves a batch of answer sheets through the pipeline, ten sheets per step.",
    priority: "normal",
    input: batchProcessingInput,
    async handler(input, context) {
      const perStep = 10;
      const steps = Math.ceil(input.sheetCount / perStep);
      await work(context, steps, (step) => `${Math.min(step * perStep, input.sheetCount)} of ${input.sheetCount} sheets processed`, {
        transient: "the scan archive is unreachable",
        permanent: `batch ${input.batchId} has no scans`,
      });
      const failed = Math.floor(input.sheetCount * between(0, 0.05));
      return { batchId: input.batchId, processed: input.sheetCount - failed, failed };
    },
  });

  const reportGeneration = defineTaskType({
    type: "report_generation",
    description: "Builds an exam report, one section per step.",
    priority: "low",
    input: reportGenerationInput,
    async handler(input, context) {
      await work(context, input.sections.length, (step) => `section ${input.sections[step - 1]} written`, {
        transient: "the report renderer is restarting",
        permanent: `exam ${input.examId} has no graded sheets`,
      });
      return {
        examId: input.examId,
        format: input.format,
        sections: input.sections,
        pages: input.format === "pdf" ? input.sections.length * 2 + 1 : null,
        location: `reports/${input.examId}.${input.format}`,
      };
    },
  });

  return [ocrProcessing, gradingExecution, batchProcessing, reportGeneration] as Array<TaskTypeDefinition<z.ZodType, unknown>>;
}
