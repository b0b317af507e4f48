import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { EventBus } from "@/server/engine/bus";
import { NonRetryableError } from "@/server/engine/core/errors";
import { EventTypeRegistry } from "@/server/engine/core/registry";
import { InMemoryEventStore } from "@/server/engine/store/memory-event-store";
import { EventPublisher } from "@/server/engine/store/publisher";
import { registerTaskEventTypes } from "@/server/engine/tasks/events";
import { TaskQueue } from "@/server/engine/tasks/task-queue";
import { InMemoryTaskStore } from "@/server/engine/tasks/task-store";
import type { TaskContext, TaskTypeDefinition } from "@/server/engine/tasks/task-type";
import { InMemoryDeadLetterStore, MemoryBroker } from "@/server/engine/transport/memory-driver";
import { eventually } from "@/server/engine/transport/transport.contract";
import { demoTaskTypes, SimulatedOutage, sleep } from "./tasks";

/** Returns the values in turn, then the last one forever. */
function sequence(...values: number[]): () => number {
  let index = 0;
  return () => values[Math.min(index++, values.length - 1)] as number;
}

function typesWith(random: () => number) {
  const byName = new Map(demoTaskTypes({ stepMs: 1, random }).map((definition) => [definition.type, definition]));
  return (type: string) => byName.get(type) as TaskTypeDefinition<z.ZodType, unknown>;
}

function context(signal: AbortSignal = new AbortController().signal) {
  const progress: Array<[number, string | undefined]> = [];
  const value: TaskContext = {
    taskId: randomUUID(),
    attempt: 1,
    signal,
    progress: async (percent, message) => void progress.push([percent, message]),
  };
  return { value, progress };
}

const sheet = () => ({ sheetId: randomUUID(), examId: randomUUID(), studentId: "student-17" });

describe("demo task types", () => {
  it("are the seed's four types with their priorities", () => {
    const types = demoTaskTypes();
    expect(types.map((type) => [type.type, type.priority])).toEqual([
      ["ocr_processing", "high"],
      ["grading_execution", "high"],
      ["batch_processing", "normal"],
      ["report_generation", "low"],
    ]);
  });

  it("validate realistic inputs and fill in defaults", () => {
    const type = typesWith(() => 0.5);
    expect(type("ocr_processing").input.parse({ ...sheet(), pageCount: 4 })).toMatchObject({ engine: "handwriting-v3", dpi: 300 });
    expect(type("ocr_processing").input.safeParse({ ...sheet(), pageCount: 0 }).success).toBe(false);
    expect(type("report_generation").input.parse({ examId: randomUUID(), requestedBy: "teacher-1" })).toMatchObject({
      format: "pdf",
      sections: ["summary", "score_distribution"],
    });
    expect(type("grading_execution").input.safeParse({ ...sheet(), questionCount: 20, maxScore: 100, method: "oracle" }).success).toBe(false);
  });

  it("work in steps, reporting progress after each, and return a result", async () => {
    const type = typesWith(() => 0.5);
    const ocr = context();
    const input = type("ocr_processing").input.parse({ ...sheet(), pageCount: 4 }) as { sheetId: string };
    const result = await type("ocr_processing").handler(input, ocr.value);
    expect(ocr.progress).toEqual([
      [25, "page 1 of 4 read"],
      [50, "page 2 of 4 read"],
      [75, "page 3 of 4 read"],
      [100, "page 4 of 4 read"],
    ]);
    expect(result).toMatchObject({ sheetId: input.sheetId, pageCount: 4, confidence: expect.any(Number) });

    const grading = context();
    const graded = (await type("grading_execution").handler(
      type("grading_execution").input.parse({ ...sheet(), questionCount: 12, maxScore: 60 }),
      grading.value,
    )) as { score: number; maxScore: number; durationMs: number };
    expect(graded.durationMs).toBeGreaterThanOrEqual(0);
    expect(grading.progress.map(([, message]) => message)).toEqual(["5 of 12 questions graded", "10 of 12 questions graded", "12 of 12 questions graded"]);
    expect(graded.score).toBeLessThanOrEqual(60);

    const batch = context();
    await type("batch_processing").handler({ batchId: randomUUID(), examId: randomUUID(), sheetCount: 25 }, batch.value);
    expect(batch.progress).toHaveLength(3);

    const report = context();
    const made = await type("report_generation").handler(
      type("report_generation").input.parse({ examId: randomUUID(), requestedBy: "t", format: "csv", sections: ["summary"] }),
      report.value,
    );
    expect(made).toMatchObject({ format: "csv", pages: null });
  });

  it("fail now and then: mostly transient (retried), rarely for good", async () => {
    const ocrInput = (type: ReturnType<typeof typesWith>) => type("ocr_processing").input.parse({ ...sheet(), pageCount: 3 });
    // 0.05: inside the transient band; the second draw picks the failing step (0.5 -> step 2).
    const transient = typesWith(sequence(0.05, 0.5));
    const attempt = context();
    await expect(transient("ocr_processing").handler(ocrInput(transient), attempt.value)).rejects.toBeInstanceOf(SimulatedOutage);
    expect(attempt.progress).toHaveLength(1);

    const permanent = typesWith(sequence(0.001, 0));
    await expect(permanent("ocr_processing").handler(ocrInput(permanent), context().value)).rejects.toBeInstanceOf(NonRetryableError);
  });

  it("OCR fails for good on a scan below 150 dpi, whatever the luck, and reads one of 150", async () => {
    const lucky = typesWith(() => 0.99);
    const ocr = lucky("ocr_processing");
    expect(ocr.input.safeParse({ ...sheet(), pageCount: 2, dpi: 72 }).success).toBe(true);
    expect(ocr.input.safeParse({ ...sheet(), pageCount: 2, dpi: 71 }).success).toBe(false);
    const coarse = ocr.handler(ocr.input.parse({ ...sheet(), pageCount: 2, dpi: 100 }), context().value);
    await expect(coarse).rejects.toBeInstanceOf(NonRetryableError);
    await expect(coarse).rejects.toThrow("scan at 100 dpi is below the 150 dpi OCR can read");
    await expect(ocr.handler(ocr.input.parse({ ...sheet(), pageCount: 2, dpi: 150 }), context().value)).resolves.toMatchObject({ pageCount: 2 });
  });

  it("stop as soon as their signal is aborted", async () => {
    const slow = new Map(demoTaskTypes({ stepMs: 10_000, random: () => 0.5 }).map((definition) => [definition.type, definition]));
    const controller = new AbortController();
    const running = slow.get("batch_processing")!.handler({ batchId: randomUUID(), examId: randomUUID(), sheetCount: 50 }, context(controller.signal).value);
    const reason = new Error("timed out");
    const started = Date.now();
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(sleep(10, AbortSignal.abort("already"))).rejects.toBe("already");
  });

  it("run on the task queue", async () => {
    const broker = new MemoryBroker();
    const registry = new EventTypeRegistry();
    registerTaskEventTypes(registry);
    const queue = new TaskQueue({
      driver: broker.driver(),
      store: new InMemoryTaskStore(),
      events: new EventPublisher(new InMemoryEventStore(), registry, new EventBus(), () => undefined),
      deadLetters: new InMemoryDeadLetterStore(),
      types: demoTaskTypes({ stepMs: 1, random: () => 0.5 }),
      concurrency: 4,
    });
    try {
      const ids = await Promise.all([
        queue.submit({ type: "ocr_processing", input: { ...sheet(), pageCount: 2 } }),
        queue.submit({ type: "grading_execution", input: { ...sheet(), questionCount: 8, maxScore: 40 } }),
        queue.submit({ type: "batch_processing", input: { batchId: randomUUID(), examId: randomUUID(), sheetCount: 12 } }),
        queue.submit({ type: "report_generation", input: { examId: randomUUID(), requestedBy: "teacher-1" } }),
      ]);
      await queue.start();
      await eventually(async () => expect((await queue.counts()).byStatus.succeeded).toBe(4));
      const ocr = await queue.get(ids[0]!.id);
      expect(ocr).toMatchObject({ priority: "high", progress: { percent: 100, message: "page 2 of 2 read" }, input: { pageCount: 2 } });
    } finally {
      await queue.stop();
      broker.dispose();
    }
  });
});
