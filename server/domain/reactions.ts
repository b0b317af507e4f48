import type { z } from "zod";
import type { EventDraft, EventEnvelope } from "@/server/engine/core/envelope";
import { isEngineError, NonRetryableError } from "@/server/engine/core/errors";
import { systemPrincipal } from "@/server/engine/core/principal";
import type { SagaOperations } from "@/server/engine/sagas/ports";
import { decidedEvent } from "./aggregate-events";
import {
  gradingCompletedSchema,
  gradingReviewedSchema,
  ocrFailedSchema,
  scanDpi,
  sheetFlaggedForReviewSchema,
  sheetSubmittedSchema,
  sheetSubmittedV1Schema,
} from "./events";
import { notificationDraft, type Notification } from "./notifications";
import { AUTO_GRADER, gradingSagaId, SHEET_GRADING, type SheetGradingInput } from "./sagas";

/**
 * The domain's reactions: consumers of the log (over the transport, one consumer group each) that
 * move the pipeline on.
 *
 * - grading: a submitted sheet -> its `sheet_grading` saga (sagas.ts), which runs OCR, grading,
 *   the result and the student's notification, and compensates when a step fails for good.
 * - notification: sheets a person graded or reviewed, unreadable sheets and sheets set aside for
 *   manual review -> `notification.sent` (the saga tells students about automatic grades itself).
 * - exam reports and the "results are out" notification are a choreography (choreographies.ts);
 *   analytics needs no reaction: the `grading_stats` projection is built from the same events.
 *
 * Only events an aggregate decided are reacted to (aggregate-events.ts): the same types published
 * directly are acknowledged and left alone.
 *
 * Delivery is at least once, so every handler may run again for the same event. That is harmless:
 * a sheet's saga id is derived from the sheet (starting it again returns the one that exists),
 * and a notification's event id is derived from the event it reports, so the store keeps one.
 * The saga carries the event's conversation (correlationid) and names it as its cause.
 *
 * A saga start rejected as invalid would be rejected again: the event is dead-lettered at once
 * (NonRetryableError) for an operator to look at. Other failures (an unreachable store) are
 * retried on the subscription's schedule.
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
  /** The saga orchestrator: grading sagas are started here. */
  sagas: Pick<SagaOperations, "start">;
  /** The event publisher, for `notification.sent`. */
  publish(drafts: EventDraft[]): Promise<unknown>;
}

/** Who reactions that run commands act as (the choreographies' reactions, choreographies.ts). */
export const REACTIONS_PRINCIPAL = systemPrincipal("reactions");

/** `value` parsed, or a dead letter: data that does not fit now will not fit on a retry either. */
function parsed<TSchema extends z.ZodType>(value: unknown, schema: TSchema, what: string): z.output<TSchema> {
  const result = schema.safeParse(value);
  if (!result.success) throw new NonRetryableError(`${what} does not carry what this reaction needs: ${result.error.message}`);
  return result.data;
}

/** The event's data at the type's latest schema. */
const dataOf = <TSchema extends z.ZodType>(event: EventEnvelope, schema: TSchema): z.output<TSchema> =>
  parsed(event.data, schema, `${event.type} ${event.id} (version ${event.schemaversion})`);

/** A sheet submitted before version 2 has no recorded resolution: OCR assumes its default. */
const submittedAnyVersion = sheetSubmittedV1Schema.extend({ dpi: scanDpi.nullable().default(null) });

/** The grading saga's input: the facts of the submission. */
function gradingInputOf(event: EventEnvelope): SheetGradingInput {
  const { sheetId, examId, studentId, batchId, pageCount, dpi, questionCount, maxScore } = dataOf(
    event,
    event.schemaversion === 1 ? submittedAnyVersion : sheetSubmittedSchema,
  );
  return { sheetId, examId, studentId, batchId, pageCount, dpi, questionCount, maxScore };
}

function gradingReaction(deps: DomainReactionDeps): DomainReaction {
  return {
    name: "sheet-grading",
    description: "Grading: starts the sheet_grading saga of every submitted sheet (OCR, grading, the result, the student told).",
    types: ["sheet.submitted"],
    async handle(event) {
      if (!decidedEvent(event, event.subject)) return;
      const input = gradingInputOf(event);
      try {
        await deps.sagas.start(SHEET_GRADING, input, {
          id: gradingSagaId(input.sheetId),
          correlationid: event.correlationid,
          causationid: event.id,
          ...(event.traceparent === undefined ? {} : { traceparent: event.traceparent }),
        });
      } catch (error) {
        if (isEngineError(error) && (error.code === "validation" || error.code === "not_found")) {
          throw new NonRetryableError(`${SHEET_GRADING} for ${event.type} ${event.id} was not started: ${error.message}`, { cause: error });
        }
        throw error;
      }
    },
  };
}

/** Who is told what about the event; undefined when the grading saga tells them itself. */
function notificationOf(event: EventEnvelope): Notification | undefined {
  switch (event.type) {
    case "grading.completed": {
      const { studentId, examId, sheetId, graderId } = dataOf(event, gradingCompletedSchema);
      if (graderId === AUTO_GRADER) return undefined;
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
      const { studentId, examId, sheetId } = dataOf(event, sheetFlaggedForReviewSchema);
      return { recipient: studentId, channel: "email", template: "sheet_manual_review", about: { examId, sheetId } };
    }
  }
}

function notificationReaction(deps: DomainReactionDeps): DomainReaction {
  return {
    name: "exam-notifications",
    description: "Notifications: tells students their sheet was graded by a person, reviewed, could not be read, or was set aside for manual review.",
    types: ["grading.completed", "grading.reviewed", "ocr.failed", "sheet.flagged_for_review"],
    async handle(event) {
      if (!decidedEvent(event, event.subject)) return;
      const notification = notificationOf(event);
      if (!notification) return;
      await deps.publish([
        notificationDraft(notification, {
          name: event.id,
          correlationid: event.correlationid,
          causationid: event.id,
          ...(event.traceparent === undefined ? {} : { traceparent: event.traceparent }),
        }),
      ]);
    },
  };
}

export function domainReactions(deps: DomainReactionDeps): DomainReaction[] {
  return [gradingReaction(deps), notificationReaction(deps)];
}
