import { describe, expect, it } from "vitest";
import { foldEvents } from "@/server/engine/cqrs/decider";
import { specification } from "@/server/engine/cqrs/specification";
import { examDecider, type ExamCommand, type ExamEvent } from "./exam";

const examId = "019c1f5e-8a00-7000-8000-000000000001";
const spec = specification(examDecider);

const created: ExamEvent = {
  type: "exam.created",
  data: { examId, title: "Algebra II: Midterm", subject: "Mathematics", totalScore: 100, questionCount: 20, durationMinutes: 90, createdBy: "key-okafor" },
};
const deleted: ExamEvent = { type: "exam.deleted", data: { examId, reason: "created by mistake", deletedBy: "key-okafor" } };
const published: ExamEvent = { type: "exam.results_published", data: { examId, publishedBy: "key-okafor" } };

const create: ExamCommand = { type: "create", ...created.data };
const update: ExamCommand = { type: "update", examId, changes: { title: "Algebra II: Final", durationMinutes: 90 }, updatedBy: "key-okafor" };
const remove: ExamCommand = { type: "delete", examId, reason: "created by mistake", deletedBy: "key-okafor" };
const publish: ExamCommand = { type: "publish_results", examId, publishedBy: "key-okafor" };

describe("exam decider", () => {
  describe("create", () => {
    it("creates the exam", () => spec.given([]).when(create).then([created]));
    it("rejects an exam id that exists: exam_already_exists", () => spec.given([created]).when(create).thenRejects("exam_already_exists"));
    it("rejects it even after a delete", () => spec.given([created, deleted]).when(create).thenRejects("exam_already_exists"));
  });

  describe("update", () => {
    it("records only the fields that change", () =>
      spec.given([created]).when(update).then([{ type: "exam.updated", data: { examId, changes: { title: "Algebra II: Final" }, updatedBy: "key-okafor" } }]));
    it("decides nothing when no field changes", () =>
      spec.given([created]).when({ type: "update", examId, changes: { subject: "Mathematics", totalScore: 100 }, updatedBy: "key-okafor" }).thenNothing());
    it("rejects a missing exam: exam_not_found", () => spec.given([]).when(update).thenRejects("exam_not_found"));
    it("rejects a deleted exam: exam_deleted", () => spec.given([created, deleted]).when(update).thenRejects("exam_deleted"));
    it("rejects an exam whose results are published: exam_results_published", () => spec.given([created, published]).when(update).thenRejects("exam_results_published"));
  });

  describe("delete", () => {
    it("deletes an open exam", () => spec.given([created]).when(remove).then([deleted]));
    it("decides nothing for a deleted exam", () => spec.given([created, deleted]).when(remove).thenNothing());
    it("rejects a missing exam: exam_not_found", () => spec.given([]).when(remove).thenRejects("exam_not_found"));
    it("rejects an exam whose results are published: exam_results_published", () => spec.given([created, published]).when(remove).thenRejects("exam_results_published"));
  });

  describe("publish_results", () => {
    it("publishes the results of an open exam", () => spec.given([created]).when(publish).then([published]));
    it("decides nothing when they are published already", () => spec.given([created, published]).when(publish).thenNothing());
    it("rejects a missing exam: exam_not_found", () => spec.given([]).when(publish).thenRejects("exam_not_found"));
    it("rejects a deleted exam: exam_deleted", () => spec.given([created, deleted]).when(publish).thenRejects("exam_deleted"));
  });

  it("folds the history into the exam, and the state survives a snapshot's JSON round trip", () => {
    const history: ExamEvent[] = [created, { type: "exam.updated", data: { examId, changes: { questionCount: 25 }, updatedBy: "key-okafor" } }, published];
    const state = foldEvents(examDecider, examDecider.initialState(), history);
    expect(state).toEqual({ ...created.data, questionCount: 25, status: "results_published" });
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
    expect(examDecider.snapshot).toEqual({ every: 10, schemaVersion: 1 });
  });
});
