import { afterEach, describe, expect, it } from "vitest";
import type { StoredEvent } from "@/server/engine/core/envelope";
import { systemPrincipal } from "@/server/engine/core/principal";
import { stepIdempotencyKey, type SagaDefinition, type StepContext } from "@/server/engine/sagas/saga-definition";
import type { SagaRecord } from "@/server/engine/sagas/saga-store";
import type { TaskRecord } from "@/server/engine/tasks/task-store";
import { domainHarness, teacher, typicalOutcome, type DomainHarness, type FakeTaskOutcome } from "./domain.fixtures";
import { domainSagas, gradingSagaId, GRADING_DEADLINE_MS, type SheetGradingData } from "./sagas";

const okafor = teacher("key-okafor");
const harnesses: DomainHarness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((harness) => harness.close()));
});

/** A harness with an open exam of Okafor's (80 points, 20 questions) and a way to hand in sheets. */
async function withExam(outcome?: (task: TaskRecord) => FakeTaskOutcome | undefined) {
  const harness = domainHarness(outcome ? { outcome } : {});
  harnesses.push(harness);
  const examId = (await harness.execute("exam.create", { title: "Algebra II: Midterm", subject: "Mathematics", totalScore: 80, questionCount: 20 }, { principal: okafor })).streamId.replace(/^exam-/, "");
  const submit = async (input: Record<string, unknown> = {}) => {
    const { streamId } = await harness.execute("sheet.submit", { examId, studentId: "stu-10001", pageCount: 2, ...input }, { principal: okafor });
    return streamId.replace(/^sheet-/, "");
  };
  /** The sheet's stream, its notifications and its saga. */
  const sheetOf = async (sheetId: string) => {
    const log = await harness.log();
    const saga = await harness.sagas.get(gradingSagaId(sheetId));
    return {
      types: log.filter((event) => event.streamid === `sheet-${sheetId}`).map((event) => event.type),
      notifications: log.filter((event) => event.type === "notification.sent" && (event.data as { about: { sheetId: string } }).about.sheetId === sheetId),
      saga: saga as SagaRecord,
    };
  };
  return { harness, examId, submit, sheetOf };
}

const stepsOf = (saga: SagaRecord) => saga.steps.map((step) => [step.name, step.status, step.attempts]);
const typesOf = (events: StoredEvent[]) => events.map((event) => event.type);

describe("sheet_grading saga", () => {
  it("grades a sheet step by step, each effect once, and tells the student", async () => {
    const { harness, submit, sheetOf } = await withExam();
    const sheetId = await submit();
    await harness.settle();
    const { types, notifications, saga } = await sheetOf(sheetId);

    expect(harness.sagaErrors).toEqual([]);
    expect(saga).toMatchObject({ type: "sheet_grading", status: "completed", subject: sheetId, compensations: [], error: null });
    expect(stepsOf(saga)).toEqual([
      ["start_ocr", "completed", 1], ["ocr", "completed", 1], ["record_ocr", "completed", 1], ["reserve_grader", "completed", 1],
      ["grade", "completed", 1], ["publish_result", "completed", 1], ["notify", "completed", 1],
    ]);
    expect(types).toEqual(["sheet.submitted", "ocr.started", "ocr.completed", "grading.started", "grading.completed"]);
    expect(notifications.map((event) => event.data)).toEqual([{ recipient: "stu-10001", channel: "email", template: "sheet_graded", about: { examId: expect.any(String), sheetId } }]);
    // The notification follows from the grade, in the sheet's conversation.
    const graded = (await harness.log()).find((event) => event.type === "grading.completed");
    expect(notifications[0]).toMatchObject({ causationid: graded?.id, correlationid: saga.correlationid });
    expect(saga.data).toMatchObject({ ocr: { answersDetected: 10 }, grade: { score: 60, durationMs: 750 }, gradedEventId: graded?.id } satisfies Partial<Record<keyof SheetGradingData, unknown>>);
    expect([...harness.tasks.byKey()].map(([key, tasks]) => [key, tasks.length])).toEqual([
      [stepIdempotencyKey(saga.id, "ocr", "forward"), 1],
      [stepIdempotencyKey(saga.id, "grade", "forward"), 1],
    ]);
    // The deadline is moot once the saga ended.
    expect(await harness.sagas.timers({ key: saga.id, limit: 10 })).toEqual([expect.objectContaining({ status: "cancelled" })]);
  });

  it("changes nothing when any step runs again, with its idempotency key or (its claim lost) without", async () => {
    const { harness, submit, sheetOf } = await withExam();
    const sheetId = await submit();
    await harness.settle();
    const { saga } = await sheetOf(sheetId);
    const before = await harness.log();
    const [definition] = domainSagas({ publish: (drafts) => harness.publisher.publish(drafts), commands: harness.commands }) as [SagaDefinition<unknown, SheetGradingData>];
    const contextOf = (step: string): StepContext<SheetGradingData> => ({
      sagaId: saga.id, sagaType: saga.type, step, attempt: 2, idempotencyKey: stepIdempotencyKey(saga.id, step, "forward"),
      correlationid: saga.correlationid, data: saga.data as SheetGradingData, signal: new AbortController().signal,
    });
    const sagasPrincipal = systemPrincipal("sagas");
    for (const step of definition.steps) {
      const { action } = step;
      const context = contextOf(step.name);
      if (action.kind === "command") {
        const replay = await harness.commands.execute(action.command, action.input(context), { principal: sagasPrincipal, idempotencyKey: context.idempotencyKey });
        expect(replay.replayed, step.name).toBe(true);
        expect((await harness.commands.execute(action.command, action.input(context), { principal: sagasPrincipal })).events, step.name).toEqual([]);
      } else if (action.kind === "task") {
        const again = await harness.tasks.submit({ type: action.taskType, input: action.input(context), idempotencyKey: context.idempotencyKey });
        expect(again.replayed, step.name).toBe(true);
      } else if (action.kind === "local") {
        await action.run(context);
      }
    }
    expect(await harness.log()).toEqual(before);
  });

  it("fails at ocr for a 100-dpi scan and compensates start_ocr: the sheet goes to a person, whose student is told", async () => {
    const { harness, submit, sheetOf } = await withExam();
    const sheetId = await submit({ dpi: 100 });
    await harness.settle();
    const { types, notifications, saga } = await sheetOf(sheetId);

    expect(saga).toMatchObject({ status: "compensated", error: { type: "Error", message: "scan at 100 dpi is below the 150 dpi OCR can read" } });
    expect(stepsOf(saga)).toEqual([
      ["start_ocr", "completed", 1], ["ocr", "failed", 1], ["record_ocr", "pending", 0], ["reserve_grader", "pending", 0],
      ["grade", "pending", 0], ["publish_result", "pending", 0], ["notify", "pending", 0],
    ]);
    expect(saga.compensations.map((step) => [step.name, step.status, step.attempts])).toEqual([["start_ocr", "completed", 1]]);
    expect(types).toEqual(["sheet.submitted", "ocr.started", "sheet.flagged_for_review"]);
    const flagged = (await harness.log()).find((event) => event.type === "sheet.flagged_for_review");
    expect(flagged?.data).toMatchObject({ previousStatus: "ocr_running", reason: `automatic grading gave up (saga ${saga.id}); see the saga for the failed step` });
    expect(notifications.map((event) => (event.data as { template: string }).template)).toEqual(["sheet_manual_review"]);
    expect(typesOf(await harness.log()).filter((type) => type.startsWith("saga."))).toEqual(["saga.started", "saga.compensating", "saga.compensated"]);
  });

  it("releases the grader, then flags the sheet for review, when grading fails for good", async () => {
    const gradingDies = (task: TaskRecord): FakeTaskOutcome =>
      task.type === "grading_execution" ? { dead: { message: "answer key missing for question 10", reason: "non_retryable" } } : typicalOutcome(task);
    const { harness, submit, sheetOf } = await withExam(gradingDies);
    const sheetId = await submit();
    await harness.settle();
    const { types, notifications, saga } = await sheetOf(sheetId);

    expect(saga).toMatchObject({ status: "compensated", error: { message: "answer key missing for question 10" } });
    expect(saga.steps.find((step) => step.name === "grade")).toMatchObject({ status: "failed", attempts: 1 });
    expect(saga.compensations.map((step) => [step.name, step.status])).toEqual([["reserve_grader", "completed"], ["start_ocr", "completed"]]);
    expect(types).toEqual(["sheet.submitted", "ocr.started", "ocr.completed", "grading.started", "grading.released", "sheet.flagged_for_review"]);
    expect((await harness.log()).find((event) => event.type === "sheet.flagged_for_review")?.data).toMatchObject({ previousStatus: "ocr_completed" });
    expect(notifications.map((event) => (event.data as { template: string }).template)).toEqual(["sheet_manual_review"]);
  });

  it("gives up on a grading whose task ran out of attempts once the step's own attempts are used (each finds that dead task)", async () => {
    let deaths = 0;
    const flaky = (task: TaskRecord): FakeTaskOutcome => {
      if (task.type !== "grading_execution" || deaths >= 1) return typicalOutcome(task);
      deaths += 1;
      return { dead: { message: "the grading model is overloaded", reason: "attempts_exhausted" } };
    };
    const { harness, submit, sheetOf } = await withExam(flaky);
    const sheetId = await submit();
    await harness.settle();
    const { saga, types } = await sheetOf(sheetId);
    // The task queue already retried the work; a step attempt submits under the same key, gets the
    // same dead task back and fails at once, so the attempts are used up without new work.
    expect(saga.status).toBe("compensated");
    expect(saga.steps.find((step) => step.name === "grade")).toMatchObject({ status: "failed", attempts: 3 });
    expect(types.at(-1)).toBe("sheet.flagged_for_review");
  });

  it("flags a sheet still being graded after 10 minutes as overdue, once, and goes on", async () => {
    const ocrNeverEnds = (task: TaskRecord) => (task.type === "ocr_processing" ? undefined : typicalOutcome(task));
    const { harness, submit, sheetOf } = await withExam(ocrNeverEnds);
    const sheetId = await submit();
    await harness.settle();
    expect((await sheetOf(sheetId)).saga.status).toBe("running");

    harness.clock.advance(GRADING_DEADLINE_MS);
    expect(await harness.timers.fireDue()).toBe(1);
    harness.clock.advance(60_000);
    expect(await harness.timers.fireDue()).toBe(0);
    const { types, saga } = await sheetOf(sheetId);
    expect(types).toEqual(["sheet.submitted", "ocr.started", "grading.overdue"]);
    expect((await harness.log()).find((event) => event.type === "grading.overdue")?.data).toMatchObject({ sheetId, overdueAfterMs: GRADING_DEADLINE_MS });
    expect(saga.status).toBe("running");
    expect(saga.steps.find((step) => step.name === "deadline")).toMatchObject({ status: "completed" });

    const ocr = harness.tasks.queued()[0]!;
    await harness.finish(ocr, typicalOutcome({ ...ocr, type: "ocr_processing" }) as FakeTaskOutcome);
    await harness.settle();
    expect((await sheetOf(sheetId)).saga.status).toBe("completed");
    expect((await sheetOf(sheetId)).types.filter((type) => type === "grading.overdue")).toHaveLength(1);
  });
});

describe("exam_batch saga", () => {
  it("submits its sheets, waits for every sheet's grading and reports the counts", async () => {
    const { harness, examId, sheetOf } = await withExam();
    const sheets = [
      { sheetId: "019c1f5e-8a00-7000-8000-0000000000a1", studentId: "stu-1", pageCount: 2 },
      { sheetId: "019C1F5E-8A00-7000-8000-0000000000A2", studentId: "stu-2", pageCount: 3, dpi: 600 },
      { sheetId: "019c1f5e-8a00-7000-8000-0000000000a3", studentId: "stu-3", pageCount: 1, dpi: 100 },
    ];
    const batchId = "019c1f5e-8a00-7000-8000-0000000000b1";
    const { saga: started } = await harness.sagas.start("exam_batch", { examId, batchId, questionCount: 20, maxScore: 80, sheets });
    await harness.settle();
    expect(harness.failures).toEqual([]);
    expect(harness.sagaErrors).toEqual([]);

    const batch = (await harness.sagas.get(started.id)) as SagaRecord;
    expect(batch).toMatchObject({ status: "completed", subject: batchId });
    expect(stepsOf(batch)).toEqual([["announce", "completed", 1], ["submit", "completed", 1], ["grade", "completed", 1], ["report", "completed", 1]]);
    const ids = sheets.map((sheet) => sheet.sheetId.toLowerCase());
    expect(batch.steps.find((step) => step.name === "grade")?.result).toMatchObject({
      total: 3, completed: 2, failed: 1, children: ids.map((sheetId, index) => ({ key: sheetId, sagaId: gradingSagaId(sheetId), status: index === 2 ? "compensated" : "completed" })),
    });

    const log = await harness.log();
    expect(log.filter((event) => event.type.startsWith("batch.")).map((event) => [event.type, event.data])).toEqual([
      ["batch.started", { batchId, examId, sheetCount: 3 }],
      ["batch.completed", { batchId, examId, sheetCount: 3, gradedCount: 2, failedCount: 1, durationMs: expect.any(Number) }],
    ]);
    for (const [index, sheetId] of ids.entries()) {
      const { types, saga } = await sheetOf(sheetId);
      expect(types.filter((type) => type === "sheet.submitted"), sheetId).toHaveLength(1);
      expect(saga.correlationid).toBe(batch.correlationid);
      expect(types.at(-1)).toBe(index === 2 ? "sheet.flagged_for_review" : "grading.completed");
    }
    expect(log.filter((event) => event.type === "saga.started")).toHaveLength(4);
    expect(log.find((event) => event.type === "sheet.submitted" && (event.data as { sheetId: string }).sheetId === ids[1])?.data).toMatchObject({ dpi: 600, batchId });
  });

  it("names every invalid field of its input", async () => {
    const { harness, examId } = await withExam();
    const sheet = { sheetId: "019c1f5e-8a00-7000-8000-0000000000a1", studentId: "stu-1", pageCount: 2 };
    await expect(harness.sagas.start("exam_batch", { examId, batchId: "nope", questionCount: 20, maxScore: 80, sheets: [sheet, { ...sheet, sheetId: examId, dpi: 50 }] })).rejects.toMatchObject({
      code: "validation",
      issues: [{ path: "input.batchId" }, { path: "input.sheets[1].dpi" }],
    });
    await expect(harness.sagas.start("exam_batch", { examId, batchId: examId, questionCount: 20, maxScore: 80, sheets: [sheet, sheet] })).rejects.toMatchObject({
      issues: [{ path: "input.sheets", message: "every sheet needs its own sheetId" }],
    });
  });
});
