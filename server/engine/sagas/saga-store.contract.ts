import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isEngineError } from "../core/errors";
import { newId } from "../core/ids";
import { SagaLeaseLostError, type ClaimArgs, type SagaRecord, type SagaSignalOutcome, type SagaStepRecord, type SagaStore } from "./saga-store";

/**
 * The behaviour every SagaStore must show, beyond what the port's comments say:
 *
 * - `create` stores revision 1 whatever the record says; a repeat of the id writes nothing (not
 *   even the lease) and returns the stored record.
 * - Leases run `leaseMs` from the `now` given (the caller's clock, never the database's); a lease
 *   is free when `leaseOwner` is null or `leaseUntil <= now`. Claims change only the lease, not
 *   the revision.
 * - `save` writes the saga's state; its identity (type, kind, parentId, input, startedAt) is
 *   fixed at create.
 * - A write not made by the lease holder (`signal`, `update`) bumps the revision and frees the
 *   lease: the holder's stale copy can no longer be saved (SagaLeaseLostError), and the saga is
 *   claimable at once instead of after the lease runs out. `signal` leaves `updatedAt` alone (it
 *   is no transition yet); `update` sets it to `now`.
 * - `list` orders by `startedAt` descending, ties by id descending; a cursor is a keyset position,
 *   so sagas created while paging never shift a page; an unreadable cursor is a ValidationError.
 *   `nextCursor` is null when no older saga matches.
 * - `put` stores the record exactly as given (revision included), unless the stored one has a
 *   higher revision.
 */

export interface SagaStoreUnderTest {
  store: SagaStore;
  /**
   * The same data through a connection of its own (another worker process, as the database sees
   * it), for the concurrent claims; the store itself when it has only one.
   */
  rival?: SagaStore;
  close?(): Promise<void>;
}

const BASE = Date.parse("2026-03-01T08:00:00.000Z");
/** An ISO time `ms` after the suite's base time. */
export const at = (ms: number): string => new Date(BASE + ms).toISOString();

export function sagaStep(name: string, overrides: Partial<SagaStepRecord> = {}): SagaStepRecord {
  return { name, status: "pending", attempts: 0, startedAt: null, endedAt: null, events: [], history: [], ...overrides };
}

/** A running orchestrated saga started at `startedAt`, due then, with `overrides` (a new id unless given). */
export function sagaRecord(startedAt: string, overrides: Partial<SagaRecord> = {}): SagaRecord {
  const id = overrides.id ?? newId();
  return {
    id,
    type: "sheet_grading",
    kind: "orchestrated",
    status: "running",
    subject: "sheet-1",
    correlationid: id,
    traceparent: null,
    parentId: null,
    input: { sheetId: "sheet-1", pages: [1, 2], note: "naïve ✓ \"quoted\"" },
    data: {},
    steps: [sagaStep("start_ocr"), sagaStep("ocr"), sagaStep("publish_result")],
    compensations: [],
    error: null,
    cursor: 0,
    wakeAt: startedAt,
    awaiting: [],
    signals: {},
    cancelRequested: false,
    startedAt,
    updatedAt: startedAt,
    endedAt: null,
    revision: 1,
    leaseOwner: null,
    leaseUntil: null,
    ...overrides,
  };
}

const LEASE_MS = 30_000;
/** Code-point order (ISO times and lower-case UUIDs sort as text), largest first. */
const descending = (a: string, b: string): number => (a < b ? 1 : a > b ? -1 : 0);
const claimAt = (owner: string, now: string): ClaimArgs => ({ owner, now, leaseMs: LEASE_MS });
const plus = (iso: string, ms: number): string => new Date(Date.parse(iso) + ms).toISOString();

const succeeded: SagaSignalOutcome = { ok: true, result: { text: "scan", pages: [1, 2] }, events: [{ id: newId(), type: "task.succeeded", position: 42 }] };
const dead: SagaSignalOutcome = { ok: false, error: { type: "NonRetryableError", message: "unreadable scan" }, retryable: false };

export function describeSagaStoreContract(name: string, makeStore: () => Promise<SagaStoreUnderTest>): void {
  describe(`SagaStore contract: ${name}`, () => {
    let underTest: SagaStoreUnderTest;
    let store: SagaStore;

    beforeEach(async () => {
      underTest = await makeStore();
      store = underTest.store;
    });

    afterEach(async () => {
      await underTest.close?.();
    });

    /** Creates each record (in order) and returns them as stored. */
    const createAll = async <T extends SagaRecord[]>(records: [...T]): Promise<{ [K in keyof T]: SagaRecord }> => {
      const stored: SagaRecord[] = [];
      for (const record of records) stored.push((await store.create(record)).saga);
      return stored as { [K in keyof T]: SagaRecord };
    };

    const ids = (records: Array<{ id: string }>): string[] => records.map((record) => record.id);

    describe("create and get", () => {
      it("stores every field (revision 1), and a repeat of the id writes nothing", async () => {
        const record = sagaRecord(at(0), {
          subject: null,
          traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          parentId: newId(),
          input: [null, 1.5, { deep: ["x"] }],
          data: { ocr: { text: "Física" } },
          steps: [
            sagaStep("start_ocr", {
              status: "completed",
              attempts: 2,
              startedAt: at(1),
              endedAt: at(5),
              result: { started: true },
              events: [{ id: newId(), type: "sheet.ocr_started", position: 7 }],
              history: [
                { attempt: 1, startedAt: at(1), endedAt: at(2), error: { type: "Error", message: "boom" } },
                { attempt: 2, startedAt: at(4), endedAt: at(5) },
              ],
            }),
            sagaStep("ocr", { status: "waiting", attempts: 1, startedAt: at(6), endedAt: null, nextAttemptAt: null }),
          ],
          cursor: 1,
          wakeAt: null,
          awaiting: ["task:abc", "saga:def"],
          signals: { "task:abc": succeeded },
          revision: 9,
        });
        const created = await store.create(record);
        expect(created).toEqual({ created: true, saga: { ...record, revision: 1 } });
        expect(await store.get(record.id)).toEqual({ ...record, revision: 1 });

        const again = await store.create({ ...record, type: "other", status: "failed", input: { other: true } }, claimAt("w1", at(10)));
        expect(again).toEqual({ created: false, saga: { ...record, revision: 1 } });
        expect(await store.get(record.id)).toEqual({ ...record, revision: 1 });
      });

      it("keeps JSON of every shape in input and data, null included", async () => {
        for (const value of [null, 0, "text", [1, "two", null], { a: { b: [true] } }]) {
          const record = sagaRecord(at(0), { input: value, data: value });
          await store.create(record);
          expect(await store.get(record.id)).toMatchObject({ input: value, data: value });
        }
      });

      it("takes the lease at create when asked, so nobody else claims the new saga", async () => {
        const record = sagaRecord(at(0));
        const { saga } = await store.create(record, claimAt("starter", at(0)));
        expect(saga).toMatchObject({ leaseOwner: "starter", leaseUntil: plus(at(0), LEASE_MS), revision: 1 });
        expect(await store.get(record.id)).toEqual(saga);
        expect(await store.claimDue({ ...claimAt("other", at(1000)), limit: 10 })).toEqual([]);
        expect(await store.claim(record.id, claimAt("other", at(1000)))).toBeUndefined();
        // The starter saves under it.
        const saved = await store.save({ ...saga, cursor: 1 }, { ...claimAt("starter", at(1000)), release: true });
        expect(saved).toMatchObject({ cursor: 1, revision: 2, leaseOwner: null, leaseUntil: null });
      });

      it("finds nothing for an unknown id", async () => {
        expect(await store.get(newId())).toBeUndefined();
        expect(await store.get("not-a-uuid")).toBeUndefined();
      });
    });

    describe("list and counts", () => {
      it("lists newest first (ties by id), in pages without gaps or repeats, unshifted by sagas created meanwhile", async () => {
        const tied = [newId(), newId(), newId()].sort();
        const records = await createAll([
          sagaRecord(at(1000)),
          sagaRecord(at(2000), { id: tied[0] }),
          sagaRecord(at(2000), { id: tied[2] }),
          sagaRecord(at(2000), { id: tied[1] }),
          sagaRecord(at(3000)),
          sagaRecord(at(500)),
          sagaRecord(at(4000)),
        ]);
        const newestFirst = [...records]
          .sort((a, b) => descending(a.startedAt, b.startedAt) || descending(a.id, b.id))
          .map((record) => record.id);

        const first = await store.list({ limit: 3 });
        expect(ids(first.items)).toEqual(newestFirst.slice(0, 3));
        expect(first.nextCursor).not.toBeNull();
        // A newer saga created while paging shows on a fresh first page, not in the pages that follow.
        const newer = sagaRecord(at(9000));
        await store.create(newer);
        const second = await store.list({ limit: 3, cursor: first.nextCursor! });
        expect(ids(second.items)).toEqual(newestFirst.slice(3, 6));
        const third = await store.list({ limit: 3, cursor: second.nextCursor! });
        expect(ids(third.items)).toEqual(newestFirst.slice(6));
        expect(third.nextCursor).toBeNull();

        expect(ids((await store.list({ limit: 1 })).items)).toEqual([newer.id]);
        // Exactly as many as the limit: no next page.
        expect((await store.list({ limit: 8 })).nextCursor).toBeNull();
        expect((await store.list({ limit: 7 })).nextCursor).not.toBeNull();
        expect(first.items[0]).toEqual(records.find((record) => record.id === newestFirst[0]));
      });

      it("filters by type, status, correlationid, kind and parent, combined", async () => {
        const parent = newId();
        const [grading, gradingDone, batch, child1, child2, flow] = await createAll([
          sagaRecord(at(1), { type: "sheet_grading", correlationid: "corr-a" }),
          sagaRecord(at(2), { type: "sheet_grading", status: "completed", correlationid: "corr-b", wakeAt: null, endedAt: at(3) }),
          sagaRecord(at(3), { id: parent, type: "exam_batch", correlationid: "corr-a" }),
          sagaRecord(at(4), { type: "sheet_grading", parentId: parent, correlationid: "corr-a" }),
          sagaRecord(at(5), { type: "sheet_grading", parentId: parent, status: "failed", correlationid: "corr-a" }),
          sagaRecord(at(6), { type: "exam_reporting", kind: "choreographed", status: "completed", correlationid: "corr-a" }),
        ]);
        const page = async (query: Parameters<SagaStore["list"]>[0]) => ids((await store.list(query)).items);
        expect(await page({ limit: 10, type: "sheet_grading" })).toEqual(ids([child2, child1, gradingDone, grading]));
        expect(await page({ limit: 10, status: "completed" })).toEqual(ids([flow, gradingDone]));
        expect(await page({ limit: 10, correlationid: "corr-a" })).toEqual(ids([flow, child2, child1, batch, grading]));
        expect(await page({ limit: 10, kind: "choreographed" })).toEqual(ids([flow]));
        expect(await page({ limit: 10, kind: "orchestrated", status: "completed" })).toEqual(ids([gradingDone]));
        expect(await page({ limit: 10, parentId: parent })).toEqual(ids([child2, child1]));
        expect(await page({ limit: 10, parentId: parent, status: "running" })).toEqual(ids([child1]));
        expect(await page({ limit: 10, type: "sheet_grading", status: "running", correlationid: "corr-a" })).toEqual(ids([child1, grading]));
        expect(await page({ limit: 10, type: "nope" })).toEqual([]);
        expect(await page({ limit: 10, parentId: newId() })).toEqual([]);
        // Filtered pages follow the same keyset.
        const first = await store.list({ limit: 2, correlationid: "corr-a" });
        const rest = await store.list({ limit: 10, correlationid: "corr-a", cursor: first.nextCursor! });
        expect([...ids(first.items), ...ids(rest.items)]).toEqual(ids([flow, child2, child1, batch, grading]));
        expect(rest.nextCursor).toBeNull();
      });

      it("refuses a cursor it did not make", async () => {
        await store.create(sagaRecord(at(0)));
        const error = await store.list({ limit: 5, cursor: "not a cursor!" }).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(isEngineError(error) && error.code).toBe("validation");
      });

      it("counts sagas per type and status, zeros left out", async () => {
        expect(await store.counts()).toEqual({ byType: {} });
        await createAll([
          sagaRecord(at(1), { type: "a" }),
          sagaRecord(at(2), { type: "a" }),
          sagaRecord(at(3), { type: "a", status: "failed" }),
          sagaRecord(at(4), { type: "b", status: "compensated" }),
          sagaRecord(at(5), { type: "b", kind: "choreographed", status: "completed" }),
        ]);
        expect(await store.counts()).toEqual({ byType: { a: { running: 2, failed: 1 }, b: { compensated: 1, completed: 1 } } });
      });
    });

    describe("claims", () => {
      it("claims due sagas only: active, woken, lease free or expired; oldest wakeAt first, up to the limit", async () => {
        const now = at(60_000);
        const [dueLate, dueEarly, compensating, expiredLease, notYet] = await createAll([
          sagaRecord(at(0), { wakeAt: at(50_000) }),
          sagaRecord(at(0), { wakeAt: at(10_000) }),
          sagaRecord(at(0), { status: "compensating", wakeAt: at(20_000) }),
          sagaRecord(at(0), { wakeAt: at(30_000) }),
          // Not due: in the future, waiting without a deadline, not active.
          sagaRecord(at(0), { wakeAt: at(60_001) }),
          sagaRecord(at(0), { wakeAt: null, awaiting: ["task:x"] }),
          sagaRecord(at(0), { status: "completed", wakeAt: at(1) }),
          sagaRecord(at(0), { status: "failed", wakeAt: at(1) }),
          sagaRecord(at(0), { status: "compensated", wakeAt: at(1) }),
          sagaRecord(at(0), { status: "cancelled", wakeAt: at(1) }),
        ]);
        // Leases: one expired exactly now (free), one still held.
        await store.claim(expiredLease.id, { owner: "gone", now: at(0), leaseMs: 60_000 });
        const held = sagaRecord(at(0), { wakeAt: at(1) });
        await store.create(held, { owner: "busy", now: at(59_000), leaseMs: 2_000 });

        const firstTwo = await store.claimDue({ ...claimAt("w1", now), limit: 2 });
        expect(ids(firstTwo)).toEqual(ids([dueEarly, compensating]));
        for (const claimed of firstTwo) {
          expect(claimed).toMatchObject({ leaseOwner: "w1", leaseUntil: plus(now, LEASE_MS), revision: 1 });
          expect(await store.get(claimed.id)).toEqual(claimed);
        }
        const rest = await store.claimDue({ ...claimAt("w2", now), limit: 10 });
        expect(ids(rest)).toEqual(ids([expiredLease, dueLate]));
        expect(rest.every((claimed) => claimed.leaseOwner === "w2")).toBe(true);
        expect(await store.claimDue({ ...claimAt("w3", now), limit: 10 })).toEqual([]);
        // Once the leases run out, the sagas are due again (the held one too), and the future one is due by then.
        const later = plus(now, LEASE_MS);
        expect(ids(await store.claimDue({ ...claimAt("w3", later), limit: 10 })).sort()).toEqual(ids([dueLate, dueEarly, compensating, expiredLease, held, notYet]).sort());
      });

      it("claims one saga by id when its lease is free or expired, due or not", async () => {
        const notDue = sagaRecord(at(0), { wakeAt: null });
        await store.create(notDue);
        const claimed = await store.claim(notDue.id, claimAt("w1", at(1000)));
        expect(claimed).toEqual({ ...notDue, leaseOwner: "w1", leaseUntil: plus(at(1000), LEASE_MS) });
        // Held: not even its owner claims it twice.
        expect(await store.claim(notDue.id, claimAt("w2", at(2000)))).toBeUndefined();
        expect(await store.claim(notDue.id, claimAt("w1", at(2000)))).toBeUndefined();
        const after = plus(at(1000), LEASE_MS);
        expect(await store.claim(notDue.id, claimAt("w2", after))).toMatchObject({ leaseOwner: "w2", leaseUntil: plus(after, LEASE_MS) });
        expect(await store.claim(newId(), claimAt("w1", at(0)))).toBeUndefined();
      });

      it("never hands the same saga to two concurrent claimers", async () => {
        const rival = underTest.rival ?? store;
        const now = at(100_000);
        const due = await createAll(Array.from({ length: 40 }, (_, index) => sagaRecord(at(index), { wakeAt: at(index) })));
        const seen = new Map<string, string>();
        for (let round = 0; round < 4 && seen.size < due.length; round += 1) {
          const [mine, theirs] = await Promise.all([
            store.claimDue({ ...claimAt(`a${round}`, now), limit: 7 }),
            rival.claimDue({ ...claimAt(`b${round}`, now), limit: 7 }),
          ]);
          for (const claimed of [...mine, ...theirs]) {
            expect(seen.get(claimed.id)).toBeUndefined();
            seen.set(claimed.id, claimed.leaseOwner!);
          }
        }
        for (const [id, owner] of seen) expect((await store.get(id))?.leaseOwner).toBe(owner);
        const leftover = await store.claimDue({ ...claimAt("last", now), limit: 100 });
        expect(seen.size + leftover.length).toBe(due.length);
        expect(leftover.every((claimed) => !seen.has(claimed.id))).toBe(true);
      });
    });

    describe("save", () => {
      it("writes the next state under the lease and extends it, or frees it on release", async () => {
        const record = sagaRecord(at(0));
        await store.create(record);
        const claimed = (await store.claim(record.id, claimAt("w1", at(1000))))!;
        const next: SagaRecord = {
          ...claimed,
          status: "compensating",
          subject: "sheet-9",
          data: { grader: "auto" },
          steps: [sagaStep("start_ocr", { status: "completed", attempts: 1, startedAt: at(1000), endedAt: at(1100), result: null }), sagaStep("ocr", { status: "failed", attempts: 3, error: { type: "E", message: "m" } }), sagaStep("publish_result")],
          compensations: [sagaStep("start_ocr", { status: "running", attempts: 1, startedAt: at(1200) })],
          error: { type: "E", message: "m" },
          cursor: 0,
          wakeAt: at(61_200),
          awaiting: ["task:1"],
          signals: { "task:0": dead },
          cancelRequested: true,
          updatedAt: at(1200),
        };
        const saved = await store.save(next, { ...claimAt("w1", at(1200)), release: false });
        expect(saved).toEqual({ ...next, revision: 2, leaseOwner: "w1", leaseUntil: plus(at(1200), LEASE_MS) });
        expect(await store.get(record.id)).toEqual(saved);

        const ended = await store.save({ ...saved, status: "compensated", wakeAt: null, awaiting: [], signals: {}, endedAt: at(1300), updatedAt: at(1300) }, { ...claimAt("w1", at(1300)), release: true });
        expect(ended).toMatchObject({ status: "compensated", endedAt: at(1300), revision: 3, leaseOwner: null, leaseUntil: null, awaiting: [], signals: {} });
        expect(await store.get(record.id)).toEqual(ended);
        // Released: the lease is no longer held.
        await expect(store.save({ ...ended, cursor: 5 }, { ...claimAt("w1", at(1400)), release: false })).rejects.toBeInstanceOf(SagaLeaseLostError);
      });

      it("keeps the saga's identity as created", async () => {
        const record = sagaRecord(at(0), { parentId: newId() });
        await store.create(record, claimAt("w1", at(0)));
        const current = (await store.get(record.id))!;
        await store.save({ ...current, type: "other", kind: "choreographed", parentId: null, input: { changed: true }, startedAt: at(5) }, { ...claimAt("w1", at(10)), release: true });
        expect(await store.get(record.id)).toMatchObject({ type: record.type, kind: record.kind, parentId: record.parentId, input: record.input, startedAt: record.startedAt, revision: 2 });
      });

      it("refuses a stale revision, another owner, and an expired lease", async () => {
        const record = sagaRecord(at(0));
        await store.create(record);
        const claimed = (await store.claim(record.id, claimAt("w1", at(0))))!;
        const saved = await store.save({ ...claimed, cursor: 1 }, { ...claimAt("w1", at(100)), release: false });

        const lost = async (promise: Promise<unknown>) => {
          const error = await promise.then(
            () => undefined,
            (caught: unknown) => caught,
          );
          expect(error).toBeInstanceOf(SagaLeaseLostError);
          expect((error as SagaLeaseLostError).sagaId).toBe(record.id);
        };
        await lost(store.save({ ...claimed, cursor: 2 }, { ...claimAt("w1", at(200)), release: false }));
        await lost(store.save({ ...saved, cursor: 2 }, { ...claimAt("w2", at(200)), release: false }));
        const expiry = saved.leaseUntil!;
        await lost(store.save({ ...saved, cursor: 2 }, { ...claimAt("w1", expiry), release: false }));
        expect(await store.get(record.id)).toEqual(saved);

        // After expiry another worker takes over; the first one's late save loses even before the second saves.
        const takeover = (await store.claim(record.id, claimAt("w2", expiry)))!;
        await lost(store.save({ ...saved, cursor: 3 }, { ...claimAt("w1", at(300)), release: false }));
        expect(await store.save({ ...takeover, cursor: 3 }, { ...claimAt("w2", plus(expiry, 1)), release: true })).toMatchObject({ cursor: 3, revision: 3 });
        await expect(store.save({ ...saved, cursor: 4 }, { ...claimAt("w1", at(400)), release: true })).rejects.toBeInstanceOf(SagaLeaseLostError);
      });
    });

    describe("signal", () => {
      it("reaches the active sagas awaiting the key with no outcome for it yet, makes them due now, and is idempotent", async () => {
        const now = at(5000);
        const [one, both, done, answered, other, compensating] = await createAll([
          sagaRecord(at(1), { wakeAt: at(600_000), awaiting: ["task:1"] }),
          sagaRecord(at(2), { wakeAt: null, awaiting: ["task:2", "task:1"] }),
          sagaRecord(at(3), { status: "completed", wakeAt: null, awaiting: ["task:1"] }),
          sagaRecord(at(4), { wakeAt: null, awaiting: ["task:1"], signals: { "task:1": dead } }),
          sagaRecord(at(5), { wakeAt: null, awaiting: ["task:9"] }),
          sagaRecord(at(6), { status: "compensating", wakeAt: null, awaiting: ["task:1"] }),
        ]);
        expect((await store.signal("task:1", succeeded, now)).sort()).toEqual(ids([one, both, compensating]).sort());
        for (const reached of [one, both, compensating]) {
          expect(await store.get(reached.id)).toEqual({ ...reached, signals: { "task:1": succeeded }, wakeAt: now, revision: 2 });
        }
        expect(await store.get(done.id)).toEqual(done);
        expect(await store.get(answered.id)).toEqual(answered);
        expect(await store.get(other.id)).toEqual(other);

        // Again: every saga has the outcome already.
        expect(await store.signal("task:1", dead, at(6000))).toEqual([]);
        expect((await store.get(one.id))?.signals).toEqual({ "task:1": succeeded });
        expect(await store.signal("task:404", succeeded, now)).toEqual([]);

        // The second key of a saga awaiting two.
        expect(await store.signal("task:2", dead, at(7000))).toEqual([both.id]);
        expect(await store.get(both.id)).toMatchObject({ signals: { "task:1": succeeded, "task:2": dead }, wakeAt: at(7000), revision: 3 });
        // Due now: a claim finds them.
        expect(ids(await store.claimDue({ ...claimAt("w1", at(7000)), limit: 10 })).sort()).toEqual(ids([one, both, compensating]).sort());
      });

      it("fences out a worker that holds the saga: the holder's stale copy cannot overwrite the outcome", async () => {
        const record = sagaRecord(at(0), { wakeAt: at(60_000), awaiting: ["saga:child"] });
        const { saga: held } = await store.create(record, claimAt("w1", at(0)));
        expect(await store.signal("saga:child", succeeded, at(10))).toEqual([record.id]);
        expect(await store.get(record.id)).toMatchObject({ leaseOwner: null, leaseUntil: null, revision: 2, wakeAt: at(10) });
        await expect(store.save({ ...held, awaiting: [] }, { ...claimAt("w1", at(20)), release: true })).rejects.toBeInstanceOf(SagaLeaseLostError);
        const reclaimed = await store.claim(record.id, claimAt("w1", at(30)));
        expect(reclaimed?.signals).toEqual({ "saga:child": succeeded });
      });
    });

    describe("update", () => {
      it("patches a saga at the expected revision, makes it due now, and frees the lease", async () => {
        const record = sagaRecord(at(0), { status: "failed", wakeAt: null, cursor: 1, error: { type: "E", message: "compensation failed" } });
        const { saga: held } = await store.create(record, claimAt("w1", at(0)));
        const compensations = [sagaStep("start_ocr", { status: "failed", attempts: 5, error: { type: "E", message: "m" } })];
        expect(await store.update(record.id, 2, { status: "compensating" }, at(10))).toBeUndefined();
        const updated = await store.update(record.id, 1, { status: "compensating", compensations, error: null, cursor: 0 }, at(10));
        expect(updated).toEqual({ ...held, status: "compensating", compensations, error: null, cursor: 0, wakeAt: at(10), updatedAt: at(10), revision: 2, leaseOwner: null, leaseUntil: null });
        expect(await store.get(record.id)).toEqual(updated);
        // The former holder's copy is stale.
        await expect(store.save({ ...held, cursor: 3 }, { ...claimAt("w1", at(20)), release: true })).rejects.toBeInstanceOf(SagaLeaseLostError);

        const cancelled = await store.update(record.id, 2, { cancelRequested: true, wakeAt: at(99) }, at(30));
        expect(cancelled).toMatchObject({ cancelRequested: true, wakeAt: at(99), updatedAt: at(30), revision: 3, status: "compensating", compensations });
        expect(await store.update(record.id, 2, { cancelRequested: false }, at(40))).toBeUndefined();
        expect(await store.update(newId(), 1, { cancelRequested: true }, at(40))).toBeUndefined();
        expect(await store.update("not-a-uuid", 1, { cancelRequested: true }, at(40))).toBeUndefined();
      });
    });

    describe("put", () => {
      it("upserts a choreographed saga's view exactly as given", async () => {
        const flow = sagaRecord(at(0), { type: "exam_reporting", kind: "choreographed", wakeAt: null, steps: [sagaStep("report", { status: "running", startedAt: at(0) })], correlationid: "corr-x" });
        await store.put(flow);
        expect(await store.get(flow.id)).toEqual(flow);
        const finished: SagaRecord = { ...flow, status: "completed", steps: [sagaStep("report", { status: "completed", startedAt: at(0), endedAt: at(9) })], updatedAt: at(9), endedAt: at(9), revision: 2 };
        await store.put(finished);
        expect(await store.get(flow.id)).toEqual(finished);
        expect(ids((await store.list({ limit: 10, kind: "choreographed", correlationid: "corr-x" })).items)).toEqual([flow.id]);
        expect(await store.counts()).toEqual({ byType: { exam_reporting: { completed: 1 } } });
        // A view rebuilt from fewer events (another process's tracker, finishing late) does not replace it.
        await store.put({ ...flow, revision: 1 });
        expect(await store.get(flow.id)).toEqual(finished);
        // A view is never due work.
        expect(await store.claimDue({ ...claimAt("w1", at(10)), limit: 10 })).toEqual([]);
      });
    });
  });
}
