import { describe, expect, it } from "vitest";
import { buildEnvelope, matchesAnyType, type EventEnvelope } from "@/server/engine/core/envelope";
import { EngineError, NonRetryableError, RuleViolationError, VersionConflictError } from "@/server/engine/core/errors";
import type { CommandExecutionContext, CommandExecutor } from "@/server/engine/cqrs/command";
import type { DomainEventData, DomainEventType } from "./events";
import { domainHarness, FakeTaskQueue, teacher } from "./domain.fixtures";
import { sheetStreamId } from "./answer-sheet";
import { examStreamId } from "./exam";
import { AUTO_GRADER, domainReactions, type DomainReaction } from "./reactions";

const examId = "019c1f5e-8a00-7000-8000-000000000001";
const sheetId = "019c1f5e-8a00-7000-8000-000000000002";
const batchId = "019c1f5e-8a00-7000-8000-000000000003";
const taskId = "019c1f5e-8a00-7000-8000-000000000004";
const correlationid = "019c1f5e-8a00-7000-8000-0000000000cc";
const ref = { sheetId, examId, studentId: "stu-10001" };

/** As the command bus writes them: in their aggregate's stream, which is the subject. */
const aggregateStream = (type: DomainEventType) => (type.startsWith("exam.") ? examStreamId(examId) : sheetStreamId(sheetId));

function eventOf<T extends DomainEventType>(type: T, data: DomainEventData[T], schemaversion?: number): EventEnvelope {
  return buildEnvelope({ type, data, correlationid, subject: aggregateStream(type), ...(schemaversion ? { schemaversion } : {}) });
}
const taskEvent = (type: "task.succeeded" | "task.dead", data: Record<string, unknown>) => buildEnvelope({ type, data, correlationid });

/** Reactions over a command executor that records every call and answers as `answer` says. */
function setUp(answer: (name: string) => Error | undefined = () => undefined) {
  const executed: Array<{ name: string; input: unknown; context: CommandExecutionContext }> = [];
  const commands: CommandExecutor = {
    async execute(name, input, context) {
      executed.push({ name, input, context });
      const error = answer(name);
      if (error) throw error;
      return { command: name, streamId: `sheet-${sheetId}`, version: 1, events: [], replayed: false };
    },
  };
  const tasks = new FakeTaskQueue(() => "2026-03-02T08:00:00.000Z");
  const published: unknown[] = [];
  const reactions = domainReactions({ commands, tasks, publish: async (drafts) => void published.push(...drafts) });
  /** Hands the event to every reaction that takes its type, as the subscriptions would. */
  const deliver = async (event: EventEnvelope) => {
    for (const reaction of reactions) if (matchesAnyType(reaction.types, event.type)) await reaction.handle(event, { attempt: 1 });
  };
  return { executed, tasks, published, reactions, deliver };
}

const submitted = eventOf("sheet.submitted", { ...ref, batchId, pageCount: 3, questionCount: 20, maxScore: 80, examCreatedBy: "key-okafor", submittedBy: "key-okafor" });
const ocrResult = { sheetId, pageCount: 3, engine: "handwriting-v3", confidence: 0.93, answersDetected: 19, durationMs: 4200 };

describe("domain reactions", () => {
  it("are four subscriptions, one per concern, with distinct names", () => {
    const { reactions } = setUp();
    expect(reactions.map((reaction: DomainReaction) => [reaction.name, reaction.types])).toEqual([
      ["exam-processing", ["sheet.submitted", "task.succeeded", "task.dead"]],
      ["exam-grading", ["ocr.completed", "grading.started", "task.succeeded", "task.dead"]],
      ["exam-reports", ["exam.results_published"]],
      ["exam-notifications", ["grading.completed", "grading.reviewed", "ocr.failed", "exam.results_published"]],
    ]);
  });

  describe("processing (OCR)", () => {
    it("starts OCR of a submitted sheet and submits its task at high priority, in the sheet's conversation", async () => {
      const { executed, tasks, deliver } = setUp();
      await deliver(submitted);
      expect(executed).toEqual([
        {
          name: "sheet.start_ocr",
          input: { sheetId, engine: "handwriting-v3" },
          context: { principal: expect.objectContaining({ kind: "system", id: "system:reactions" }), correlationid, causationid: submitted.id, traceparent: submitted.traceparent },
        },
      ]);
      expect(tasks.submits).toEqual([
        {
          type: "ocr_processing",
          input: { sheetId, examId, studentId: "stu-10001", pageCount: 3, engine: "handwriting-v3" },
          priority: "high",
          idempotencyKey: `ocr_processing:${sheetId}`,
          correlationid,
          traceparent: submitted.traceparent,
        },
      ]);

      await deliver(submitted);
      expect(tasks.tasks).toHaveLength(1);
    });

    it("records the OCR task's result, and nothing for other tasks", async () => {
      const { executed, deliver } = setUp();
      const succeeded = taskEvent("task.succeeded", { taskId, taskType: "ocr_processing", attempt: 2, durationMs: 4300, result: ocrResult });
      await deliver(succeeded);
      expect(executed).toEqual([
        {
          name: "sheet.record_ocr",
          input: { sheetId, outcome: "completed", confidence: 0.93, answersDetected: 19, durationMs: 4200 },
          context: expect.objectContaining({ correlationid, causationid: succeeded.id }),
        },
      ]);
      await deliver(taskEvent("task.succeeded", { taskId, taskType: "batch_processing", attempt: 1, durationMs: 10, result: {} }));
      await deliver(taskEvent("task.dead", { taskId, taskType: "report_generation", attempts: 6, error: { type: "Error", message: "no" }, reason: "attempts_exhausted" }));
      expect(executed).toHaveLength(1);
    });

    it("records a dead OCR task as failed: retryable when its attempts ran out, not when the scan was unreadable", async () => {
      const { executed, tasks, deliver } = setUp();
      await deliver(submitted);
      const task = tasks.tasks[0]!;
      task.finishedAt = "2026-03-02T08:00:48.500Z";
      const dead = (reason: string, message: string) => taskEvent("task.dead", { taskId: task.id, taskType: "ocr_processing", attempts: 6, error: { type: "SimulatedOutage", message }, reason });
      await deliver(dead("attempts_exhausted", "OCR worker for handwriting-v3 did not answer"));
      await deliver(dead("non_retryable", "page 2 is blank or unreadable"));
      expect(executed.slice(1).map(({ name, input }) => [name, input])).toEqual([
        ["sheet.record_ocr", { sheetId, outcome: "failed", reason: "OCR worker for handwriting-v3 did not answer", retryable: true, durationMs: 48_500 }],
        ["sheet.record_ocr", { sheetId, outcome: "failed", reason: "page 2 is blank or unreadable", retryable: false, durationMs: 48_500 }],
      ]);
    });

    it("leaves a task that was never queued to its submitter, which submits it again", async () => {
      const { executed, deliver } = setUp();
      await deliver(taskEvent("task.dead", { taskId, taskType: "ocr_processing", attempts: 0, error: { type: "Error", message: "broker down" }, reason: "not_queued" }));
      expect(executed).toEqual([]);
    });
  });

  describe("grading", () => {
    it("starts automatic grading of a sheet OCR read", async () => {
      const { executed, deliver } = setUp();
      const completed = eventOf("ocr.completed", { ...ref, pageCount: 3, confidence: 0.93, answersDetected: 19, durationMs: 4200 });
      await deliver(completed);
      expect(executed).toEqual([
        { name: "sheet.start_grading", input: { sheetId, graderId: AUTO_GRADER, method: "auto" }, context: expect.objectContaining({ causationid: completed.id }) },
      ]);
    });

    it("submits the grading task when automatic grading starts, and none for a person grading by hand", async () => {
      const { tasks, deliver } = setUp();
      await deliver(eventOf("grading.started", { ...ref, graderId: AUTO_GRADER, method: "auto", questionCount: 20, maxScore: 80 }));
      await deliver(eventOf("grading.started", { ...ref, graderId: "key-okafor", method: "manual", questionCount: 20, maxScore: 80 }));
      expect(tasks.submits).toEqual([
        {
          type: "grading_execution",
          input: { sheetId, examId, studentId: "stu-10001", questionCount: 20, maxScore: 80, method: "auto" },
          priority: "high",
          idempotencyKey: `grading_execution:${sheetId}`,
          correlationid,
          traceparent: expect.any(String),
        },
      ]);
    });

    it("dead-letters a grading.started of version 1: it does not say what to grade against", async () => {
      const { tasks, deliver } = setUp();
      const v1 = buildEnvelope({ type: "grading.started", subject: sheetStreamId(sheetId), data: { ...ref, graderId: AUTO_GRADER, method: "auto" }, schemaversion: 1 });
      await expect(deliver(v1)).rejects.toBeInstanceOf(NonRetryableError);
      expect(tasks.submits).toEqual([]);
    });

    it("records the grading task's score or its failure", async () => {
      const { executed, tasks, deliver } = setUp();
      await deliver(eventOf("grading.started", { ...ref, graderId: AUTO_GRADER, method: "auto", questionCount: 20, maxScore: 80 }));
      const task = tasks.tasks[0]!;
      task.finishedAt = "2026-03-02T08:00:02.000Z";
      await deliver(taskEvent("task.succeeded", { taskId: task.id, taskType: "grading_execution", attempt: 1, durationMs: 1500, result: { sheetId, score: 61.5, maxScore: 80, questionsGraded: 20, method: "auto" } }));
      await deliver(taskEvent("task.dead", { taskId: task.id, taskType: "grading_execution", attempts: 1, error: { type: "NonRetryableError", message: "answer key missing for question 10" }, reason: "non_retryable" }));
      expect(executed.map(({ name, input }) => [name, input])).toEqual([
        ["sheet.record_grade", { sheetId, outcome: "completed", score: 61.5, durationMs: 1500 }],
        ["sheet.record_grade", { sheetId, outcome: "failed", reason: "answer key missing for question 10", durationMs: 2000 }],
      ]);
    });

    it("dead-letters a task result that is not a grade", async () => {
      const { executed, deliver } = setUp();
      const odd = taskEvent("task.succeeded", { taskId, taskType: "grading_execution", attempt: 1, durationMs: 5, result: { sheetId, score: "high" } });
      await expect(deliver(odd)).rejects.toThrow(/does not carry what this reaction needs/);
      expect(executed).toEqual([]);
    });
  });

  it("exam: generates the report of an exam whose results are published, at low priority", async () => {
    const { tasks, deliver } = setUp();
    await deliver(eventOf("exam.results_published", { examId, publishedBy: "key-okafor" }));
    expect(tasks.submits).toEqual([
      {
        type: "report_generation",
        input: { examId, format: "pdf", sections: ["summary", "score_distribution", "question_analysis", "student_ranking", "grader_agreement"], requestedBy: "key-okafor" },
        priority: "low",
        idempotencyKey: `report_generation:${examId}`,
        correlationid,
        traceparent: expect.any(String),
      },
    ]);
  });

  it("leaves alone the same types published directly, outside their aggregate's stream", async () => {
    const { executed, tasks, published, deliver } = setUp();
    const direct = [
      buildEnvelope({ type: "sheet.submitted", subject: sheetId, data: { ...ref, batchId, pageCount: 2, questionCount: 20, maxScore: 80 } }),
      buildEnvelope({ type: "ocr.completed", subject: sheetId, data: { ...ref, pageCount: 2, confidence: 0.9, answersDetected: 20, durationMs: 800 } }),
      buildEnvelope({ type: "grading.completed", data: { ...ref, graderId: AUTO_GRADER, score: 61.5, maxScore: 80, durationMs: 1500 } }),
      buildEnvelope({ type: "exam.results_published", subject: examId, data: { examId, publishedBy: "key-okafor" } }),
    ];
    for (const event of direct) await deliver(event);
    expect({ executed, submits: tasks.submits, published }).toEqual({ executed: [], submits: [], published: [] });
  });

  describe("notification", () => {
    it("tells the student about their sheet and everyone who sat the exam about its results", async () => {
      const { published, deliver } = setUp();
      const events = [
        eventOf("grading.completed", { ...ref, graderId: AUTO_GRADER, score: 61.5, maxScore: 80, durationMs: 1500 }),
        eventOf("grading.reviewed", { ...ref, reviewerId: "key-okafor", previousScore: 61.5, score: 64, maxScore: 80, reason: "appeal" }),
        eventOf("grading.reviewed", { ...ref, reviewerId: "key-okafor", previousScore: 64, score: 64, maxScore: 80, reason: "sample" }),
        eventOf("ocr.failed", { ...ref, reason: "page 2 is blank or unreadable", retryable: false, durationMs: 700 }),
        eventOf("exam.results_published", { examId, publishedBy: "key-okafor" }),
      ];
      for (const event of events) await deliver(event);
      expect(published).toEqual(
        events.map((event) => expect.objectContaining({ type: "notification.sent", correlationid, causationid: event.id, priority: "low", schemaversion: 1 })),
      );
      const onSheet = { examId, sheetId };
      expect(published.map((draft) => (draft as { data: unknown }).data)).toEqual([
        { recipient: "stu-10001", channel: "email", template: "sheet_graded", about: onSheet },
        { recipient: "stu-10001", channel: "email", template: "score_changed", about: onSheet },
        { recipient: "stu-10001", channel: "email", template: "score_confirmed", about: onSheet },
        { recipient: "stu-10001", channel: "email", template: "sheet_unreadable", about: onSheet },
        { recipient: `exam:${examId}:students`, channel: "in_app", template: "results_published", about: { examId, sheetId: null } },
      ]);
    });

    it("gives a redelivered event's notification the same id, so the store keeps one", async () => {
      const { published, deliver } = setUp();
      const graded = eventOf("grading.completed", { ...ref, graderId: AUTO_GRADER, score: 61.5, maxScore: 80, durationMs: 1500 });
      await deliver(graded);
      await deliver(graded);
      const [first, second] = published as Array<{ id: string }>;
      expect(first!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(second!.id).toBe(first!.id);
    });
  });

  it("dead-letter an event whose command breaks a rule, naming it, and leave other failures to the retries", async () => {
    const rejected = setUp(() => new RuleViolationError("ocr_failed", "OCR of the sheet failed"));
    const completed = eventOf("ocr.completed", { ...ref, pageCount: 3, confidence: 0.93, answersDetected: 19, durationMs: 4200 });
    const error = await rejected.deliver(completed).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NonRetryableError);
    expect((error as Error).message).toBe(`sheet.start_grading for ocr.completed ${completed.id} was rejected by rule ocr_failed: OCR of the sheet failed`);

    const conflict = new VersionConflictError(`sheet-${sheetId}`, 3, 4);
    await expect(setUp(() => conflict).deliver(completed)).rejects.toBe(conflict);
    const outage = new EngineError("unavailable", "the store is down");
    await expect(setUp(() => outage).deliver(completed)).rejects.toBe(outage);
  });

  it("run a sheet from submission to its grade, and change nothing when every event is delivered again", async () => {
    const harness = domainHarness();
    const okafor = teacher("key-okafor");
    const { streamId: examStream } = await harness.execute("exam.create", { title: "Algebra II: Midterm", subject: "Mathematics", totalScore: 80, questionCount: 20 }, { principal: okafor });
    const { streamId } = await harness.execute("sheet.submit", { examId: examStream.replace(/^exam-/, ""), studentId: "stu-10001", pageCount: 2 }, { principal: okafor, correlationid });
    await harness.settle();
    expect(harness.failures).toEqual([]);

    const log = await harness.log();
    const sheetEvents = log.filter((event) => event.streamid === streamId);
    expect(sheetEvents.map((event) => event.type)).toEqual(["sheet.submitted", "ocr.started", "ocr.completed", "grading.started", "grading.completed"]);
    expect(sheetEvents.at(-1)?.data).toMatchObject({ graderId: AUTO_GRADER, score: 60, maxScore: 80 });
    // Every step follows from the one before, in the submitter's conversation (task events follow
    // the task's message, which is not in the log).
    const byId = new Map(log.map((event) => [event.id, event]));
    const steps = log.filter((event) => event.correlationid === correlationid && event.type !== "sheet.submitted" && !event.type.startsWith("task."));
    expect(steps).toHaveLength(5);
    for (const event of steps) {
      expect(byId.get(event.causationid ?? "")?.position, `${event.type} follows its cause`).toBeLessThan(event.position);
    }
    expect(log.filter((event) => event.correlationid === correlationid).map((event) => event.type)).toEqual([
      "sheet.submitted", "ocr.started", "task.succeeded", "ocr.completed", "grading.started", "task.succeeded", "grading.completed", "notification.sent",
    ]);

    for (const event of log) {
      for (const reaction of harness.reactions) if (matchesAnyType(reaction.types, event.type)) await reaction.handle(event, { attempt: 2 });
    }
    expect(await harness.log()).toHaveLength(log.length);
    expect(harness.tasks.tasks).toHaveLength(2);
  });
});
