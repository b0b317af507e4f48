import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { EventDraft } from "@/server/engine/core/envelope";
import { EventTypeRegistry } from "@/server/engine/core/registry";
import { startDemoTraffic } from "./demo-traffic";
import { registerDomainEventTypes } from "./events";

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

async function record(options: { seed: number; ratePerSecond: number; forMs: number }): Promise<EventDraft[]> {
  const drafts: EventDraft[] = [];
  const traffic = startDemoTraffic({
    ratePerSecond: options.ratePerSecond,
    random: seededRandom(options.seed),
    publish: async (batch) => {
      drafts.push(...batch);
    },
  });
  await vi.advanceTimersByTimeAsync(options.forMs);
  await traffic.stop();
  return drafts;
}

type Data = Record<string, unknown>;
const dataOf = (draft: EventDraft) => draft.data as Data;

const SHEET_TRANSITIONS: Record<string, string[]> = {
  start: ["ocr.started"],
  "ocr.started": ["ocr.completed", "ocr.failed"],
  "ocr.completed": ["grading.started"],
  "grading.started": ["grading.completed", "grading.failed"],
  "grading.completed": ["grading.reviewed"],
};
const SHEET_TERMINAL = new Set(["ocr.failed", "grading.failed", "grading.completed", "grading.reviewed"]);

describe("startDemoTraffic", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-02-02T09:00:00.000Z"));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("plays well-formed, valid, causally linked exam-grading flows", async () => {
    const registry = new EventTypeRegistry();
    registerDomainEventTypes(registry);
    const drafts = await record({ seed: 7, ratePerSecond: 5, forMs: 10 * 60_000 });

    // One event per tick at 5 per second for ten minutes.
    expect(drafts.length).toBeGreaterThanOrEqual(2_990);
    expect(drafts.length).toBeLessThanOrEqual(3_000);

    // Every draft validates against the registry, at the type's latest version.
    for (const [index, draft] of drafts.entries()) {
      const validation = registry.validate(draft.type, draft.data, draft.schemaversion);
      expect(validation.ok, `draft ${index} ${draft.type}: ${JSON.stringify(validation)}`).toBe(true);
      expect(draft.schemaversion).toBe(registry.get(draft.type)?.version);
    }

    const types = new Set(drafts.map((draft) => draft.type));
    expect([...types].sort()).toEqual([
      "batch.completed", "batch.started", "exam.created", "exam.deleted", "exam.updated",
      "grading.completed", "grading.failed", "grading.reviewed", "grading.started",
      "ocr.completed", "ocr.failed", "ocr.started",
    ]);

    // Ids are unique; roots start a correlation, everything else follows an earlier event of its flow.
    const byId = new Map<string, { draft: EventDraft; index: number }>();
    for (const [index, draft] of drafts.entries()) {
      expect(draft.id).toBeDefined();
      expect(byId.has(draft.id as string)).toBe(false);
      byId.set(draft.id as string, { draft, index });
      if (draft.type === "exam.created") {
        expect(draft.correlationid).toBe(draft.id);
        expect(draft.causationid).toBeUndefined();
        continue;
      }
      const cause = byId.get(draft.causationid as string);
      expect(cause, `${draft.type} at ${index} follows a published event`).toBeDefined();
      expect(cause!.index).toBeLessThan(index);
      expect(cause!.draft.correlationid).toBe(draft.correlationid);
    }

    // Priority, subject and partition key by kind of event.
    for (const draft of drafts) {
      const data = dataOf(draft);
      const [family] = draft.type.split(".");
      if (family === "ocr" || family === "grading") {
        expect(draft).toMatchObject({ priority: "high", subject: data.sheetId, partitionkey: data.sheetId });
      } else if (family === "system") {
        expect(draft).toMatchObject({ priority: "low", subject: "system", partitionkey: "system" });
      } else {
        expect(draft).toMatchObject({ priority: "normal", subject: data.examId, partitionkey: data.examId });
      }
    }

    // Each sheet walks the pipeline in order and nothing follows a terminal event except a review.
    const sheets = new Map<string, { types: string[]; batchId: string; examId: string; lastIndex: number }>();
    for (const [index, draft] of drafts.entries()) {
      const data = dataOf(draft);
      if (typeof data.sheetId !== "string") continue;
      const sheet = sheets.get(data.sheetId) ?? { types: [], batchId: data.batchId as string, examId: data.examId as string, lastIndex: index };
      const previous = sheet.types.at(-1) ?? "start";
      expect(SHEET_TRANSITIONS[previous], `${previous} -> ${draft.type}`).toContain(draft.type);
      expect(data.examId).toBe(sheet.examId);
      const expectedCause = draft.type === "ocr.started"
        ? drafts.find((other) => other.type === "batch.started" && dataOf(other).batchId === data.batchId)?.id
        : drafts[sheet.lastIndex]!.id;
      expect(draft.causationid).toBe(expectedCause);
      sheet.types.push(draft.type);
      sheet.lastIndex = index;
      sheets.set(data.sheetId, sheet);
    }

    // A batch completes after all of its sheets have finished, and its counts add up.
    const batchesCompleted = drafts.filter((draft) => draft.type === "batch.completed");
    expect(batchesCompleted.length).toBeGreaterThan(10);
    for (const completed of batchesCompleted) {
      const data = dataOf(completed);
      const completedAt = byId.get(completed.id as string)!.index;
      const batchSheets = [...sheets.values()].filter((sheet) => sheet.batchId === data.batchId);
      expect(batchSheets).toHaveLength(data.sheetCount as number);
      for (const sheet of batchSheets) {
        expect(SHEET_TERMINAL.has(sheet.types.at(-1) as string)).toBe(true);
        expect(sheet.lastIndex).toBeLessThan(completedAt);
      }
      const failed = batchSheets.filter((sheet) => sheet.types.some((type) => type.endsWith(".failed"))).length;
      expect(data.failedCount).toBe(failed);
      const started = drafts.find((draft) => draft.type === "batch.started" && dataOf(draft).batchId === data.batchId)!;
      expect(started.correlationid).toBe(completed.correlationid);
    }
  });

  it("is deterministic for a given seed", async () => {
    const first = await record({ seed: 42, ratePerSecond: 4, forMs: 60_000 });
    vi.setSystemTime(new Date("2026-02-02T09:00:00.000Z"));
    const second = await record({ seed: 42, ratePerSecond: 4, forMs: 60_000 });
    vi.setSystemTime(new Date("2026-02-02T09:00:00.000Z"));
    const other = await record({ seed: 43, ratePerSecond: 4, forMs: 60_000 });
    expect(second).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it("publishes nothing after stop and keeps going after a failed publish", async () => {
    const published: EventDraft[] = [];
    const errors: unknown[] = [];
    let calls = 0;
    const traffic = startDemoTraffic({
      ratePerSecond: 2,
      random: seededRandom(1),
      onError: (error) => errors.push(error),
      publish: async (batch) => {
        calls += 1;
        if (calls === 2) throw new Error("store unavailable");
        published.push(...batch);
      },
    });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(errors).toHaveLength(1);
    expect(calls).toBe(10);
    expect(published).toHaveLength(9);

    await traffic.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(10);
  });

  it("rejects a rate that is not a positive number", () => {
    for (const ratePerSecond of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => startDemoTraffic({ publish: async () => undefined, ratePerSecond })).toThrow(RangeError);
    }
  });
});
