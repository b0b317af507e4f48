import { v7 as uuidv7 } from "uuid";
import type { EventDraft, Priority } from "@/server/engine/core/envelope";
import { domainSchemaVersions, type DomainEventData, type DomainEventType } from "./events";

/**
 * Live demo traffic: plays the exam-grading pipeline at a few events per second so a fresh
 * install has a moving dashboard. Every flow is causally linked: an exam's events (its batches
 * and sheets included) share the exam.created event's id as `correlationid`, and each event names
 * the one it follows as `causationid`.
 *
 * A flow: exam.created -> sometimes exam.updated -> (rarely exam.deleted, ending it) -> one or
 * two batches: batch.started -> per sheet ocr.started -> ocr.completed | ocr.failed ->
 * grading.started -> grading.completed | grading.failed -> sometimes grading.reviewed; once every
 * sheet is finished, batch.completed.
 *
 * One event per tick; the next tick is scheduled after the publish settles, so a slow store slows
 * the demo instead of piling up timers. Given a seeded `random` (and fake timers for Date.now),
 * the drafts are fully deterministic, ids included.
 */

export interface DemoTrafficOptions {
  publish: (drafts: EventDraft[]) => Promise<unknown>;
  /** Default 3. */
  ratePerSecond?: number;
  /** Uniform in [0, 1). Default Math.random. */
  random?: () => number;
  /** A failed publish is reported here and the demo carries on. Default: console.error. */
  onError?: (error: unknown) => void;
}

export interface DemoTraffic {
  /** Stops scheduling and waits for the publish in flight. */
  stop(): Promise<void>;
}

const MAX_ACTIVE_EXAMS = 3;
const SOURCE = "urn:eventloom:demo";

const EXAM_TEMPLATES = [
  { title: "Algebra II: Midterm", subject: "Mathematics", questionCount: 20, totalScore: 100, durationMinutes: 90 },
  { title: "Cell Biology: Unit Test 3", subject: "Biology", questionCount: 30, totalScore: 60, durationMinutes: 45 },
  { title: "Modern European History: Final", subject: "History", questionCount: 12, totalScore: 120, durationMinutes: 120 },
  { title: "Organic Chemistry: Quiz 5", subject: "Chemistry", questionCount: 10, totalScore: 20, durationMinutes: 25 },
  { title: "English Literature: Essay Exam", subject: "English", questionCount: 3, totalScore: 50, durationMinutes: 100 },
  { title: "Mechanics: Problem Set Exam", subject: "Physics", questionCount: 15, totalScore: 75, durationMinutes: 60 },
] as const;
const TEACHERS = ["teacher-okafor", "teacher-lindqvist", "teacher-haddad", "teacher-moreau", "teacher-tanaka"] as const;
const AUTO_GRADERS = ["grader-auto-1", "grader-auto-2"] as const;
const OCR_ENGINES = ["handwriting-v3", "printed-forms-v2"] as const;
const OCR_FAILURES = [
  { reason: "page 2 is blank or unreadable", retryable: false },
  { reason: "scan resolution below 150 dpi", retryable: false },
  { reason: "OCR worker timed out", retryable: true },
] as const;
const GRADING_FAILURES = ["answer key missing for question 7", "grader lost its lease", "free-text answer exceeds model context"] as const;
const REVIEW_REASONS = ["student appeal", "random quality sample", "partial credit on question 4", "transcription error found by teacher"] as const;

type SheetStage = "pending" | "ocr_started" | "ocr_completed" | "grading_started" | "graded" | "done";

interface Sheet {
  sheetId: string;
  studentId: string;
  pageCount: number;
  stage: SheetStage;
  failed: boolean;
  graderId: string;
  score: number;
  lastEventId: string;
}

interface Batch {
  batchId: string;
  startedEventId: string;
  sheets: Sheet[];
  /** Id of the event that finished the last open sheet; batch.completed follows it. */
  lastSheetEventId: string;
  startedAtTick: number;
}

interface Exam {
  examId: string;
  correlationid: string;
  /** Latest exam-level event (created, updated, batch.completed): what the next exam-level event follows. */
  lastEventId: string;
  totalScore: number;
  questionCount: number;
  updated: boolean;
  batchesLeft: number;
  batch: Batch | undefined;
}

type Step = () => EventDraft;

export function startDemoTraffic(options: DemoTrafficOptions): DemoTraffic {
  const rate = options.ratePerSecond ?? 3;
  if (!(Number.isFinite(rate) && rate > 0)) throw new RangeError(`ratePerSecond must be a positive number, got ${rate}`);
  const random = options.random ?? Math.random;
  const onError = options.onError ?? ((error: unknown) => console.error("[demo-traffic] publish failed", error));
  const tickMs = 1000 / rate;

  const exams: Exam[] = [];
  let tick = 0;

  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const chance = (probability: number) => random() < probability;
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const newId = () => {
    const bytes = new Uint8Array(16);
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(random() * 256);
    return uuidv7({ msecs: Date.now(), random: bytes });
  };

  function draft<T extends DomainEventType>(
    type: T,
    data: DomainEventData[T],
    context: { id?: string; correlationid: string; causationid?: string; key: string; priority: Priority },
  ): EventDraft<DomainEventData[T]> {
    const result: EventDraft<DomainEventData[T]> = {
      id: context.id ?? newId(),
      type,
      data,
      source: SOURCE,
      subject: context.key,
      partitionkey: context.key,
      correlationid: context.correlationid,
      priority: context.priority,
      schemaversion: domainSchemaVersions[type],
    };
    if (context.causationid !== undefined) result.causationid = context.causationid;
    return result;
  }

  function createExam(): EventDraft {
    const template = pick(EXAM_TEMPLATES);
    const examId = newId();
    const id = newId();
    exams.push({
      examId, correlationid: id, lastEventId: id, totalScore: template.totalScore, questionCount: template.questionCount,
      updated: false, batchesLeft: between(1, 2), batch: undefined,
    });
    return draft("exam.created", { examId, createdBy: pick(TEACHERS), ...template }, { id, correlationid: id, key: examId, priority: "normal" });
  }

  function examDraft<T extends DomainEventType>(exam: Exam, type: T, data: DomainEventData[T]): EventDraft {
    const event = draft(type, data, { correlationid: exam.correlationid, causationid: exam.lastEventId, key: exam.examId, priority: "normal" });
    exam.lastEventId = event.id as string;
    return event;
  }

  function sheetDraft<T extends DomainEventType>(exam: Exam, sheet: Sheet, type: T, data: DomainEventData[T]): EventDraft {
    const event = draft(type, data, { correlationid: exam.correlationid, causationid: sheet.lastEventId, key: sheet.sheetId, priority: "high" });
    sheet.lastEventId = event.id as string;
    return event;
  }

  function finishSheet(batch: Batch, sheet: Sheet, failed: boolean): void {
    sheet.stage = "done";
    sheet.failed = failed;
    batch.lastSheetEventId = sheet.lastEventId;
  }

  function sheetStep(exam: Exam, batch: Batch, sheet: Sheet): Step | undefined {
    const ref = { sheetId: sheet.sheetId, examId: exam.examId, studentId: sheet.studentId };
    switch (sheet.stage) {
      case "pending":
        return () => {
          sheet.stage = "ocr_started";
          sheet.lastEventId = batch.startedEventId;
          return sheetDraft(exam, sheet, "ocr.started", { ...ref, batchId: batch.batchId, pageCount: sheet.pageCount, engine: pick(OCR_ENGINES) });
        };
      case "ocr_started":
        return () => {
          if (chance(0.08)) {
            const failure = pick(OCR_FAILURES);
            const event = sheetDraft(exam, sheet, "ocr.failed", { ...ref, ...failure, durationMs: between(2_000, 30_000) });
            finishSheet(batch, sheet, true);
            return event;
          }
          sheet.stage = "ocr_completed";
          return sheetDraft(exam, sheet, "ocr.completed", {
            ...ref,
            pageCount: sheet.pageCount,
            confidence: Math.round((0.72 + random() * 0.27) * 1000) / 1000,
            answersDetected: between(Math.ceil(exam.questionCount * 0.8), exam.questionCount),
            durationMs: between(800 * sheet.pageCount, 2_500 * sheet.pageCount),
          });
        };
      case "ocr_completed":
        return () => {
          sheet.stage = "grading_started";
          const manual = chance(0.1);
          sheet.graderId = manual ? pick(TEACHERS) : pick(AUTO_GRADERS);
          return sheetDraft(exam, sheet, "grading.started", {
            ...ref, graderId: sheet.graderId, method: manual ? "manual" : "auto", questionCount: exam.questionCount, maxScore: exam.totalScore,
          });
        };
      case "grading_started":
        return () => {
          if (chance(0.05)) {
            const event = sheetDraft(exam, sheet, "grading.failed", { ...ref, graderId: sheet.graderId, reason: pick(GRADING_FAILURES), durationMs: between(500, 20_000) });
            finishSheet(batch, sheet, true);
            return event;
          }
          // Scores in half points, mostly in the passing range.
          sheet.score = Math.round(exam.totalScore * (0.35 + random() * 0.65) * 2) / 2;
          const event = sheetDraft(exam, sheet, "grading.completed", {
            ...ref, graderId: sheet.graderId, score: sheet.score, maxScore: exam.totalScore, durationMs: between(300, 15_000),
          });
          if (chance(0.15)) sheet.stage = "graded";
          else finishSheet(batch, sheet, false);
          return event;
        };
      case "graded":
        return () => {
          const delta = Math.round((random() - 0.3) * exam.totalScore * 0.2 * 2) / 2;
          const score = Math.min(exam.totalScore, Math.max(0, sheet.score + delta));
          const event = sheetDraft(exam, sheet, "grading.reviewed", {
            ...ref, reviewerId: pick(TEACHERS), previousScore: sheet.score, score, maxScore: exam.totalScore, reason: pick(REVIEW_REASONS),
          });
          sheet.score = score;
          finishSheet(batch, sheet, false);
          return event;
        };
      case "done":
        return undefined;
    }
  }

  function startBatch(exam: Exam): EventDraft {
    const batchId = newId();
    const sheets: Sheet[] = Array.from({ length: between(3, 6) }, () => ({
      sheetId: newId(), studentId: `stu-${between(10_000, 99_999)}`, pageCount: between(1, 6),
      stage: "pending", failed: false, graderId: "", score: 0, lastEventId: "",
    }));
    const event = examDraft(exam, "batch.started", { batchId, examId: exam.examId, sheetCount: sheets.length });
    exam.batch = { batchId, startedEventId: event.id as string, sheets, lastSheetEventId: "", startedAtTick: tick };
    return event;
  }

  function completeBatch(exam: Exam, batch: Batch): EventDraft {
    const failedCount = batch.sheets.filter((sheet) => sheet.failed).length;
    const event = draft("batch.completed", {
      batchId: batch.batchId, examId: exam.examId, sheetCount: batch.sheets.length, gradedCount: batch.sheets.length - failedCount, failedCount,
      durationMs: Math.round((tick - batch.startedAtTick) * tickMs),
    }, { correlationid: exam.correlationid, causationid: batch.lastSheetEventId, key: exam.examId, priority: "normal" });
    exam.lastEventId = event.id as string;
    exam.batch = undefined;
    exam.batchesLeft -= 1;
    if (exam.batchesLeft === 0) exams.splice(exams.indexOf(exam), 1);
    return event;
  }

  function examSteps(exam: Exam): Step[] {
    const batch = exam.batch;
    if (batch) {
      const steps = batch.sheets.flatMap((sheet) => sheetStep(exam, batch, sheet) ?? []);
      return steps.length > 0 ? steps : [() => completeBatch(exam, batch)];
    }
    if (!exam.updated && exam.lastEventId === exam.correlationid && chance(0.25)) {
      return [() => {
        exam.updated = true;
        const durationMinutes = pick([30, 45, 60, 90, 120]);
        return examDraft(exam, "exam.updated", { examId: exam.examId, changes: { durationMinutes }, updatedBy: pick(TEACHERS) });
      }];
    }
    if (exam.lastEventId === exam.correlationid && chance(0.06)) {
      return [() => {
        exams.splice(exams.indexOf(exam), 1);
        return examDraft(exam, "exam.deleted", { examId: exam.examId, reason: "created by mistake", deletedBy: pick(TEACHERS) });
      }];
    }
    return [() => startBatch(exam)];
  }

  function nextDraft(): EventDraft {
    tick += 1;
    if (exams.length === 0 || (exams.length < MAX_ACTIVE_EXAMS && chance(0.05))) return createExam();
    const steps = exams.flatMap(examSteps);
    return pick(steps)();
  }

  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const onTick = () => {
    timer = undefined;
    inFlight = (async () => {
      try {
        await options.publish([nextDraft()]);
      } catch (error) {
        onError(error);
      }
      if (!stopped) timer = setTimeout(onTick, tickMs);
    })();
  };
  timer = setTimeout(onTick, tickMs);

  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await inFlight;
    },
  };
}
