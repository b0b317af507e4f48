import { v7 as uuidv7 } from "uuid";
import { isEngineError } from "@/server/engine/core/errors";
import type { Principal } from "@/server/engine/core/principal";
import type { CommandExecutor, CommandResult } from "@/server/engine/cqrs/command";
import type { FindPage } from "@/server/engine/cqrs/read-model";
import type { QueryAnswer, QueryExecutionContext } from "@/server/engine/cqrs/query";
import type { ExamRow, ExamSheetRow } from "./projections";

/**
 * Live demo traffic: plays teachers using the exam-grading domain through its commands, so a fresh
 * install has a moving dashboard. The domain's reactions and sagas do the rest (OCR and grading
 * tasks, their outcomes, notifications, reports), as they would for any client. Now and then a
 * sheet is scanned too coarsely to read, and its grading saga compensates (manual review).
 *
 * An exam's flow: `exam.create` -> sometimes `exam.update` -> (rarely `exam.delete`, ending it)
 * -> one or two batches of sheets, one `sheet.submit` per tick (2 % of them at 100 dpi, below what
 * OCR reads) -> while the pipeline grades them, `sheet.review` of some graded sheets -> once every
 * sheet is finished (graded, or set aside for manual review), `exam.publish_results`.
 * The demo follows the pipeline through the `exams.sheets` and `exams.get` queries.
 *
 * Each exam is run by its teacher: an API-key principal of the demo's own (never a stored key),
 * so the owner policy applies to the demo as to any teacher's key. An exam's commands share the
 * `exam.created` event's id as `correlationid`, and each names the event the previous one
 * appended as `causationid`.
 *
 * One step per tick; the next tick is scheduled after the step settles, so a slow store slows the
 * demo instead of piling up timers. Given a seeded `random`, a `now` clock and the same query
 * answers, the commands are fully deterministic, ids included.
 */

export interface DemoTrafficOptions {
  /** Runs a command (the CommandBus). */
  execute: CommandExecutor["execute"];
  /** Runs a query (the QueryBus): how far the pipeline has taken the demo's sheets. */
  query(name: string, params: Record<string, unknown>, context: QueryExecutionContext): Promise<QueryAnswer>;
  /** Steps per second. Default 3. */
  ratePerSecond?: number;
  /** Uniform in [0, 1). Default Math.random. */
  random?: () => number;
  /** The time in the ids the demo makes (UUIDv7). Default Date.now. */
  now?: () => number;
  /** A failed step is reported here and the demo carries on. Default: console.error. */
  onError?: (error: unknown) => void;
}

export interface DemoTraffic {
  /** Stops scheduling and waits for the step in flight. */
  stop(): Promise<void>;
}

const MAX_ACTIVE_EXAMS = 3;
/** Looks at an exam whose sheets never all finish (the pipeline is not running) before leaving it be. */
const MAX_CHECKS = 200;

const EXAM_TEMPLATES = [
  { title: "Algebra II: Midterm", subject: "Mathematics", questionCount: 20, totalScore: 100, durationMinutes: 90 },
  { title: "Cell Biology: Unit Test 3", subject: "Biology", questionCount: 30, totalScore: 60, durationMinutes: 45 },
  { title: "Modern European History: Final", subject: "History", questionCount: 12, totalScore: 120, durationMinutes: 120 },
  { title: "Organic Chemistry: Quiz 5", subject: "Chemistry", questionCount: 10, totalScore: 20, durationMinutes: 25 },
  { title: "English Literature: Essay Exam", subject: "English", questionCount: 3, totalScore: 50, durationMinutes: 100 },
  { title: "Mechanics: Problem Set Exam", subject: "Physics", questionCount: 15, totalScore: 75, durationMinutes: 60 },
] as const;
const TEACHERS = ["teacher-okafor", "teacher-lindqvist", "teacher-haddad", "teacher-moreau", "teacher-tanaka"] as const;
const REVIEW_REASONS = ["student appeal", "random quality sample", "partial credit on question 4", "transcription error found by teacher"] as const;
/** Share of graded sheets a teacher reviews. */
const REVIEW_RATE = 0.15;
/** Share of sheets scanned too coarsely for OCR (100 dpi): their grading saga fails and compensates. */
const COARSE_SCAN_RATE = 0.02;

/** The principal a demo teacher acts as. */
export function demoTeacher(teacherId: string): Principal {
  return { kind: "api_key", id: teacherId, name: `${teacherId} (demo)`, scopes: ["commands:execute", "queries:read"] };
}

interface DemoExam {
  examId: string;
  teacher: Principal;
  totalScore: number;
  /** The exam.created event's id. */
  correlationid: string;
  /** The last event the demo's commands appended for this exam. */
  lastEventId: string;
  stage: "created" | "submitting" | "grading";
  updated: boolean;
  batchesLeft: number;
  batch: { batchId: string; sheetsLeft: number } | undefined;
  submitted: number;
  /** Graded sheets already considered for a review, and those chosen and not yet reviewed. */
  considered: Set<string>;
  toReview: ExamSheetRow[];
  checks: number;
}

type Step = () => Promise<void>;

const UNFINISHED: ReadonlyArray<keyof ExamRow["sheetCounts"]> = ["submitted", "ocr_running", "ocr_completed", "grading"];

export function startDemoTraffic(options: DemoTrafficOptions): DemoTraffic {
  const rate = options.ratePerSecond ?? 3;
  if (!(Number.isFinite(rate) && rate > 0)) throw new RangeError(`ratePerSecond must be a positive number, got ${rate}`);
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const onError = options.onError ?? ((error: unknown) => console.error("[demo-traffic] step failed", error));
  const tickMs = 1000 / rate;

  const exams: DemoExam[] = [];

  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const chance = (probability: number) => random() < probability;
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const newId = () => {
    const bytes = new Uint8Array(16);
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(random() * 256);
    return uuidv7({ msecs: now(), random: bytes });
  };
  const retire = (exam: DemoExam) => exams.splice(exams.indexOf(exam), 1);

  async function run(exam: DemoExam, name: string, input: Record<string, unknown>): Promise<CommandResult> {
    const result = await options.execute(name, input, { principal: exam.teacher, correlationid: exam.correlationid, causationid: exam.lastEventId });
    exam.lastEventId = result.events.at(-1)?.id ?? exam.lastEventId;
    return result;
  }

  async function query<T>(exam: DemoExam, name: string, params: Record<string, unknown>): Promise<T | undefined> {
    try {
      return (await options.query(name, params, { principal: exam.teacher })).result as T;
    } catch (error) {
      // The read model has not seen the exam yet: look again on a later tick.
      if (isEngineError(error) && error.code === "not_found") return undefined;
      throw error;
    }
  }

  async function createExam(): Promise<void> {
    const template = pick(EXAM_TEMPLATES);
    const teacher = demoTeacher(pick(TEACHERS));
    const examId = newId();
    const result = await options.execute("exam.create", { examId, ...template }, { principal: teacher });
    const createdId = result.events[0]?.id ?? examId;
    exams.push({
      examId, teacher, totalScore: template.totalScore, correlationid: createdId, lastEventId: createdId, stage: "created", updated: false,
      batchesLeft: between(1, 2), batch: undefined, submitted: 0, considered: new Set(), toReview: [], checks: 0,
    });
  }

  async function submitSheet(exam: DemoExam): Promise<void> {
    exam.stage = "submitting";
    exam.batch ??= { batchId: newId(), sheetsLeft: between(3, 6) };
    const batch = exam.batch;
    await run(exam, "sheet.submit", {
      sheetId: newId(), examId: exam.examId, batchId: batch.batchId, studentId: `stu-${between(10_000, 99_999)}`, pageCount: between(1, 6),
      dpi: chance(COARSE_SCAN_RATE) ? 100 : 300,
    });
    exam.submitted += 1;
    batch.sheetsLeft -= 1;
    if (batch.sheetsLeft > 0) return;
    exam.batch = undefined;
    exam.batchesLeft -= 1;
    if (exam.batchesLeft === 0) exam.stage = "grading";
  }

  /** Reviews a graded sheet when one is due, else publishes the results once every sheet is finished. */
  async function followGrading(exam: DemoExam): Promise<void> {
    exam.checks += 1;
    const graded = await query<FindPage<ExamSheetRow>>(exam, "exams.sheets", { examId: exam.examId, status: "graded", limit: 100 });
    for (const sheet of graded?.items ?? []) {
      if (exam.considered.has(sheet.sheetId)) continue;
      exam.considered.add(sheet.sheetId);
      if (chance(REVIEW_RATE)) exam.toReview.push(sheet);
    }
    const sheet = exam.toReview.shift();
    if (sheet) {
      const delta = Math.round((random() - 0.3) * exam.totalScore * 0.2 * 2) / 2;
      const score = Math.min(exam.totalScore, Math.max(0, (sheet.score ?? 0) + delta));
      await run(exam, "sheet.review", { sheetId: sheet.sheetId, score, reason: pick(REVIEW_REASONS) });
      return;
    }
    const row = await query<ExamRow>(exam, "exams.get", { examId: exam.examId });
    const finished = row !== undefined && row.sheetCount === exam.submitted && UNFINISHED.every((status) => row.sheetCounts[status] === 0);
    if (finished) {
      await run(exam, "exam.publish_results", { examId: exam.examId });
      retire(exam);
    } else if (exam.checks >= MAX_CHECKS) {
      retire(exam);
    }
  }

  function examSteps(exam: DemoExam): Step[] {
    if (exam.stage === "grading") return [() => followGrading(exam)];
    if (exam.stage === "created") {
      if (!exam.updated && chance(0.25)) {
        return [async () => {
          exam.updated = true;
          await run(exam, "exam.update", { examId: exam.examId, durationMinutes: pick([30, 45, 60, 90, 120]) });
        }];
      }
      if (chance(0.06)) {
        return [async () => {
          await run(exam, "exam.delete", { examId: exam.examId, reason: "created by mistake" });
          retire(exam);
        }];
      }
    }
    return [() => submitSheet(exam)];
  }

  function nextStep(): Step {
    if (exams.length === 0 || (exams.length < MAX_ACTIVE_EXAMS && chance(0.05))) return createExam;
    return pick(exams.flatMap(examSteps));
  }

  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const onTick = () => {
    timer = undefined;
    inFlight = (async () => {
      try {
        await nextStep()();
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
