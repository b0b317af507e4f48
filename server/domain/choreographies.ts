import type { z } from "zod";
import type { EventDraft, EventEnvelope } from "@/server/engine/core/envelope";
import type { CommandExecutor } from "@/server/engine/cqrs/command";
import {
  defineChoreography,
  eventDataOf,
  parsedOrDeadLetter,
  reaction,
  taskStepMarkers,
  type ChoreographyDefinition,
} from "@/server/engine/sagas/choreography";
import { TASK_EVENT_TYPES, taskDeadSchema, taskSucceededSchema } from "@/server/engine/tasks/events";
import type { SubmitTaskRequest } from "@/server/engine/tasks/task-queue";
import type { TaskRecord } from "@/server/engine/tasks/task-store";
import { decidedEvent } from "./aggregate-events";
import { examResultsPublishedSchema } from "./events";
import { notificationDraft, type Notification } from "./notifications";
import { REACTIONS_PRINCIPAL, type DomainReaction } from "./reactions";
import { reportGenerationInput, reportSections } from "./tasks";

/**
 * The domain's choreographed saga: publishing an exam's results. Nobody orchestrates it; each
 * participant reacts to the previous event in the conversation the publication started:
 *
 *   exam.results_published (the exam aggregate decided it)
 *     -> the reporting reaction submits a `report_generation` task (low priority)
 *     -> the task's `task.succeeded` -> the notification reaction tells the students (in app)
 *
 * and if the report fails for good (`task.dead`), the notification reaction tells the staff member
 * who published the results instead: the report step shows failed, the notice as its compensation.
 * The task is submitted in the event's conversation, so its events (and the notices) carry the
 * publication's correlationid, and the saga views rebuild the flow from that correlation.
 */

export const EXAM_RESULTS_CHOREOGRAPHY = "exam_results";

const REPORT_TASK = "report_generation";
const RESULTS_NOTIFICATIONS = "exam-results-notifications";

type NotificationTemplate = Notification["template"];

/** The notification.sent events of one template. */
const notificationOf = (template: NotificationTemplate) => (event: EventEnvelope) => (event.data as Partial<Notification> | null)?.template === template;

export const examResultsChoreography: ChoreographyDefinition = defineChoreography({
  type: EXAM_RESULTS_CHOREOGRAPHY,
  description: "Publishing an exam's results: its report is generated (a report_generation task), then everyone who sat the exam is told. A report that fails for good is reported to whoever published the results.",
  startsOn: ["exam.results_published"],
  // A directly published exam.results_published went through no rule: no reaction takes it up either.
  matches: (event) => decidedEvent(event, event.subject) !== undefined,
  subject: (start) => eventDataOf(start, examResultsPublishedSchema).examId,
  steps: [
    { name: "report", description: "Generate the exam report (report_generation task, low priority).", ...taskStepMarkers(REPORT_TASK) },
    { name: "notify_students", description: "Tell everyone who sat the exam that its results are out (in app).", completesOn: ["notification.sent"], matches: notificationOf("results_published") },
    {
      name: "notify_publisher",
      description: "The report failed for good: tell whoever published the results.",
      compensates: "report",
      completesOn: ["notification.sent"],
      matches: notificationOf("report_failed"),
    },
  ],
});

export const domainChoreographies: ChoreographyDefinition[] = [examResultsChoreography];

export interface ChoreographyReactionDeps {
  commands: CommandExecutor;
  /** The task queue (TaskQueue): reports are submitted to it, and a finished report's request read back. */
  tasks: {
    submit(request: SubmitTaskRequest): Promise<unknown>;
    get(taskId: string): Promise<Pick<TaskRecord, "input"> | undefined>;
  };
  /** The event publisher, for `notification.sent`. */
  publish(drafts: EventDraft[]): Promise<unknown>;
}

/** What the report task was asked for, when `event` is the end of one (or undefined: another task, or one never queued). */
async function reportRequestOf(deps: ChoreographyReactionDeps, event: EventEnvelope): Promise<z.output<typeof reportGenerationInput> | undefined> {
  const { taskId, taskType } = event.type === TASK_EVENT_TYPES.succeeded ? eventDataOf(event, taskSucceededSchema) : eventDataOf(event, taskDeadSchema);
  if (taskType !== REPORT_TASK) return undefined;
  // Only a task the transport refused is gone; its submitter was told and submits it again.
  const task = await deps.tasks.get(taskId);
  return task && parsedOrDeadLetter(task.input, reportGenerationInput, `the input of task ${taskId}`);
}


/** The participants of the domain's choreographies, one subscription each. */
export function domainChoreographyReactions(deps: ChoreographyReactionDeps): DomainReaction[] {
  const reactionDeps = { ...deps, principal: REACTIONS_PRINCIPAL };
  return [
    reaction(
      {
        name: "exam-results-report",
        description: "Exam results: generates the report of an exam whose results were published (a report_generation task, low priority).",
        on: ["exam.results_published"],
        async handle(event, context) {
          if (!decidedEvent(event, event.subject)) return;
          const { examId, publishedBy } = eventDataOf(event, examResultsPublishedSchema);
          await context.submitTask({
            type: REPORT_TASK,
            input: { examId, format: "pdf", sections: [...reportSections], requestedBy: publishedBy } satisfies z.input<typeof reportGenerationInput>,
            priority: "low",
            idempotencyKey: `${REPORT_TASK}:${examId}`,
          });
        },
      },
      reactionDeps,
    ),
    reaction(
      {
        name: RESULTS_NOTIFICATIONS,
        description: "Exam results: once the report is ready, tells everyone who sat the exam that its results are out; if the report failed for good, tells whoever published them.",
        on: [TASK_EVENT_TYPES.succeeded, TASK_EVENT_TYPES.dead],
        async handle(event, context) {
          const report = await reportRequestOf(deps, event);
          if (!report) return;
          const about = { examId: report.examId, sheetId: null };
          const notification: Notification =
            event.type === TASK_EVENT_TYPES.succeeded
              ? { recipient: `exam:${report.examId}:students`, channel: "in_app", template: "results_published", about }
              : { recipient: report.requestedBy, channel: "email", template: "report_failed", about };
          // The emit puts the notice in the event's conversation; its id is the event's, so a redelivery stores one.
          await context.emit([notificationDraft(notification, { name: `${RESULTS_NOTIFICATIONS}:${event.id}` })]);
        },
      },
      reactionDeps,
    ),
  ];
}
