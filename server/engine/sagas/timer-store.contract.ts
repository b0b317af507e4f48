import { beforeEach, describe, expect, it } from "vitest";
import type { ScheduleTimer, TimerStore } from "./timer-store";

const T0 = Date.parse("2026-03-01T08:00:00.000Z");
/** `ms` after the contract's start of time, as the stores take times. */
export const at = (ms: number): string => new Date(T0 + ms).toISOString();

/** A timer of kind `saga.deadline` due `dueInMs` after T0, with `overrides`. */
export function timerDraft(id: string, dueInMs: number, overrides: Partial<ScheduleTimer> = {}): ScheduleTimer {
  return { id, kind: "saga.deadline", key: `saga-${id}`, dueAt: at(dueInMs), payload: { sagaId: id, nested: { list: [1, "two", null] } }, ...overrides };
}

/**
 * The behaviour every TimerStore must show. Run it from each implementation's test file:
 * `describeTimerStoreContract("postgres", async () => new PostgresTimerStore(...))`.
 * `makeStore` is called before every test and must return an empty store.
 */
export function describeTimerStoreContract(name: string, makeStore: () => Promise<TimerStore>): void {
  describe(`TimerStore contract: ${name}`, () => {
    let store: TimerStore;

    beforeEach(async () => {
      store = await makeStore();
    });

    const claim = (owner: string, nowMs: number, overrides: { leaseMs?: number; limit?: number; kinds?: string[] } = {}) =>
      store.claimDue({ owner, now: at(nowMs), leaseMs: overrides.leaseMs ?? 1_000, limit: overrides.limit ?? 100, kinds: overrides.kinds });
    const ids = (timers: Array<{ id: string }>): string[] => timers.map((timer) => timer.id);

    it("schedules once per id and reads every field back", async () => {
      const draft = timerDraft("t-1", 5_000, { payload: { text: "naïve ✓ \"quoted\"", n: 1.5, list: [null, true, { deep: "x" }] } });
      expect(await store.schedule(draft, at(0))).toBe(true);
      const expected = { ...draft, status: "scheduled", attempts: 0, createdAt: at(0), firedAt: null, lastError: null, claimedBy: null, claimedUntil: null };
      expect(await store.get("t-1")).toEqual(expected);
      // A second schedule of the id (even with other fields) keeps the first.
      expect(await store.schedule({ ...draft, dueAt: at(1), kind: "other" }, at(1))).toBe(false);
      expect(await store.get("t-1")).toEqual(expected);
      expect(await store.get("missing")).toBeUndefined();
      // Scalar and null payloads survive as well.
      for (const [index, payload] of [null, 0, "text", [1, 2]].entries()) {
        await store.schedule(timerDraft(`scalar-${index}`, 0, { payload }), at(0));
        expect((await store.get(`scalar-${index}`))?.payload).toEqual(payload);
      }
    });

    it("keeps a timer id after it fired or was cancelled: scheduling it again stores nothing", async () => {
      await store.schedule(timerDraft("fired", 0), at(0));
      await store.schedule(timerDraft("cancelled", 0), at(0));
      await claim("a", 0, { kinds: ["saga.deadline"] });
      expect(await store.complete("fired", "a", at(10))).toBe(true);
      expect(await store.cancel("cancelled")).toBe(false); // claimed: left to its claimer
      expect(await store.release("cancelled", "a", { dueAt: at(0), error: "x" })).toBe(true);
      expect(await store.cancel("cancelled")).toBe(true);
      expect(await store.schedule(timerDraft("fired", 0), at(20))).toBe(false);
      expect(await store.schedule(timerDraft("cancelled", 0), at(20))).toBe(false);
      expect((await store.get("fired"))?.status).toBe("fired");
      expect((await store.get("cancelled"))?.status).toBe("cancelled");
    });

    it("cancels one timer, or every scheduled timer of a key, but never a claimed or ended one", async () => {
      await store.schedule(timerDraft("a1", 0, { key: "saga-a" }), at(0));
      await store.schedule(timerDraft("a2", 60_000, { key: "saga-a" }), at(0));
      await store.schedule(timerDraft("a3", 0, { key: "saga-a", kind: "held" }), at(0));
      await store.schedule(timerDraft("b1", 0, { key: "saga-b" }), at(0));
      expect(ids(await claim("w", 0, { kinds: ["held"] }))).toEqual(["a3"]);
      expect(await store.cancelByKey("saga-a")).toBe(2);
      expect((await store.get("a1"))?.status).toBe("cancelled");
      expect((await store.get("a2"))?.status).toBe("cancelled");
      expect((await store.get("a3"))?.status).toBe("scheduled");
      expect(await store.cancelByKey("saga-a")).toBe(0);
      expect(await store.cancel("a1")).toBe(false);
      expect(await store.cancel("missing")).toBe(false);
      expect(await store.cancel("b1")).toBe(true);
      expect(await store.cancel("b1")).toBe(false);
      // Cancelled timers are never claimed.
      expect(await claim("w", 120_000, { kinds: ["saga.deadline"] })).toEqual([]);
    });

    it("claims due timers soonest first, up to the limit, of the kinds asked for, counting an attempt", async () => {
      await store.schedule(timerDraft("late", 3_000), at(0));
      await store.schedule(timerDraft("early", 1_000), at(0));
      await store.schedule(timerDraft("middle", 2_000), at(0));
      await store.schedule(timerDraft("future", 10_000), at(0));
      await store.schedule(timerDraft("other-kind", 0, { kind: "sheet.grading_overdue" }), at(0));
      const first = await claim("a", 5_000, { limit: 2, leaseMs: 30_000, kinds: ["saga.deadline"] });
      expect(ids(first)).toEqual(["early", "middle"]);
      expect(first[0]).toMatchObject({ status: "scheduled", attempts: 1, claimedBy: "a", claimedUntil: at(35_000) });
      expect(await store.get("early")).toEqual(first[0]);
      expect(ids(await claim("b", 5_000, { leaseMs: 30_000, kinds: ["saga.deadline"] }))).toEqual(["late"]);
      expect(ids(await claim("b", 5_000, { leaseMs: 30_000, kinds: ["sheet.grading_overdue"] }))).toEqual(["other-kind"]);
      expect(await claim("b", 5_000, { kinds: [] })).toEqual([]);
      expect(await claim("b", 5_000)).toEqual([]);
      // Without kinds, every kind is claimed.
      await store.schedule(timerDraft("any", 0, { kind: "anything" }), at(0));
      expect(ids(await claim("b", 10_000))).toEqual(["any", "future"]);
    });

    it("gives a claimed timer to nobody else until its lease expires, then to the next claimer, which the first cannot overrule", async () => {
      await store.schedule(timerDraft("t", 0), at(0));
      expect(ids(await claim("a", 0, { leaseMs: 1_000 }))).toEqual(["t"]);
      expect(await claim("b", 999)).toEqual([]);
      const reclaimed = await claim("b", 1_000, { leaseMs: 1_000 });
      expect(reclaimed).toMatchObject([{ id: "t", attempts: 2, claimedBy: "b", claimedUntil: at(2_000) }]);
      // "a" lost the claim: neither its completion nor its release counts.
      expect(await store.complete("t", "a", at(1_100))).toBe(false);
      expect(await store.release("t", "a", { dueAt: at(9_000), error: "late" })).toBe(false);
      expect(await store.get("t")).toMatchObject({ status: "scheduled", claimedBy: "b", lastError: null });
      expect(await store.complete("t", "b", at(1_200))).toBe(true);
      expect(await store.get("t")).toMatchObject({ status: "fired", firedAt: at(1_200), attempts: 2, claimedBy: null, claimedUntil: null });
      expect(await store.complete("t", "b", at(1_300))).toBe(false);
      expect(await claim("c", 100_000)).toEqual([]);
    });

    it("completes a claim whose lease ran out if nobody claimed the timer since", async () => {
      await store.schedule(timerDraft("t", 0), at(0));
      await claim("a", 0, { leaseMs: 1_000 });
      expect(await store.complete("t", "a", at(5_000))).toBe(true);
      expect((await store.get("t"))?.status).toBe("fired");
      // Only a claimed timer is completed.
      await store.schedule(timerDraft("unclaimed", 0), at(0));
      expect(await store.complete("unclaimed", "a", at(5_000))).toBe(false);
      expect(await store.complete("missing", "a", at(5_000))).toBe(false);
    });

    it("releases a failed run: due again later with its error kept, claimable then by anyone", async () => {
      await store.schedule(timerDraft("t", 0), at(0));
      await claim("a", 0, { leaseMs: 30_000 });
      expect(await store.release("t", "a", { dueAt: at(2_000), error: "Error: grader offline" })).toBe(true);
      expect(await store.get("t")).toMatchObject({ status: "scheduled", dueAt: at(2_000), lastError: "Error: grader offline", attempts: 1, claimedBy: null, claimedUntil: null });
      expect(await store.release("t", "a", { dueAt: at(0), error: "again" })).toBe(false);
      expect(await claim("b", 1_999)).toEqual([]);
      expect(await claim("b", 2_000)).toMatchObject([{ id: "t", attempts: 2, lastError: "Error: grader offline" }]);
      expect(await store.complete("t", "b", at(2_100))).toBe(true);
      expect(await store.get("t")).toMatchObject({ status: "fired", lastError: "Error: grader offline" });
    });

    it("tells when the next scheduled timer can be claimed, of the kinds asked for", async () => {
      expect(await store.nextDueAt()).toBeUndefined();
      await store.schedule(timerDraft("soon", 1_000), at(0));
      await store.schedule(timerDraft("later", 5_000), at(0));
      await store.schedule(timerDraft("other", 500, { kind: "other" }), at(0));
      expect(await store.nextDueAt()).toBe(at(500));
      expect(await store.nextDueAt(["saga.deadline"])).toBe(at(1_000));
      expect(await store.nextDueAt(["none"])).toBeUndefined();
      // A claimed timer can be claimed again when its lease ends; an ended one never.
      await claim("a", 1_000, { leaseMs: 10_000, kinds: ["saga.deadline"] });
      expect(await store.nextDueAt(["saga.deadline"])).toBe(at(5_000));
      await store.cancel("later");
      expect(await store.nextDueAt(["saga.deadline"])).toBe(at(11_000));
      await store.complete("soon", "a", at(2_000));
      expect(await store.nextDueAt(["saga.deadline"])).toBeUndefined();
    });

    it("prunes fired and cancelled timers that ended before the cutoff, never scheduled ones", async () => {
      await store.schedule(timerDraft("fired-early", 0), at(0));
      await store.schedule(timerDraft("fired-late", 0), at(0));
      await store.schedule(timerDraft("cancelled-early", 1_000), at(0));
      await store.schedule(timerDraft("cancelled-late", 90_000), at(0));
      await store.schedule(timerDraft("scheduled", 0), at(0));
      await claim("a", 0, { limit: 2 });
      await store.complete("fired-early", "a", at(1_000));
      await store.complete("fired-late", "a", at(60_000));
      await store.cancel("cancelled-early");
      await store.cancel("cancelled-late");
      expect(await store.prune(at(30_000))).toBe(2);
      expect(ids(await store.list({ limit: 10 }))).toEqual(["fired-late", "scheduled", "cancelled-late"]);
      expect(await store.prune(at(30_000))).toBe(0);
    });

    it("lists soonest due first, filtered by kind, key and status, up to the limit", async () => {
      await store.schedule(timerDraft("c", 3_000, { key: "k1" }), at(0));
      await store.schedule(timerDraft("a", 1_000, { key: "k1", kind: "sheet.grading_overdue" }), at(0));
      await store.schedule(timerDraft("b", 2_000, { key: "k2" }), at(0));
      await store.schedule(timerDraft("d", 4_000, { key: "k2" }), at(0));
      await store.cancel("d");
      expect(ids(await store.list({ limit: 10 }))).toEqual(["a", "b", "c", "d"]);
      expect(ids(await store.list({ limit: 2 }))).toEqual(["a", "b"]);
      expect(ids(await store.list({ limit: 10, kind: "saga.deadline" }))).toEqual(["b", "c", "d"]);
      expect(ids(await store.list({ limit: 10, key: "k1" }))).toEqual(["a", "c"]);
      expect(ids(await store.list({ limit: 10, key: "k2", status: "scheduled" }))).toEqual(["b"]);
      expect(ids(await store.list({ limit: 10, status: "cancelled" }))).toEqual(["d"]);
      expect(ids(await store.list({ limit: 10, kind: "saga.deadline", key: "k1", status: "scheduled" }))).toEqual(["c"]);
      expect(await store.list({ limit: 10, key: "none" })).toEqual([]);
    });
  });
}
