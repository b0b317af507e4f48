import { afterEach, describe, expect, it, vi } from "vitest";
import { NotFoundError } from "@/server/engine/core/errors";
import type { CommandExecutionContext, CommandResult } from "@/server/engine/cqrs/command";
import { demoTeacher, startDemoTraffic } from "./demo-traffic";
import type { TaskRecord } from "@/server/engine/tasks/task-store";
import { domainHarness, typicalOutcome, type DomainHarness, type FakeTaskOutcome } from "./domain.fixtures";
import { gradingExecutionInput } from "./tasks";

/** mulberry32: a small seeded PRNG, so runs are repeatable. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The pipeline's tasks as the demo task types would end them: now and then dead, scores spread out. */
function seededOutcomes(seed: number): (task: TaskRecord) => FakeTaskOutcome {
  const random = seededRandom(seed);
  return (task) => {
    if (task.type === "ocr_processing" && random() < 0.08) return { dead: { message: "page 2 is blank or unreadable", reason: "non_retryable" } };
    if (task.type === "grading_execution") {
      if (random() < 0.05) return { dead: { message: "the grading model is overloaded", reason: "attempts_exhausted" } };
      const input = gradingExecutionInput.parse(task.input);
      const score = Math.round(input.maxScore * (0.35 + random() * 0.65) * 2) / 2;
      return { result: { sheetId: input.sheetId, score, maxScore: input.maxScore, questionsGraded: input.questionCount, method: input.method, durationMs: 900 } };
    }
    return typicalOutcome(task);
  };
}

interface Call {
  name: string;
  input: Record<string, unknown>;
  context: CommandExecutionContext;
  result?: CommandResult;
}

const harnesses: DomainHarness[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(harnesses.splice(0).map((harness) => harness.close()));
});

/**
 * Runs the demo against the whole domain (the pipeline settling after every command, queries
 * seeing every event) until it has run `commands` commands, and returns them.
 */
async function play(options: { seed: number; commands: number }) {
  const harness = domainHarness({ outcome: seededOutcomes(options.seed + 1) });
  harnesses.push(harness);
  await harness.startProjections();
  const calls: Call[] = [];
  const errors: unknown[] = [];
  let clock = Date.parse("2026-02-02T09:00:00.000Z");
  let reached: () => void = () => undefined;
  const enough = new Promise<void>((resolve) => (reached = resolve));
  const traffic = startDemoTraffic({
    ratePerSecond: 1000,
    random: seededRandom(options.seed),
    now: () => clock,
    onError: (error) => errors.push(error),
    async execute(name, input, context) {
      const call: Call = { name, input: input as Record<string, unknown>, context };
      calls.push(call);
      clock += 1_000;
      call.result = await harness.execute(name, input, context);
      await harness.settle();
      if (calls.length >= options.commands) reached();
      return call.result;
    },
    query: (name, params, context) => harness.query(name, params, context.principal),
  });
  const timeout = new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`only ${calls.length} commands in 30 s`)), 30_000));
  try {
    await Promise.race([enough, timeout]);
  } finally {
    await traffic.stop();
  }
  return { harness, calls, errors };
}

describe("startDemoTraffic", () => {
  it("plays teachers through the domain's commands: every one accepted, each exam its teacher's, in one conversation", async () => {
    const { harness, calls, errors } = await play({ seed: 7, commands: 300 });
    expect(errors).toEqual([]);
    expect(harness.failures).toEqual([]);
    expect(harness.projectionErrors).toEqual([]);
    expect(new Set(calls.map((call) => call.name))).toEqual(new Set(["exam.create", "exam.update", "exam.delete", "sheet.submit", "sheet.review", "exam.publish_results"]));

    // Per exam: its teacher runs every command, in the conversation exam.created started, each
    // caused by the event the one before appended.
    const examOf = new Map<string, string>();
    const flows = new Map<string, Call[]>();
    for (const call of calls) {
      const examId = (call.input.examId as string | undefined) ?? examOf.get(call.input.sheetId as string)!;
      if (call.name === "sheet.submit") examOf.set(call.input.sheetId as string, examId);
      flows.set(examId, [...(flows.get(examId) ?? []), call]);
    }
    for (const [examId, flow] of flows) {
      const [create, ...rest] = flow;
      expect(create).toMatchObject({ name: "exam.create", context: { principal: demoTeacher(create!.context.principal.id) }, result: { streamId: `exam-${examId}` } });
      let cause = create!.result!.events[0]!.id;
      for (const call of rest) {
        expect(call.context).toEqual({ principal: create!.context.principal, correlationid: create!.result!.events[0]!.id, causationid: cause });
        cause = call.result!.events.at(-1)?.id ?? cause;
      }
    }

    // Sheets come in batches of three to six, one or two batches an exam.
    const batches = new Map<string, number>();
    for (const call of calls.filter((candidate) => candidate.name === "sheet.submit")) batches.set(call.input.batchId as string, (batches.get(call.input.batchId as string) ?? 0) + 1);
    const published = calls.filter((call) => call.name === "exam.publish_results").map((call) => call.input.examId);
    for (const examId of published) {
      const sizes = [...new Set(flows.get(examId as string)!.filter((call) => call.name === "sheet.submit").map((call) => call.input.batchId as string))].map((batchId) => batches.get(batchId));
      expect(sizes.length).toBeGreaterThanOrEqual(1);
      expect(sizes.length).toBeLessThanOrEqual(2);
      for (const size of sizes) expect(size).toBeGreaterThanOrEqual(3);
      for (const size of sizes) expect(size).toBeLessThanOrEqual(6);
    }

    // Results are published once every sheet of the exam has finished, and no sheet comes after.
    const log = await harness.log();
    const terminal = new Set(["ocr.failed", "grading.completed", "grading.failed", "grading.reviewed", "sheet.flagged_for_review"]);
    for (const event of log.filter((candidate) => candidate.type === "exam.results_published")) {
      const { examId } = event.data as { examId: string };
      const sheets = new Map<string, string>();
      for (const earlier of log.filter((candidate) => candidate.position < event.position && (candidate.data as { examId?: string }).examId === examId)) {
        if (earlier.streamid.startsWith("sheet-")) sheets.set(earlier.streamid, earlier.type);
      }
      expect(sheets.size).toBeGreaterThanOrEqual(3);
      for (const [sheet, last] of sheets) expect(terminal.has(last), `${sheet} ended with ${last}`).toBe(true);
    }
    expect(published.length).toBeGreaterThan(5);
    const reviews = calls.filter((call) => call.name === "sheet.review").length;
    const submits = calls.filter((call) => call.name === "sheet.submit").length;
    expect(reviews).toBeGreaterThan(0);
    expect(reviews).toBeLessThan(submits / 3);
  }, 30_000);

  it("is deterministic for a given seed", async () => {
    const commandsOf = async (seed: number) => (await play({ seed, commands: 80 })).calls.map(({ name, input, context }) => [name, input, context.principal.id]);
    const first = await commandsOf(42);
    const second = await commandsOf(42);
    const other = await commandsOf(43);
    expect(second).toEqual(first);
    expect(other).not.toEqual(first);
  }, 30_000);

  it("runs nothing after stop and keeps going after a failed step", async () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    // Every step starts with a command, or (following an exam's grading) with the exams.sheets
    // query; here the read model never has anything, so that is all such a step does.
    let steps = 0;
    const step = () => {
      steps += 1;
      if (steps === 2) throw new Error("store unavailable");
    };
    const traffic = startDemoTraffic({
      ratePerSecond: 2,
      random: seededRandom(1),
      onError: (error) => errors.push(error),
      async execute(name) {
        step();
        return { command: name, streamId: "exam-1", version: 1, events: [{ id: `event-${steps}`, type: "exam.created", position: steps }], replayed: false };
      },
      async query(name) {
        if (name === "exams.sheets") step();
        throw new NotFoundError("not yet");
      },
    });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(errors).toEqual([new Error("store unavailable")]);
    expect(steps).toBe(10);

    await traffic.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(steps).toBe(10);
  });

  it("rejects a rate that is not a positive number", () => {
    const execute = async (): Promise<CommandResult> => ({ command: "exam.create", streamId: "exam-1", version: 1, events: [], replayed: false });
    const query = async () => ({ result: null, position: 0 });
    for (const ratePerSecond of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => startDemoTraffic({ execute, query, ratePerSecond })).toThrow(RangeError);
    }
  });
});
