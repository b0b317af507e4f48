import { buildEnvelope, type EventEnvelope } from "@/server/engine/core/envelope";
import { newId } from "@/server/engine/core/ids";
import type { EventStore } from "@/server/engine/store/event-store";
import { answerSheetDecider, sheetStreamId, type SheetCommand, type SheetState } from "@/server/domain/answer-sheet";
import { domainSchemaVersions, type DomainEvent, type DomainEventData } from "@/server/domain/events";
import { examDecider, examStreamId, type ExamCommand, type ExamState } from "@/server/domain/exam";

/**
 * A realistic log of the exam-grading domain for the projection bench: exams created (now and then
 * updated, a few withdrawn), their sheets submitted in batches and taken through OCR and grading
 * many at a time, so one exam's and one sheet's events are spread over the log as the pipeline
 * interleaves them; some OCR and grading failures, some reviews, results published, and the
 * notifications the domain's reactions send. Every aggregate event is decided by the domain's own
 * deciders from the state their earlier events left, so the log holds nothing the deciders would
 * not. A tenth of `exam.created` and `grading.started` are stored at version 1, as an older
 * deployment wrote them, so reading them upcasts. Deterministic: the same seed, the same log
 * (ids and times apart).
 */

/** Exams taking sheets at the same time. */
const OPEN_EXAMS = 6;
const SHEETS_PER_EXAM = { min: 30, max: 70 };
const SHEETS_PER_BATCH = 10;
/**
 * Share of steps that submit a sheet; the others take an in-flight sheet one step on. A sheet
 * takes about five steps, so this keeps a few hundred sheets in flight without letting them pile up.
 */
const SUBMIT_SHARE = 0.15;
/** Simulated time between two events. */
const STEP_MS = 150;

type ExamCommandOf<T extends ExamCommand["type"]> = Omit<Extract<ExamCommand, { type: T }>, "type">;

interface SimExam {
  id: string;
  state: ExamState;
  sheetsLeft: number;
  sheetsInFlight: number;
  batchId: string;
  batchLeft: number;
}

interface SimSheet {
  id: string;
  exam: SimExam;
  state: SheetState;
  student: string;
}

/** mulberry32: a small seeded generator, so every run appends the same mix. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface LoggedEvent {
  streamId: string;
  envelope: EventEnvelope;
}

/** Generates `total` events of the domain, in log order. */
export function domainLog(total: number, seed = 1): LoggedEvent[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const start = Date.parse("2026-09-01T08:00:00Z");
  const log: LoggedEvent[] = [];

  const emit = <T extends keyof DomainEventData>(streamId: string, event: DomainEvent<T>, oldVersion?: (data: DomainEventData[T]) => unknown): void => {
    const old = oldVersion !== undefined && random() < 0.1;
    log.push({
      streamId,
      envelope: buildEnvelope({
        type: event.type,
        data: old ? oldVersion(event.data) : event.data,
        subject: streamId,
        partitionkey: streamId,
        time: new Date(start + log.length * STEP_MS).toISOString(),
        priority: event.type === "notification.sent" ? "low" : "high",
        schemaversion: old ? 1 : domainSchemaVersions[event.type],
      }),
    });
  };

  const decideExam = (exam: SimExam, command: ExamCommand): void => {
    for (const event of examDecider.decide(command, exam.state)) {
      exam.state = examDecider.evolve(exam.state, event);
      if (event.type === "exam.created") {
        emit(examStreamId(exam.id), event, ({ durationMinutes: _duration, ...v1 }) => v1);
      } else {
        emit(examStreamId(exam.id), event);
      }
    }
  };
  const decideSheet = (sheet: SimSheet, command: SheetCommand): void => {
    for (const event of answerSheetDecider.decide(command, sheet.state)) {
      sheet.state = answerSheetDecider.evolve(sheet.state, event);
      if (event.type === "grading.started") {
        emit(sheetStreamId(sheet.id), event, ({ questionCount: _questions, maxScore: _max, ...v1 }) => v1);
      } else {
        emit(sheetStreamId(sheet.id), event);
      }
      // What the notification reaction tells the student (reactions.ts).
      const template =
        event.type === "grading.completed"
          ? "sheet_graded"
          : event.type === "ocr.failed"
            ? "sheet_unreadable"
            : event.type === "grading.reviewed"
              ? event.data.score === event.data.previousScore ? "score_confirmed" : "score_changed"
              : undefined;
      if (template !== undefined) {
        emit(sheet.student, {
          type: "notification.sent",
          data: { recipient: sheet.student, channel: "email", template, about: { examId: sheet.exam.id, sheetId: sheet.id } },
        });
      }
    }
  };

  const taking: SimExam[] = [];
  const inFlight: SimSheet[] = [];
  let exams = 0;
  const createExam = (): void => {
    exams += 1;
    const teacher = `teacher-${exams % 25}`;
    const exam: SimExam = { id: newId(), state: null, sheetsLeft: 0, sheetsInFlight: 0, batchId: newId(), batchLeft: SHEETS_PER_BATCH };
    exam.sheetsLeft = SHEETS_PER_EXAM.min + Math.floor(random() * (SHEETS_PER_EXAM.max - SHEETS_PER_EXAM.min + 1));
    const create: ExamCommandOf<"create"> = {
      examId: exam.id, title: `Exam ${exams}`, subject: pick(["Mathematics", "Physics", "History", "Biology"]),
      totalScore: pick([20, 50, 100]), questionCount: pick([10, 25, 40]), durationMinutes: pick([45, 90, 120]), createdBy: teacher,
    };
    decideExam(exam, { type: "create", ...create });
    taking.push(exam);
  };
  const submitSheet = (exam: SimExam): void => {
    if (exam.batchLeft === 0) {
      exam.batchId = newId();
      exam.batchLeft = SHEETS_PER_BATCH;
    }
    exam.batchLeft -= 1;
    exam.sheetsLeft -= 1;
    exam.sheetsInFlight += 1;
    const sheet: SimSheet = { id: newId(), exam, state: null, student: `student-${Math.floor(random() * 5_000)}` };
    decideSheet(sheet, {
      type: "submit", sheetId: sheet.id, examId: exam.id, studentId: sheet.student, batchId: exam.batchId, pageCount: 1 + Math.floor(random() * 6), dpi: 300,
      exam: exam.state, submittedBy: "scanner-1",
    });
    if (exam.sheetsLeft === 0) taking.splice(taking.indexOf(exam), 1);
    inFlight.push(sheet);
  };
  const finishSheet = (index: number): void => {
    const [sheet] = inFlight.splice(index, 1);
    const exam = sheet!.exam;
    exam.sheetsInFlight -= 1;
    if (exam.sheetsLeft > 0 || exam.sheetsInFlight > 0 || exam.state?.status !== "open") return;
    if (random() < 0.03) decideExam(exam, { type: "delete", examId: exam.id, reason: "Exam withdrawn by the school", deletedBy: exam.state.createdBy });
    else {
      decideExam(exam, { type: "publish_results", examId: exam.id, publishedBy: exam.state.createdBy });
      emit(`exam:${exam.id}:students`, {
        type: "notification.sent",
        data: { recipient: `exam:${exam.id}:students`, channel: "in_app", template: "results_published", about: { examId: exam.id, sheetId: null } },
      });
    }
  };
  /** The sheet's next step, or its end. */
  const advance = (index: number): void => {
    const sheet = inFlight[index]!;
    const state = sheet.state!;
    const id = sheet.id;
    switch (state.status) {
      case "submitted":
        return decideSheet(sheet, { type: "start_ocr", sheetId: id, engine: pick(["handwriting-v3", "printed-forms-v2"]) });
      case "ocr_running":
        return decideSheet(sheet, {
          type: "record_ocr", sheetId: id,
          outcome: random() < 0.05
            ? { status: "failed", reason: "Pages too blurred to read", retryable: false, durationMs: 900 + Math.floor(random() * 2_000) }
            : { status: "completed", confidence: Math.round((0.8 + random() * 0.2) * 1000) / 1000, answersDetected: state.questionCount, durationMs: 600 + Math.floor(random() * 1_500) },
        });
      case "ocr_completed":
        return decideSheet(sheet, { type: "start_grading", sheetId: id, graderId: "grader-auto", method: "auto" });
      case "grading":
        return decideSheet(sheet, {
          type: "record_grade", sheetId: id,
          outcome: random() < 0.03
            ? { status: "failed", reason: "Answer key missing for a question", durationMs: 300 }
            : { status: "completed", score: Math.round(state.maxScore * (0.3 + random() * 0.7) * 2) / 2, durationMs: 200 + Math.floor(random() * 800) },
        });
      case "graded":
        if (random() < 0.1) {
          return decideSheet(sheet, { type: "review", sheetId: id, reviewerId: `teacher-reviewer-${Math.floor(random() * 5)}`, score: Math.min(state.maxScore, (state.score ?? 0) + 1), reason: "Partial credit for question 3" });
        }
        return finishSheet(index);
      default:
        return finishSheet(index);
    }
  };

  // Each step appends at most a few events and most append at least one; the cap only guards a bug.
  for (let step = 0; log.length < total; step++) {
    if (step > total * 10) throw new Error("bench: the simulated log stopped growing");
    if (taking.length < OPEN_EXAMS) createExam();
    else if (random() < SUBMIT_SHARE || inFlight.length === 0) submitSheet(pick(taking));
    else if (random() < 0.002) {
      const exam = pick(taking);
      decideExam(exam, { type: "update", examId: exam.id, changes: { title: `${exam.state?.title ?? "Exam"} (corrected)` }, updatedBy: "teacher-0" });
    } else advance(Math.floor(random() * inFlight.length));
  }
  return log.slice(0, total);
}

/**
 * Appends the log in appends of `perAppend` events (expected version `any`, as a batch import
 * would): a stream may appear once per append, so each append's events go stream by stream, in
 * the order the streams first appear in it.
 */
export async function appendLog(store: Pick<EventStore, "append">, log: readonly LoggedEvent[], perAppend: number): Promise<void> {
  for (let first = 0; first < log.length; first += perAppend) {
    const streams = new Map<string, EventEnvelope[]>();
    for (const { streamId, envelope } of log.slice(first, first + perAppend)) {
      const events = streams.get(streamId);
      if (events) events.push(envelope);
      else streams.set(streamId, [envelope]);
    }
    const outcome = await store.append([...streams].map(([streamId, events]) => ({ streamId, expectedVersion: "any" as const, events })));
    if (outcome.status !== "appended") throw new Error(`bench: appending the log answered ${outcome.status}`);
  }
}
