import { RuleViolationError } from "@/server/engine/core/errors";
import type { Decider } from "@/server/engine/cqrs/decider";
import type { DomainEvent, DomainEventData } from "./events";

/**
 * The Exam aggregate (stream `exam-<examId>`): created by a teacher, changed while it is open,
 * withdrawn (deleted), or closed by publishing its results. Answer sheets live in their own
 * streams (answer-sheet.ts); submitting one loads the exam to check it still accepts sheets.
 */

export type ExamStatus = "open" | "results_published" | "deleted";

export type ExamChanges = DomainEventData["exam.updated"]["changes"];

export interface Exam {
  examId: string;
  title: string;
  subject: string;
  totalScore: number;
  questionCount: number;
  durationMinutes: number | null;
  /** The principal that created it: API keys without `admin` may only act on their own exams. */
  createdBy: string;
  status: ExamStatus;
}

/** Null until the exam is created. */
export type ExamState = Exam | null;

export type ExamEvent = DomainEvent<"exam.created" | "exam.updated" | "exam.deleted" | "exam.results_published">;

export type ExamCommand =
  | { type: "create"; examId: string; title: string; subject: string; totalScore: number; questionCount: number; durationMinutes: number | null; createdBy: string }
  | { type: "update"; examId: string; changes: ExamChanges; updatedBy: string }
  | { type: "delete"; examId: string; reason: string; deletedBy: string }
  | { type: "publish_results"; examId: string; publishedBy: string };

export const examStreamId = (examId: string): string => `exam-${examId}`;

/** Rejects a command on an exam that does not exist or no longer accepts changes. */
export function requireOpenExam(state: ExamState, examId: string): Exam {
  if (state === null) throw new RuleViolationError("exam_not_found", `Exam ${examId} does not exist`);
  if (state.status === "deleted") throw new RuleViolationError("exam_deleted", `Exam ${examId} was deleted`);
  if (state.status === "results_published") throw new RuleViolationError("exam_results_published", `The results of exam ${examId} are published; it can no longer change`);
  return state;
}

/** The fields of `changes` whose values differ from the exam's. */
function actualChanges(exam: Exam, changes: ExamChanges): ExamChanges {
  return Object.fromEntries(Object.entries(changes).filter(([field, value]) => value !== undefined && exam[field as keyof ExamChanges] !== value));
}

export const examDecider: Decider<ExamCommand, ExamState, ExamEvent> = {
  name: "exam",
  // Exams outlive their sheets (a term of updates, then results) and every sheet submission loads
  // one, so the exam is the aggregate worth snapshotting.
  snapshot: { every: 10, schemaVersion: 1 },
  initialState: () => null,

  evolve(state, event) {
    switch (event.type) {
      case "exam.created":
        return { ...event.data, status: "open" };
      case "exam.updated":
        return state && { ...state, ...event.data.changes };
      case "exam.deleted":
        return state && { ...state, status: "deleted" };
      case "exam.results_published":
        return state && { ...state, status: "results_published" };
    }
  },

  decide(command, state) {
    switch (command.type) {
      case "create": {
        if (state !== null) throw new RuleViolationError("exam_already_exists", `Exam ${command.examId} already exists`);
        const { type: _type, ...exam } = command;
        return [{ type: "exam.created", data: exam }];
      }
      case "update": {
        const exam = requireOpenExam(state, command.examId);
        const changes = actualChanges(exam, command.changes);
        if (Object.keys(changes).length === 0) return [];
        return [{ type: "exam.updated", data: { examId: command.examId, changes, updatedBy: command.updatedBy } }];
      }
      case "delete": {
        if (state?.status === "deleted") return [];
        requireOpenExam(state, command.examId);
        return [{ type: "exam.deleted", data: { examId: command.examId, reason: command.reason, deletedBy: command.deletedBy } }];
      }
      case "publish_results": {
        if (state?.status === "results_published") return [];
        requireOpenExam(state, command.examId);
        return [{ type: "exam.results_published", data: { examId: command.examId, publishedBy: command.publishedBy } }];
      }
    }
  },
};
