import { v5 as uuidv5 } from "uuid";
import type { z } from "zod";
import type { EventDraft, EventEnvelope } from "@/server/engine/core/envelope";
import { isEngineError, NonRetryableError } from "@/server/engine/core/errors";
import { systemPrincipal } from "@/server/engine/core/principal";
import type { CommandExecutor, CommandResult } from "@/server/engine/cqrs/command";
import { TASK_EVENT_TYPES, taskDeadSchema, taskSucceededSchema, type TaskDeadData, type TaskSucceededData } from "@/server/engine/tasks/events";
import type { SubmitTaskRequest } from "@/server/engine/tasks/task-queue";
import type { TaskRecord } from "@/server/engine/tasks/task-store";
import {
  domainSchemaVersions,
  examResultsPublishedSchema,
  gradingCompletedSchema,
  gradingReviewedSchema,
  gradingStartedSchema,
  ocrCompletedSchema,
  ocrFailedSchema,
  sheetSubmittedSchema,
  type DomainEventData,
} from "./events";
import { decidedEvent } from "./aggregate-events";
import { gradingExecutionInput, gradingExecutionResult, ocrProcessingInput, ocrProcessingResult, reportSections } from "./tasks";

/**
 * The domain's reactions: consumers of the log (over the transport, one consumer group each) that
 * move the pipeline on by running commands, submitting tasks and telling people.
 *
 * - processing (OCR): a submitted sheet -> `sheet.start_ocr` and an `ocr_processing` task (high
 *   priority); the task's end -> `sheet.record_ocr`.
 * - grading: OCR completed -> `sheet.start_grading` (automatic); automatic grading started -> a
 *   `grading_execution` task (high); the task's end -> `sheet.record_grade`.
 * - exam: results published -> a `report_generation` task (low).
 * - notification: graded, reviewed, unreadable sheets and published results -> `notification.sent`.
 * - analytics needs no reaction: the `grading_stats` projection (projections.ts) is built from the
 *   same events.
 *
 * Only events an aggregate decided are reacted to (aggregate-events.ts): the same types published
 * directly are acknowledged and left alone.
 *
 * Delivery is at least once, so every handler may run again for the same event. That is harmless:
 * the deciders decide nothing when a step is started or an outcome recorded again, tasks are
 * submitted with an idempotency key per sheet (or exam), and a notification's event id is derived
 * from the event it reports, so the store keeps one. Commands run as the `reactions` system
 * principal, in the event's conversation (correlationid) and caused by it (causationid).
 *
 * A command rejected by a business rule or as invalid will be rejected again: the event is
 * dead-lettered at once (NonRetryableError), with the rule, for an operator to look at. Other
 * failures (a version conflict after the command's own retries, an unreachable store) are retried
 * on the subscription's schedule.
 */

/** Structurally a `SubscriptionDefinition` (server/runtime/subscriptions.ts): the runtime defines one per reaction. */
export interface DomainReaction {
  /** Also the consumer group's name. */
  name: string;
  description: string;
  types: string[];
  handle(event: EventEnvelope, context: { attempt: number }): Promise<void>;
}

export interface DomainReactionDeps {
  commands: CommandExecutor;
  /** The task queue (TaskQueue). */
  tasks: {
    submit(request: SubmitTaskRequest): Promise<unknown>;
    get(taskId: string): Promise<Pick<TaskRecord, "input" | "createdAt" | "finishedAt"> | undefined>;
  };
  /** The event publisher, for `notification.sent`. */
  publish(drafts: EventDraft[]): Promise<unknown>;
}

/** The automatic grader's id, on the sheets it grades. */
export const AUTO_GRADER = "grader-auto";
export const REACTIONS_PRINCIPAL = systemPrincipal("reactions");

/** Namespace of notification ids: uuidv5(triggering event id), the same on every redelivery. */
const NOTIFICATION_NAMESPACE = "e56f9a3f-93c0-4569-a3a1-08109f8a1bbc";

/** The OCR engine sheets are read with. */
const OCR_ENGINE = "handwriting-v3" satisfies z.input<typeof ocrProcessingInput>["engine"];

/** `value` parsed, or a dead letter: data that does not fit now will not fit on a retry either. */
function parsed<TSchema extends z.ZodType>(value: unknown, schema: TSchema, what: string): z.output<TSchema> {
  const result = schema.safeParse(value);
  if (!result.success) throw new NonRetryableError(`${what} does not carry what this reaction needs: ${result.error.message}`);
  return result.data;
}

/** The event's data at the type's latest schema. */
const dataOf = <TSchema extends z.ZodType>(event: EventEnvelope, schema: TSchema): z.output<TSchema> =>
  parsed(event.data, schema, `${event.type} ${event.id} (version ${event.schemaversion})`);

/** Runs a command on behalf of `event`. */
async function run(commands: CommandExecutor, event: EventEnvelope, name: string, input: unknown): Promise<CommandResult> {
  try {
    return await commands.execute(name, input, {
      principal: REACTIONS_PRINCIPAL,
      correlationid: event.correlationid,
      causationid: event.id,
      traceparent: event.traceparent,
    });
  } catch (error) {
    if (isEngineError(error) && (error.code === "validation" || error.code === "forbidden" || error.code === "not_found")) {
      const rule = "rule" in error ? ` by rule ${String(error.rule)}` : "";
      throw new NonRetryableError(`${name} for ${event.type} ${event.id} was rejected${rule}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function submitTask(deps: DomainReactionDeps, event: EventEnvelope, request: Omit<SubmitTaskRequest, "correlationid" | "traceparent">): Promise<unknown> {
  return deps.tasks.submit({ ...request, correlationid: event.correlationid, traceparent: event.traceparent });
}

/** How a dead task failed, in the words a failed sheet records, and how long it tried. */
async function deadTask(deps: DomainReactionDeps, dead: TaskDeadData): Promise<{ input: unknown; reason: string; durationMs: number } | undefined> {
  // A task that could not be queued was removed; its submitter was told and submits it again.
  const record = await deps.tasks.get(dead.taskId);
  if (!record) return undefined;
  const durationMs = record.finishedAt === null ? 0 : Math.max(0, Date.parse(record.finishedAt) - Date.parse(record.createdAt));
  return { input: record.input, reason: (dead.error.message || dead.error.type).slice(0, 500), durationMs };
}

/** The task event (`task.succeeded` or `task.dead`) when it is about a task of `taskType`. */
function taskEvent(event: EventEnvelope, taskType: string): { succeeded: TaskSucceededData } | { dead: TaskDeadData } | undefined {
  if (event.type === TASK_EVENT_TYPES.succeeded) {
    const data = dataOf(event, taskSucceededSchema);
    return data.taskType === taskType ? { succeeded: data } : undefined;
  }
  const data = dataOf(event, taskDeadSchema);
  return data.taskType === taskType ? { dead: data } : undefined;
}

function processingReaction(deps: DomainReactionDeps): DomainReaction {
  return {
    name: "exam-processing",
    description: "OCR: starts it for every submitted sheet (an ocr_processing task, high priority) and records how the task ended.",
    types: ["sheet.submitted", TASK_EVENT_TYPES.succeeded, TASK_EVENT_TYPES.dead],
    async handle(event) {
      if (event.type === "sheet.submitted") {
        if (!decidedEvent(event, event.subject)) return;
        const { sheetId, examId, studentId, pageCount } = dataOf(event, sheetSubmittedSchema);
        await run(deps.commands, event, "sheet.start_ocr", { sheetId, engine: OCR_ENGINE });
        await submitTask(deps, event, {
          type: "ocr_processing",
          input: { sheetId, examId, studentId, pageCount, engine: OCR_ENGINE } satisfies z.input<typeof ocrProcessingInput>,
          priority: "high",
          idempotencyKey: `ocr_processing:${sheetId}`,
        });
        return;
      }
      const task = taskEvent(event, "ocr_processing");
      if (task && "succeeded" in task) {
        const result = parsed(task.succeeded.result, ocrProcessingResult, `the result of task ${task.succeeded.taskId}`);
        const { sheetId, confidence, answersDetected, durationMs } = result;
        await run(deps.commands, event, "sheet.record_ocr", { sheetId, outcome: "completed", confidence, answersDetected, durationMs });
      } else if (task) {
        const failure = await deadTask(deps, task.dead);
        if (!failure) return;
        const { sheetId } = parsed(failure.input, ocrProcessingInput, `the input of task ${task.dead.taskId}`);
        // Out of attempts: a transient cause (an outage) that may pass; non-retryable: the scan itself.
        const retryable = task.dead.reason === "attempts_exhausted";
        await run(deps.commands, event, "sheet.record_ocr", { sheetId, outcome: "failed", reason: failure.reason, retryable, durationMs: failure.durationMs });
      }
    },
  };
}

function gradingReaction(deps: DomainReactionDeps): DomainReaction {
  return {
    name: "exam-grading",
    description: "Grading: starts automatic grading of every sheet OCR read (a grading_execution task, high priority) and records how the task ended.",
    types: ["ocr.completed", "grading.started", TASK_EVENT_TYPES.succeeded, TASK_EVENT_TYPES.dead],
    async handle(event) {
      if ((event.type === "ocr.completed" || event.type === "grading.started") && !decidedEvent(event, event.subject)) return;
      if (event.type === "ocr.completed") {
        const { sheetId } = dataOf(event, ocrCompletedSchema);
        await run(deps.commands, event, "sheet.start_grading", { sheetId, graderId: AUTO_GRADER, method: "auto" });
        return;
      }
      if (event.type === "grading.started") {
        const { sheetId, examId, studentId, method, questionCount, maxScore } = dataOf(event, gradingStartedSchema);
        // A person grading by hand records the grade themselves.
        if (method !== "auto") return;
        if (questionCount === null || maxScore === null) throw new NonRetryableError(`grading.started ${event.id} predates version 2: it has no question count or maximum score to grade against`);
        await submitTask(deps, event, {
          type: "grading_execution",
          input: { sheetId, examId, studentId, questionCount, maxScore, method } satisfies z.input<typeof gradingExecutionInput>,
          priority: "high",
          idempotencyKey: `grading_execution:${sheetId}`,
        });
        return;
      }
      const task = taskEvent(event, "grading_execution");
      if (task && "succeeded" in task) {
        const { sheetId, score } = parsed(task.succeeded.result, gradingExecutionResult, `the result of task ${task.succeeded.taskId}`);
        await run(deps.commands, event, "sheet.record_grade", { sheetId, outcome: "completed", score, durationMs: task.succeeded.durationMs });
      } else if (task) {
        const failure = await deadTask(deps, task.dead);
        if (!failure) return;
        const { sheetId } = parsed(failure.input, gradingExecutionInput, `the input of task ${task.dead.taskId}`);
        await run(deps.commands, event, "sheet.record_grade", { sheetId, outcome: "failed", reason: failure.reason, durationMs: failure.durationMs });
      }
    },
  };
}

function examReaction(deps: DomainReactionDeps): DomainReaction {
  return {
    name: "exam-reports",
    description: "Exams: generates the report of an exam whose results were published (a report_generation task, low priority).",
    types: ["exam.results_published"],
    async handle(event) {
      if (!decidedEvent(event, event.subject)) return;
      const { examId, publishedBy } = dataOf(event, examResultsPublishedSchema);
      await submitTask(deps, event, {
        type: "report_generation",
        input: { examId, format: "pdf", sections: [...reportSections], requestedBy: publishedBy },
        priority: "low",
        idempotencyKey: `report_generation:${examId}`,
      });
    },
  };
}

type Notification = DomainEventData["notification.sent"];

/** Who is told what about the event. */
function notificationOf(event: EventEnvelope): Notification {
  switch (event.type) {
    case "grading.completed": {
      const { studentId, examId, sheetId } = dataOf(event, gradingCompletedSchema);
      return { recipient: studentId, channel: "email", template: "sheet_graded", about: { examId, sheetId } };
    }
    case "grading.reviewed": {
      const { studentId, examId, sheetId, previousScore, score } = dataOf(event, gradingReviewedSchema);
      return { recipient: studentId, channel: "email", template: score === previousScore ? "score_confirmed" : "score_changed", about: { examId, sheetId } };
    }
    case "ocr.failed": {
      const { studentId, examId, sheetId } = dataOf(event, ocrFailedSchema);
      return { recipient: studentId, channel: "email", template: "sheet_unreadable", about: { examId, sheetId } };
    }
    default: {
      const { examId } = dataOf(event, examResultsPublishedSchema);
      return { recipient: `exam:${examId}:students`, channel: "in_app", template: "results_published", about: { examId, sheetId: null } };
    }
  }
}

function notificationReaction(deps: DomainReactionDeps): DomainReaction {
  return {
    name: "exam-notifications",
    description: "Notifications: tells students their sheet was graded, reviewed or could not be read, and everyone who sat an exam that its results are out.",
    types: ["grading.completed", "grading.reviewed", "ocr.failed", "exam.results_published"],
    async handle(event) {
      if (!decidedEvent(event, event.subject)) return;
      const notification = notificationOf(event);
      await deps.publish([
        {
          id: uuidv5(event.id, NOTIFICATION_NAMESPACE),
          type: "notification.sent",
          data: notification,
          subject: notification.recipient,
          partitionkey: notification.recipient,
          correlationid: event.correlationid,
          causationid: event.id,
          traceparent: event.traceparent,
          priority: "low",
          schemaversion: domainSchemaVersions["notification.sent"],
        } satisfies EventDraft<Notification>,
      ]);
    },
  };
}

export function domainReactions(deps: DomainReactionDeps): DomainReaction[] {
  return [processingReaction(deps), gradingReaction(deps), examReaction(deps), notificationReaction(deps)];
}
