import { beforeEach, describe, expect, it } from "vitest";
import { newId } from "../core/ids";
import type { TaskRecord, TaskStore } from "./task-store";

/** A queued task record created and updated `at`, with `overrides` (a new id unless given). */
export function taskRecord(at: string, overrides: Partial<TaskRecord> = {}): TaskRecord {
  const id = overrides.id ?? newId();
  return {
    id,
    type: "ocr_processing",
    priority: "high",
    key: null,
    status: "queued",
    input: { sheetId: "s-1", pages: [1, 2], nested: { ok: true } },
    result: null,
    error: null,
    attempts: 0,
    maxAttempts: 6,
    timeoutMs: 300_000,
    progress: null,
    idempotencyKey: null,
    fingerprint: null,
    correlationid: id,
    createdAt: at,
    updatedAt: at,
    startedAt: null,
    finishedAt: null,
    nextAttemptAt: null,
    ...overrides,
  };
}

/**
 * The behaviour every TaskStore must show. Run it from each implementation's test file:
 * `describeTaskStoreContract("postgres", async () => new PostgresTaskStore(...))`.
 * `makeStore` is called before every test and must return an empty store.
 */
export function describeTaskStoreContract(name: string, makeStore: () => Promise<TaskStore>): void {
  describe(`TaskStore contract: ${name}`, () => {
    let store: TaskStore;

    beforeEach(async () => {
      store = await makeStore();
    });

    let clock = Date.parse("2026-03-01T08:00:00.000Z");
    const task = (overrides: Partial<TaskRecord> = {}): TaskRecord => {
      clock += 1000;
      return taskRecord(new Date(clock).toISOString(), overrides);
    };

    it("creates, reads back every field, and reports a repeat of the id as not created", async () => {
      const record = task({ key: "exam-1", idempotencyKey: "k-1", fingerprint: "f".repeat(64), priority: "low" });
      expect(await store.create(record)).toEqual({ created: true, task: record });
      expect(await store.get(record.id)).toEqual(record);
      const again = await store.create({ ...record, type: "other" });
      expect(again).toEqual({ created: false, task: record });
      expect(await store.get(newId())).toBeUndefined();
    });

    it("makes one task per idempotency key, even when creates race", async () => {
      const first = task({ idempotencyKey: "same" });
      const rivals = [first, task({ idempotencyKey: "same" }), task({ idempotencyKey: "same" })];
      const results = await Promise.all(rivals.map((record) => store.create(record)));
      expect(results.filter((result) => result.created)).toHaveLength(1);
      const winner = results.find((result) => result.created)!.task.id;
      expect(results.every((result) => result.task.id === winner)).toBe(true);
      // Tasks without a key never collide.
      expect((await store.create(task())).created).toBe(true);
      expect((await store.create(task())).created).toBe(true);
    });

    it("updates under a condition on status and attempts, and only then", async () => {
      const record = task();
      await store.create(record);
      const startedAt = new Date(clock + 5).toISOString();
      const running = await store.update(record.id, { status: "running", attempts: 1, startedAt, progress: { percent: 0 } }, { statuses: ["queued", "failed"] });
      expect(running).toMatchObject({ status: "running", attempts: 1, startedAt, progress: { percent: 0 } });
      // Stale writers (another attempt, a status that moved on) change nothing.
      expect(await store.update(record.id, { progress: { percent: 50 } }, { statuses: ["running"], attempts: 2 })).toBeUndefined();
      expect(await store.update(record.id, { status: "succeeded" }, { statuses: ["queued"] })).toBeUndefined();
      const progressed = await store.update(record.id, { progress: { percent: 42.5, message: "page 2 of 4" } }, { statuses: ["running"], attempts: 1 });
      expect(progressed?.progress).toEqual({ percent: 42.5, message: "page 2 of 4" });
      const failed = await store.update(record.id, {
        status: "failed",
        error: { type: "TaskTimeoutError", message: "too slow" },
        nextAttemptAt: new Date(clock + 1000).toISOString(),
      });
      expect(failed).toMatchObject({ status: "failed", error: { type: "TaskTimeoutError", message: "too slow" }, attempts: 1 });
      const done = await store.update(record.id, { status: "succeeded", result: { score: 87, items: [1, "two", null] }, error: null, nextAttemptAt: null, finishedAt: new Date(clock + 2000).toISOString() });
      expect(done).toMatchObject({ status: "succeeded", result: { score: 87, items: [1, "two", null] }, error: null, nextAttemptAt: null });
      expect(await store.get(record.id)).toEqual(done);
      expect(await store.update(newId(), { status: "dead" })).toBeUndefined();
    });

    it("keeps JSON results of every shape, including null and scalars", async () => {
      for (const result of [null, 0, "text", [1, 2], { a: { b: [true] } }]) {
        const record = task();
        await store.create(record);
        expect((await store.update(record.id, { status: "succeeded", result }))?.result).toEqual(result);
      }
    });

    it("deletes a task and frees its idempotency key", async () => {
      const record = task({ idempotencyKey: "free-me" });
      await store.create(record);
      expect(await store.delete(record.id)).toBe(true);
      expect(await store.delete(record.id)).toBe(false);
      expect(await store.get(record.id)).toBeUndefined();
      expect((await store.create(task({ idempotencyKey: "free-me" }))).created).toBe(true);
    });

    it("lists newest first, filtered by status and type, in pages", async () => {
      const records: TaskRecord[] = [];
      for (let index = 0; index < 7; index += 1) {
        const record = task({ type: index % 2 === 0 ? "ocr_processing" : "report_generation", status: index < 3 ? "succeeded" : "queued" });
        records.push(record);
        await store.create(record);
      }
      const newestFirst = [...records].reverse().map((record) => record.id);

      const first = await store.list({ limit: 3 });
      expect(first.items.map((item) => item.id)).toEqual(newestFirst.slice(0, 3));
      expect(first.next).toBe(newestFirst[2]);
      const second = await store.list({ limit: 3, cursor: first.next! });
      expect(second.items.map((item) => item.id)).toEqual(newestFirst.slice(3, 6));
      const third = await store.list({ limit: 3, cursor: second.next! });
      expect(third.items.map((item) => item.id)).toEqual(newestFirst.slice(6));
      expect(third.next).toBeNull();
      expect((await store.list({ limit: 7 })).next).toBeNull();

      const queuedOcr = await store.list({ limit: 10, status: "queued", type: "ocr_processing" });
      expect(queuedOcr.items.map((item) => item.id)).toEqual(records.filter((r, i) => i >= 3 && i % 2 === 0).map((r) => r.id).reverse());
      expect((await store.list({ limit: 10, status: "dead" })).items).toEqual([]);
      expect((await store.list({ limit: 10, type: "report_generation" })).items).toHaveLength(3);
    });

    it("counts tasks per type and status", async () => {
      await store.create(task({ type: "a_type", status: "queued" }));
      await store.create(task({ type: "a_type", status: "queued" }));
      await store.create(task({ type: "a_type", status: "dead" }));
      await store.create(task({ type: "b_type", status: "running" }));
      const counts = await store.counts();
      expect([...counts].sort((x, y) => `${x.type}${x.status}`.localeCompare(`${y.type}${y.status}`))).toEqual([
        { type: "a_type", status: "dead", count: 1 },
        { type: "a_type", status: "queued", count: 2 },
        { type: "b_type", status: "running", count: 1 },
      ]);
    });
  });
}
