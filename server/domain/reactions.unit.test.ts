import { describe, expect, it } from "vitest";
import { buildEnvelope, matchesAnyType, type EventEnvelope } from "@/server/engine/core/envelope";
import { EngineError, NonRetryableError, NotFoundError, ValidationError } from "@/server/engine/core/errors";
import type { SagaOperations, StartSagaOptions } from "@/server/engine/sagas/ports";
import type { SagaRecord } from "@/server/engine/sagas/saga-store";
import { sheetStreamId } from "./answer-sheet";
import { domainHarness, teacher } from "./domain.fixtures";
import type { DomainEventData, DomainEventType } from "./events";
import { examStreamId } from "./exam";
import { domainReactions, type DomainReaction } from "./reactions";
import { AUTO_GRADER, gradingSagaId } from "./sagas";

const examId = "019c1f5e-8a00-7000-8000-000000000001";
const sheetId = "019c1f5e-8a00-7000-8000-000000000002";
const batchId = "019c1f5e-8a00-7000-8000-000000000003";
const correlationid = "019c1f5e-8a00-7000-8000-0000000000cc";
const ref = { sheetId, examId, studentId: "stu-10001" };

/** As the command bus writes them: in their aggregate's stream, which is the subject. */
const aggregateStream = (type: DomainEventType) => (type.startsWith("exam.") ? examStreamId(examId) : sheetStreamId(sheetId));

function eventOf<T extends DomainEventType>(type: T, data: DomainEventData[T], schemaversion?: number): EventEnvelope {
  return buildEnvelope({ type, data, correlationid, subject: aggregateStream(type), ...(schemaversion ? { schemaversion } : {}) });
}

/** Reactions over a saga starter that records every start and answers as `answer` says. */
function setUp(answer: () => Error | undefined = () => undefined) {
  const started: Array<{ type: string; input: unknown; options: StartSagaOptions | undefined }> = [];
  const sagas: Pick<SagaOperations, "start"> = {
    async start(type, input, options) {
      started.push({ type, input, options });
      const error = answer();
      if (error) throw error;
      return { saga: { id: options?.id ?? "" } as SagaRecord, created: started.length === 1 };
    },
  };
  const published: unknown[] = [];
  const reactions = domainReactions({ sagas, publish: async (drafts) => void published.push(...drafts) });
  /** Hands the event to every reaction that takes its type, as the subscriptions would. */
  const deliver = async (event: EventEnvelope) => {
    for (const reaction of reactions) if (matchesAnyType(reaction.types, event.type)) await reaction.handle(event, { attempt: 1 });
  };
  return { started, published, reactions, deliver };
}

const facts = { ...ref, batchId, pageCount: 3, questionCount: 20, maxScore: 80 };
const submitted = eventOf("sheet.submitted", { ...facts, dpi: 300, examCreatedBy: "key-okafor", submittedBy: "key-okafor" });

describe("domain reactions", () => {
  it("are two subscriptions, one per concern, with distinct names", () => {
    const { reactions } = setUp();
    expect(reactions.map((reaction: DomainReaction) => [reaction.name, reaction.types])).toEqual([
      ["sheet-grading", ["sheet.submitted"]],
      ["exam-notifications", ["grading.completed", "grading.reviewed", "ocr.failed", "sheet.flagged_for_review"]],
    ]);
  });

  describe("grading", () => {
    it("starts the sheet's grading saga in the sheet's conversation, and asks for the same one on a redelivery", async () => {
      const { started, deliver } = setUp();
      await deliver(submitted);
      await deliver(submitted);
      const start = { type: "sheet_grading", input: { ...facts, dpi: 300 }, options: { id: gradingSagaId(sheetId), correlationid, causationid: submitted.id, traceparent: submitted.traceparent } };
      expect(started).toEqual([start, start]);
    });

    it("starts one for a sheet submitted before version 2, whose resolution is unknown", async () => {
      const { started, deliver } = setUp();
      await deliver(eventOf("sheet.submitted", { ...facts, examCreatedBy: "key-okafor", submittedBy: "key-okafor" } as DomainEventData["sheet.submitted"], 1));
      expect(started[0]?.input).toEqual({ ...facts, dpi: null });
    });

    it("dead-letters a start that would be rejected again, and leaves other failures to the retries", async () => {
      const invalid = new ValidationError("Invalid saga start", [{ path: "input.pageCount", message: "too big" }]);
      const error = await setUp(() => invalid).deliver(submitted).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(NonRetryableError);
      expect((error as Error).message).toBe(`sheet_grading for sheet.submitted ${submitted.id} was not started: Invalid saga start`);
      await expect(setUp(() => new NotFoundError("Unknown saga type")).deliver(submitted)).rejects.toBeInstanceOf(NonRetryableError);
      const outage = new EngineError("unavailable", "the store is down");
      await expect(setUp(() => outage).deliver(submitted)).rejects.toBe(outage);
    });
  });

  it("leave alone the same types published directly, outside their aggregate's stream", async () => {
    const { started, published, deliver } = setUp();
    const direct = [
      buildEnvelope({ type: "sheet.submitted", subject: sheetId, data: { ...facts, dpi: 300 } }),
      buildEnvelope({ type: "grading.completed", data: { ...ref, graderId: "key-okafor", score: 61.5, maxScore: 80, durationMs: 1500 } }),
      buildEnvelope({ type: "sheet.flagged_for_review", subject: sheetId, data: { ...ref, reason: "unreadable", previousStatus: "ocr_running" } }),
    ];
    for (const event of direct) await deliver(event);
    expect({ started, published }).toEqual({ started: [], published: [] });
  });

  describe("notification", () => {
    it("tells the student about a grade a person gave, a review, an unreadable sheet and a sheet set aside for a person", async () => {
      const { published, deliver } = setUp();
      const events = [
        eventOf("grading.completed", { ...ref, graderId: "key-okafor", score: 61.5, maxScore: 80, durationMs: 1500 }),
        eventOf("grading.reviewed", { ...ref, reviewerId: "key-okafor", previousScore: 61.5, score: 64, maxScore: 80, reason: "appeal" }),
        eventOf("grading.reviewed", { ...ref, reviewerId: "key-okafor", previousScore: 64, score: 64, maxScore: 80, reason: "sample" }),
        eventOf("ocr.failed", { ...ref, reason: "page 2 is blank or unreadable", retryable: false, durationMs: 700 }),
        eventOf("sheet.flagged_for_review", { ...ref, reason: "automatic grading gave up", previousStatus: "ocr_running" }),
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
        { recipient: "stu-10001", channel: "email", template: "sheet_manual_review", about: onSheet },
      ]);
    });

    it("leaves automatic grades to the grading saga, which tells the student itself", async () => {
      const { published, deliver } = setUp();
      await deliver(eventOf("grading.completed", { ...ref, graderId: AUTO_GRADER, score: 61.5, maxScore: 80, durationMs: 1500 }));
      expect(published).toEqual([]);
    });

    it("gives a redelivered event's notification the same id, so the store keeps one", async () => {
      const { published, deliver } = setUp();
      const flagged = eventOf("sheet.flagged_for_review", { ...ref, reason: "automatic grading gave up", previousStatus: "ocr_completed" });
      await deliver(flagged);
      await deliver(flagged);
      const [first, second] = published as Array<{ id: string }>;
      expect(first!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(second!.id).toBe(first!.id);
    });
  });

  it("run a sheet from submission to its grade through its saga, and change nothing when every event is delivered again", async () => {
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
    // The whole grading is the submitter's conversation.
    expect(log.filter((event) => event.correlationid === correlationid).map((event) => event.type)).toEqual([
      "sheet.submitted", "saga.started", "ocr.started", "task.succeeded", "ocr.completed", "grading.started", "task.succeeded", "grading.completed", "notification.sent", "saga.completed",
    ]);

    for (const event of log) {
      for (const reaction of harness.reactions) if (matchesAnyType(reaction.types, event.type)) await reaction.handle(event, { attempt: 2 });
    }
    await harness.settle();
    expect(await harness.log()).toHaveLength(log.length);
    expect(harness.tasks.tasks).toHaveLength(2);
    await harness.close();
  });
});
