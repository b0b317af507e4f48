import { sheetStreamId, type SheetEvent } from "./answer-sheet";
import { examStreamId, type ExamEvent } from "./exam";

/**
 * Only events an aggregate decided are facts of the domain: they live in the aggregate's stream
 * (`exam-<id>`, `sheet-<id>`). The same types published directly (`POST /api/v1/events`, or by the
 * demo traffic of earlier versions) never went through the deciders' rules, so projections skip
 * them and reactions ignore them (a directly published `ocr.completed` must not start grading a
 * sheet no aggregate knows).
 */

export type AggregateEvent = ExamEvent | SheetEvent;

const EXAM_EVENT_TYPES: ReadonlySet<string> = new Set<ExamEvent["type"]>(["exam.created", "exam.updated", "exam.deleted", "exam.results_published"]);
const SHEET_EVENT_TYPES: ReadonlySet<string> = new Set<SheetEvent["type"]>([
  "sheet.submitted", "ocr.started", "ocr.completed", "ocr.failed", "grading.started", "grading.completed", "grading.failed", "grading.reviewed",
  "grading.released", "grading.overdue", "sheet.flagged_for_review",
]);

/**
 * The event as its aggregate decided it, or undefined when it is not an aggregate's. `streamId` is
 * the stored event's stream, or on the transport its `subject` (the command bus sets it to the stream).
 */
export function decidedEvent(event: { type: string; data: unknown }, streamId: string | undefined): AggregateEvent | undefined {
  const decided = { type: event.type, data: event.data } as AggregateEvent;
  if (EXAM_EVENT_TYPES.has(event.type)) return streamId === examStreamId((decided.data as { examId: string }).examId) ? decided : undefined;
  if (SHEET_EVENT_TYPES.has(event.type)) return streamId === sheetStreamId((decided.data as { sheetId: string }).sheetId) ? decided : undefined;
  return undefined;
}

export const isSheetEvent = (event: AggregateEvent): event is SheetEvent => SHEET_EVENT_TYPES.has(event.type);
