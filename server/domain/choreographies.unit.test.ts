import { describe, expect, it } from "vitest";
import { matchesAnyType, type StoredEvent } from "@/server/engine/core/envelope";
import { choreographySagaId, choreographyTracker, describeChoreography } from "@/server/engine/sagas/choreography";
import { InMemorySagaStore } from "@/server/engine/sagas/memory-saga-store";
import { domainChoreographies, domainChoreographyReactions, EXAM_RESULTS_CHOREOGRAPHY, examResultsChoreography } from "./choreographies";
import { domainHarness, teacher } from "./domain.fixtures";

const okafor = teacher("key-okafor");
const algebra = { title: "Algebra II: Midterm", subject: "Mathematics", totalScore: 80, questionCount: 20 };

/**
 * The domain over in-memory stores with the choreography's participants and its tracker fed from
 * the log (every event to each subscription whose types take it, as the transport would), and an
 * exam of Okafor's whose results are published.
 */
async function publishedExam() {
  const harness = domainHarness();
  const created = await harness.execute("exam.create", algebra, { principal: okafor });
  const examId = created.streamId.replace(/^exam-/, "");
  const published = await harness.execute("exam.publish_results", { examId }, { principal: okafor });
  const [publishedEvent] = (await harness.log()).filter((event) => event.id === published.events[0]!.id);
  const correlationid = publishedEvent!.correlationid;

  const sagaStore = new InMemorySagaStore();
  const subscriptions = [
    ...domainChoreographyReactions({ commands: harness.commands, tasks: harness.tasks, publish: (drafts) => harness.publisher.publish(drafts) }),
    choreographyTracker(domainChoreographies, { store: sagaStore, events: harness.store }),
  ];
  let delivered = 0;

  /** Delivers the events appended since the last call, and those they cause, until none is new. */
  async function deliverNew(): Promise<void> {
    for (let round = 0; round < 20; round += 1) {
      const page = await harness.store.readAll({ after: delivered, limit: 1_000 });
      if (page.events.length === 0) return;
      await deliver(page.events);
      delivered = page.lastPosition;
    }
    throw new Error("the choreography did not settle in 20 rounds");
  }

  async function deliver(events: StoredEvent[]): Promise<void> {
    for (const event of events) {
      for (const subscription of subscriptions) if (matchesAnyType(subscription.types, event.type)) await subscription.handle(event, { attempt: 1 });
    }
  }

  const view = () => sagaStore.get(choreographySagaId(EXAM_RESULTS_CHOREOGRAPHY, correlationid));
  const notifications = async () => (await harness.log()).filter((event) => event.type === "notification.sent");
  return { harness, examId, correlationid, publishedEvent: publishedEvent!, sagaStore, deliverNew, deliver, view, notifications };
}

describe("the exam-results choreography", () => {
  it("is in the saga catalog: report, then the students' notice; the publisher's notice compensates the report", () => {
    expect(domainChoreographies.map(describeChoreography)).toEqual([
      {
        type: "exam_results",
        kind: "choreographed",
        description: examResultsChoreography.description,
        steps: [
          { name: "report", description: expect.any(String), action: "task.succeeded", compensation: "notify_publisher", timeoutMs: 0, maxAttempts: 0 },
          { name: "notify_students", description: expect.any(String), action: "notification.sent", compensation: null, timeoutMs: 0, maxAttempts: 0 },
        ],
        schema: null,
        deadline: null,
      },
    ]);
  });

  it("generates the report, then tells the students, in the publication's conversation; the saga view completes", async () => {
    const { harness, examId, correlationid, publishedEvent, deliverNew, view, notifications } = await publishedExam();
    await deliverNew();

    expect(harness.tasks.submits).toEqual([
      {
        type: "report_generation",
        input: { examId, format: "pdf", sections: ["summary", "score_distribution", "question_analysis", "student_ranking", "grader_agreement"], requestedBy: "key-okafor" },
        priority: "low",
        idempotencyKey: `report_generation:${examId}`,
        correlationid,
        traceparent: publishedEvent.traceparent,
      },
    ]);
    expect(await notifications()).toEqual([]);
    expect(await view()).toMatchObject({ type: "exam_results", kind: "choreographed", status: "running", subject: examId, correlationid, input: { examId, publishedBy: "key-okafor" } });

    const [task] = harness.tasks.queued();
    await harness.finish(task!, { result: { examId, format: "pdf", pages: 11 } });
    await deliverNew();

    const log = await harness.log();
    const succeeded = log.find((event) => event.type === "task.succeeded")!;
    const [notice] = await notifications();
    expect(notice).toMatchObject({
      data: { recipient: `exam:${examId}:students`, channel: "in_app", template: "results_published", about: { examId, sheetId: null } },
      subject: `exam:${examId}:students`,
      correlationid,
      causationid: succeeded.id,
    });

    const saga = (await view())!;
    expect(saga).toMatchObject({ status: "completed", error: null, compensations: [], endedAt: notice!.time, revision: 3 });
    expect(saga.steps).toEqual([
      expect.objectContaining({ name: "report", status: "completed", attempts: 1, events: [{ id: succeeded.id, type: "task.succeeded", position: succeeded.position }] }),
      expect.objectContaining({ name: "notify_students", status: "completed", attempts: 1, startedAt: succeeded.time, events: [{ id: notice!.id, type: "notification.sent", position: notice!.position }] }),
    ]);
  });

  it("has its effects once when every event is delivered again", async () => {
    const { harness, deliverNew, deliver, view, notifications } = await publishedExam();
    await deliverNew();
    await harness.finish(harness.tasks.queued()[0]!, { result: {} });
    await deliverNew();
    const before = { saga: await view(), log: await harness.log() };

    await deliver(before.log);
    await deliverNew();
    expect(harness.tasks.tasks).toHaveLength(1);
    expect(await notifications()).toHaveLength(1);
    expect(await harness.log()).toHaveLength(before.log.length);
    expect(await view()).toEqual(before.saga);
  });

  it("tells the publisher when the report fails for good: the report step failed, the notice its compensation", async () => {
    const { harness, examId, correlationid, deliverNew, view, notifications } = await publishedExam();
    await deliverNew();
    await harness.finish(harness.tasks.queued()[0]!, { dead: { message: `exam ${examId} has no graded sheets`, reason: "non_retryable" } });
    await deliverNew();

    const dead = (await harness.log()).find((event) => event.type === "task.dead")!;
    const [notice] = await notifications();
    expect(notice).toMatchObject({
      data: { recipient: "key-okafor", channel: "email", template: "report_failed", about: { examId, sheetId: null } },
      correlationid,
      causationid: dead.id,
    });
    expect(await view()).toMatchObject({
      status: "compensated",
      error: { type: "Error", message: `exam ${examId} has no graded sheets` },
      steps: [
        { name: "report", status: "failed", error: { type: "Error", message: `exam ${examId} has no graded sheets` } },
        { name: "notify_students", status: "pending", events: [] },
      ],
      compensations: [{ name: "notify_publisher", status: "completed", startedAt: dead.time, events: [{ id: notice!.id, type: "notification.sent", position: notice!.position }] }],
    });
  });

  it("leaves alone results published outside the exam's stream, and the ends of other tasks in the conversation", async () => {
    const { harness, examId, correlationid, deliverNew, sagaStore, view, notifications } = await publishedExam();
    await deliverNew();
    await harness.publisher.publish([{ type: "exam.results_published", data: { examId, publishedBy: "key-mallory" }, subject: "exam-elsewhere" }]);
    const ocr = await harness.tasks.submit({ type: "ocr_processing", input: {}, correlationid });
    await harness.finish(harness.tasks.queued().find((task) => task.id === ocr.id)!, { result: {} });
    await deliverNew();

    expect(harness.tasks.submits.map((request) => request.type)).toEqual(["report_generation", "ocr_processing"]);
    expect(await notifications()).toEqual([]);
    expect(await view()).toMatchObject({ status: "running", revision: 1, steps: [{ name: "report", status: "pending" }, { name: "notify_students", status: "pending" }] });
    expect((await sagaStore.list({ limit: 10 })).items).toHaveLength(1);
  });
});
