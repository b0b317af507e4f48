import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildEnvelope, type EventDraft, type EventEnvelope, type StoredEvent } from "../core/envelope";
import { ValidationError } from "../core/errors";
import { newId } from "../core/ids";
import type { AppendOutcome, EventStore, ExpectedVersion, ReadAllFilter, StreamAppend } from "./event-store";

/**
 * The behaviour every EventStore must show. Run it from each implementation's test file:
 * `describeEventStoreContract("postgres", async () => new PostgresEventStore(...))`.
 * `makeStore` is called before every test and must return an empty store.
 */
export function describeEventStoreContract(name: string, makeStore: () => Promise<EventStore>): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;

    beforeEach(async () => {
      store = await makeStore();
    });

    afterEach(async () => {
      await store.close();
    });

    const event = (type: string, draft: Partial<EventDraft> = {}): EventEnvelope =>
      buildEnvelope({ type, data: { n: 1 }, ...draft });

    const to = (streamId: string, expectedVersion: ExpectedVersion, ...events: EventEnvelope[]): StreamAppend => ({
      streamId,
      expectedVersion,
      events,
    });

    async function appended(...appends: StreamAppend[]): Promise<StoredEvent[]> {
      const outcome = await store.append(appends);
      if (outcome.status !== "appended") throw new Error(`expected appended, got ${JSON.stringify(outcome)}`);
      return outcome.events.map(({ duplicate: _duplicate, ...stored }) => stored);
    }

    const positionsOf = (events: StoredEvent[]) => events.map((e) => e.position);

    async function readEverything(filter: Omit<ReadAllFilter, "limit"> = {}): Promise<StoredEvent[]> {
      return (await store.readAll({ ...filter, limit: 10_000 })).events;
    }

    describe("append and readStream", () => {
      it("stores events with their stream placement and every envelope attribute", async () => {
        const full = event("exam.created", {
          subject: "exam-1",
          dataschema: "urn:schema:exam.created:1",
          causationid: newId(),
          tracestate: "vendor=1",
          partitionkey: "exam-1",
          priority: "high",
          schemaversion: 3,
          source: "urn:test",
          data: { title: "Física ✓", tags: ["a", "b"], nested: { score: 9.5, passed: true, note: null } },
        });
        const minimal = event("exam.started");
        const outcome = await store.append([to("exam-1", "no_stream", full, minimal)]);

        expect(outcome).toEqual({
          status: "appended",
          events: [
            { ...full, position: 1, streamid: "exam-1", streamversion: 1, duplicate: false },
            { ...minimal, position: 2, streamid: "exam-1", streamversion: 2, duplicate: false },
          ],
        });
        const read = await store.readStream("exam-1");
        expect(read).toEqual([
          { ...full, position: 1, streamid: "exam-1", streamversion: 1 },
          { ...minimal, position: 2, streamid: "exam-1", streamversion: 2 },
        ]);
        // Absent optional attributes are absent, not null.
        expect(Object.keys(read[1] ?? {})).not.toContain("subject");
        expect(read[1]).not.toHaveProperty("causationid");
        expect(await store.streamVersion("exam-1")).toBe(2);
      });

      it("normalises time to UTC with milliseconds and ids to lower case", async () => {
        const id = newId();
        const [stored] = await appended(
          to("s", "any", { ...event("t"), id: id.toUpperCase(), time: "2026-03-01T10:00:00.123456+02:00" }),
        );
        expect(stored?.id).toBe(id);
        expect(stored?.time).toBe("2026-03-01T08:00:00.123Z");
        expect((await store.getById(id))?.time).toBe("2026-03-01T08:00:00.123Z");
        expect(await store.getById(id.toUpperCase())).toEqual(stored);
      });

      it("stores null data and reads back a copy the caller cannot change", async () => {
        const data = { list: [1, 2] };
        await appended(to("s", "any", event("t", { data: null }), event("t", { data })));
        data.list.push(3);
        const [first, second] = await store.readStream("s");
        expect(first?.data).toBeNull();
        expect(second?.data).toEqual({ list: [1, 2] });
        (second?.data as { list: number[] }).list.push(4);
        expect((await store.readStream("s"))[1]?.data).toEqual({ list: [1, 2] });
      });

      it("reads a stream from a version with a limit", async () => {
        await appended(to("s", "no_stream", ...Array.from({ length: 5 }, () => event("t"))));
        await appended(to("other", "no_stream", event("t")));
        const page = await store.readStream("s", { fromVersion: 2, limit: 3 });
        expect(page.map((e) => e.streamversion)).toEqual([2, 3, 4]);
        expect((await store.readStream("s", { fromVersion: 5 })).map((e) => e.streamversion)).toEqual([5]);
        expect(await store.readStream("missing")).toEqual([]);
        expect(await store.streamVersion("missing")).toBe(0);
      });

      it("rejects malformed appends as a whole", async () => {
        const twin = event("t");
        const cases: StreamAppend[][] = [
          [to("s", "any", event("t"), { ...event("t"), id: "not-a-uuid" })],
          [to("s", "any", twin), to("r", "any", { ...twin })],
          [to("s", "any", event("t")), to("s", "any", event("t"))],
          [to("s", "any", { ...event("t"), time: "Jan 1 2026" })],
          [to("s", -1, event("t"))],
          [to("", "any", event("t"))],
        ];
        for (const appends of cases) {
          await expect(store.append(appends)).rejects.toBeInstanceOf(ValidationError);
        }
        expect(await store.headPosition()).toBe(0);
      });
    });

    describe("expected versions", () => {
      const conflict = (streamId: string, expected: ExpectedVersion, actual: number): AppendOutcome => ({
        status: "conflict",
        streamId,
        expected,
        actual,
      });

      it("checks a number against the stream's current version", async () => {
        await appended(to("s", 0, event("t"), event("t")));
        expect(await store.append([to("s", 1, event("t"))])).toEqual(conflict("s", 1, 2));
        expect(await store.append([to("s", 3, event("t"))])).toEqual(conflict("s", 3, 2));
        expect((await appended(to("s", 2, event("t"))))[0]?.streamversion).toBe(3);
        expect(await store.append([to("fresh", 1, event("t"))])).toEqual(conflict("fresh", 1, 0));
      });

      it("no_stream, stream_exists and any", async () => {
        expect(await store.append([to("s", "stream_exists", event("t"))])).toEqual(conflict("s", "stream_exists", 0));
        await appended(to("s", "no_stream", event("t")));
        expect(await store.append([to("s", "no_stream", event("t"))])).toEqual(conflict("s", "no_stream", 1));
        await appended(to("s", "stream_exists", event("t")));
        await appended(to("s", "any", event("t")));
        expect(await store.streamVersion("s")).toBe(3);
      });

      it("stores nothing when one stream of a multi-stream append conflicts", async () => {
        await appended(to("b", "no_stream", event("t")));
        const outcome = await store.append([to("a", "no_stream", event("t")), to("b", 5, event("t")), to("c", "any", event("t"))]);
        expect(outcome).toEqual(conflict("b", 5, 1));
        expect(await store.headPosition()).toBe(1);
        expect(await store.streamVersion("a")).toBe(0);
        expect(await store.streamVersion("c")).toBe(0);
        expect(await readEverything()).toHaveLength(1);
      });

      it("reports the first conflicting stream in request order", async () => {
        const outcome = await store.append([to("a", "any", event("t")), to("b", 2, event("t")), to("c", 3, event("t"))]);
        expect(outcome).toEqual(conflict("b", 2, 0));
      });

      it("checks a stream named with no events (a pure version assertion)", async () => {
        await appended(to("guard", "no_stream", event("t")));
        expect(await store.append([to("guard", 0), to("work", "any", event("t"))])).toEqual(conflict("guard", 0, 1));
        const [stored] = await appended(to("guard", 1), to("work", "any", event("t")));
        expect(stored).toMatchObject({ streamid: "work", position: 2 });
        expect(await store.streamVersion("guard")).toBe(1);
      });

      it("places a multi-stream append at consecutive positions in request order", async () => {
        const events = await appended(to("a", "no_stream", event("t"), event("t")), to("b", "no_stream", event("t")));
        expect(events.map((e) => [e.streamid, e.streamversion, e.position])).toEqual([
          ["a", 1, 1],
          ["a", 2, 2],
          ["b", 1, 3],
        ]);
      });
    });

    describe("duplicate ids", () => {
      it("returns the stored event flagged duplicate and stores only the new ones", async () => {
        const first = event("t");
        await appended(to("a", "any", first));
        const second = event("t");
        const outcome = await store.append([to("a", "any", { ...first, data: { changed: true } }, second)]);
        expect(outcome).toEqual({
          status: "appended",
          events: [
            { ...first, position: 1, streamid: "a", streamversion: 1, duplicate: true },
            { ...second, position: 2, streamid: "a", streamversion: 2, duplicate: false },
          ],
        });
        expect(await store.headPosition()).toBe(2);
      });

      it("answers a retried append with the original events, not with a version conflict", async () => {
        const events = [event("t"), event("t")];
        const original = await store.append([to("a", "no_stream", ...events)]);
        const retry = await store.append([to("a", "no_stream", ...events)]);
        expect(retry.status).toBe("appended");
        if (original.status !== "appended" || retry.status !== "appended") return;
        expect(retry.events).toEqual(original.events.map((e) => ({ ...e, duplicate: true })));
        expect(await store.headPosition()).toBe(2);
      });

      it("still checks the expected version when a stream also gets new events", async () => {
        const first = event("t");
        await appended(to("a", "no_stream", first));
        expect(await store.append([to("a", "no_stream", first, event("t"))])).toMatchObject({ status: "conflict", actual: 1 });
      });

      it("finds a duplicate stored in another stream", async () => {
        const first = event("t");
        await appended(to("a", "any", first));
        const outcome = await store.append([to("b", "no_stream", first)]);
        expect(outcome).toMatchObject({ status: "appended", events: [{ id: first.id, streamid: "a", duplicate: true }] });
        expect(await store.streamVersion("b")).toBe(0);
      });
    });

    describe("idempotency claims", () => {
      const claim = (fingerprint: string) => ({ idempotency: { key: "events:alice:k1", fingerprint } });

      it("replays the original append for the same key and fingerprint", async () => {
        const original = await store.append([to("a", "any", event("t"), event("u"))], claim("f1"));
        const replay = await store.append([to("a", "any", event("t"))], claim("f1"));
        if (original.status !== "appended") throw new Error("first append failed");
        expect(replay).toEqual({ status: "replayed", events: original.events.map(({ duplicate: _d, ...stored }) => stored) });
        expect(await store.headPosition()).toBe(2);
      });

      it("reports a mismatch for the same key with another fingerprint", async () => {
        await appended(to("a", "any", event("t")));
        await store.append([to("a", "any", event("t"))], claim("f1"));
        expect(await store.append([to("a", "any", event("t"))], claim("f2"))).toEqual({
          status: "idempotency_mismatch",
          key: "events:alice:k1",
        });
        expect(await store.headPosition()).toBe(2);
      });

      it("does not claim the key when the append conflicts", async () => {
        expect((await store.append([to("a", 3, event("t"))], claim("f1"))).status).toBe("conflict");
        expect((await store.append([to("a", "any", event("t"))], claim("f1"))).status).toBe("appended");
      });

      it("replays duplicates too, in request order", async () => {
        const old = event("t");
        await appended(to("a", "any", old));
        const fresh = event("u");
        await store.append([to("b", "any", fresh), to("a", "any", old)], claim("f1"));
        const replay = await store.append([], claim("f1"));
        expect(replay).toMatchObject({ status: "replayed", events: [{ id: fresh.id, position: 2 }, { id: old.id, position: 1 }] });
      });

      it("lookupIdempotency: nothing for an unused key, or one whose append conflicted", async () => {
        expect(await store.lookupIdempotency({ key: "events:alice:k1", fingerprint: "f1" })).toBeUndefined();
        await store.append([to("a", 3, event("t"))], claim("f1"));
        expect(await store.lookupIdempotency({ key: "events:alice:k1", fingerprint: "f1" })).toBeUndefined();
      });

      it("lookupIdempotency: the claimed append's events in its order, appending nothing", async () => {
        const old = event("t");
        await appended(to("a", "any", old));
        const original = await store.append([to("b", "no_stream", event("u"), event("v")), to("a", 1, event("w"), old)], claim("f1"));
        if (original.status !== "appended") throw new Error(`expected appended, got ${original.status}`);

        const answer = await store.lookupIdempotency({ key: "events:alice:k1", fingerprint: "f1" });
        expect(answer).toEqual({ status: "replayed", events: original.events.map(({ duplicate: _d, ...stored }) => stored) });
        expect(answer?.status === "replayed" && answer.events.map((e) => e.position)).toEqual([2, 3, 4, 1]);
        expect(await store.headPosition()).toBe(4);
      });

      it("lookupIdempotency: a mismatch for another fingerprint", async () => {
        await store.append([to("a", "any", event("t"))], claim("f1"));
        expect(await store.lookupIdempotency({ key: "events:alice:k1", fingerprint: "f2" })).toEqual({
          status: "idempotency_mismatch",
          key: "events:alice:k1",
        });
        expect(await store.headPosition()).toBe(1);
      });
    });

    describe("readAll", () => {
      const times = ["2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z", "2026-01-03T00:00:00.000Z"];
      const fixture = () => [
        event("exam.created", { subject: "exam-1", correlationid: "c1", time: times[0] }),
        event("exam.sheet.graded", { subject: "exam-1", correlationid: "c1", time: times[1] }),
        event("examination.created", { subject: "exam-2", correlationid: "c2", time: times[1] }),
        event("exam", { subject: "exam-2", correlationid: "c2", time: times[2] }),
        event("a_b.x", { time: times[2] }),
        event("axb.x", { time: times[2] }),
        event("user.created", { subject: "user-1", correlationid: "c1", time: times[2] }),
      ];
      beforeEach(async () => {
        await appended(to("s", "no_stream", ...fixture()));
      });

      it("returns the log in position order", async () => {
        const page = await store.readAll({ limit: 100 });
        expect(positionsOf(page.events)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect(page.lastPosition).toBe(7);
      });

      it("filters by exact types, trailing wildcards and *", async () => {
        expect(positionsOf(await readEverything({ types: ["exam.created", "user.created"] }))).toEqual([1, 7]);
        expect(positionsOf(await readEverything({ types: ["exam.*"] }))).toEqual([1, 2]);
        expect(positionsOf(await readEverything({ types: ["exam.*", "exam"] }))).toEqual([1, 2, 4]);
        // `_` is a LIKE wildcard in SQL: the pattern must match it literally.
        expect(positionsOf(await readEverything({ types: ["a_b.*"] }))).toEqual([5]);
        expect(positionsOf(await readEverything({ types: ["*"] }))).toHaveLength(7);
        expect(positionsOf(await readEverything({ types: [] }))).toHaveLength(7);
      });

      it("filters by subject, correlationid and inclusive time range", async () => {
        expect(positionsOf(await readEverything({ subject: "exam-2" }))).toEqual([3, 4]);
        expect(positionsOf(await readEverything({ correlationid: "c1" }))).toEqual([1, 2, 7]);
        expect(positionsOf(await readEverything({ from: times[1], to: times[1] }))).toEqual([2, 3]);
        expect(positionsOf(await readEverything({ from: "2026-01-02T01:00:00+01:00" }))).toEqual([2, 3, 4, 5, 6, 7]);
        expect(positionsOf(await readEverything({ to: "2026-01-01T23:59:59.999Z" }))).toEqual([1]);
        expect(positionsOf(await readEverything({ types: ["exam.*"], correlationid: "c1", subject: "exam-1", from: times[1] }))).toEqual([2]);
      });

      it("bounds by after (exclusive) and toPosition (inclusive)", async () => {
        expect(positionsOf(await readEverything({ after: 2, toPosition: 4 }))).toEqual([3, 4]);
        expect(positionsOf(await readEverything({ after: 7 }))).toEqual([]);
      });

      it("lastPosition is the last event of a full page, else the end of what was scanned", async () => {
        expect(await store.readAll({ limit: 2 })).toMatchObject({ lastPosition: 2 });
        expect(await store.readAll({ types: ["exam.*"], limit: 1 })).toMatchObject({ lastPosition: 1 });
        expect(await store.readAll({ types: ["exam.*"], limit: 2 })).toMatchObject({ lastPosition: 2 });
        expect(await store.readAll({ types: ["exam.*"], limit: 3 })).toMatchObject({ lastPosition: 7 });
        expect(await store.readAll({ types: ["nothing"], limit: 5 })).toEqual({ events: [], lastPosition: 7 });
        expect(await store.readAll({ types: ["nothing"], toPosition: 4, limit: 5 })).toEqual({ events: [], lastPosition: 4 });
        expect(await store.readAll({ after: 20, limit: 5 })).toEqual({ events: [], lastPosition: 20 });
        expect(await store.readAll({ after: 5, toPosition: 3, limit: 5 })).toEqual({ events: [], lastPosition: 5 });
      });

      it("pages through a filtered log with lastPosition, each event once", async () => {
        await appended(to("more", "no_stream", ...fixture()));
        const seen: number[] = [];
        let after = 0;
        for (let page = 0; page < 20; page++) {
          const result = await store.readAll({ after, types: ["exam.*", "user.created"], limit: 2 });
          seen.push(...positionsOf(result.events));
          expect(result.lastPosition).toBeGreaterThanOrEqual(after);
          if (result.lastPosition === after) break;
          after = result.lastPosition;
        }
        expect(seen).toEqual([1, 2, 7, 8, 9, 14]);
      });

      it("rejects a limit below 1 and malformed time bounds", async () => {
        await expect(store.readAll({ limit: 0 })).rejects.toBeInstanceOf(ValidationError);
        await expect(store.readAll({ limit: 10, from: "yesterday" })).rejects.toBeInstanceOf(ValidationError);
      });
    });

    describe("getById and headPosition", () => {
      it("finds an event by id, and nothing for unknown or non-uuid ids", async () => {
        expect(await store.headPosition()).toBe(0);
        const [stored] = await appended(to("s", "any", event("t"), event("u")));
        expect(await store.getById(stored?.id ?? "")).toEqual(stored);
        expect(await store.getById(newId())).toBeUndefined();
        expect(await store.getById("nope")).toBeUndefined();
        expect(await store.headPosition()).toBe(2);
      });
    });

    describe("positions", () => {
      it("are 1..N without gaps across concurrent appends and conflicts", async () => {
        const outcomes = await Promise.all([
          ...Array.from({ length: 20 }, (_, i) => store.append([to(`s${i % 3}`, "any", event("t"), event("t"))])),
          ...Array.from({ length: 10 }, () => store.append([to("race", "no_stream", event("t"))])),
        ]);
        expect(outcomes.filter((o) => o.status === "conflict")).toHaveLength(9);
        const all = await readEverything();
        expect(positionsOf(all)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
        expect(await store.headPosition()).toBe(41);
        for (const stream of ["s0", "s1", "s2", "race"]) {
          const versions = (await store.readStream(stream)).map((e) => e.streamversion);
          expect(versions).toEqual(versions.map((_, i) => i + 1));
        }
      });
    });

    describe("checkpoints", () => {
      it("compare-and-set from 0, then from the stored value", async () => {
        expect(await store.checkpoints.load("projector")).toBe(0);
        expect(await store.checkpoints.store("projector", 7, 3)).toBe(false);
        expect(await store.checkpoints.store("projector", 5, 0)).toBe(true);
        expect(await store.checkpoints.store("projector", 9, 0)).toBe(false);
        expect(await store.checkpoints.load("projector")).toBe(5);
        expect(await store.checkpoints.store("projector", 9, 5)).toBe(true);
        expect(await store.checkpoints.store("projector", 0, 9)).toBe(true);
        expect(await store.checkpoints.store("projector", 4, 0)).toBe(true);
        expect(await store.checkpoints.load("projector")).toBe(4);
      });

      it("lists every checkpoint by name", async () => {
        await store.checkpoints.store("b", 2, 0);
        await store.checkpoints.store("a", 1, 0);
        await store.checkpoints.store("B", 3, 0);
        const list = await store.checkpoints.list();
        expect(list.map(({ name, position }) => [name, position])).toEqual([
          ["B", 3],
          ["a", 1],
          ["b", 2],
        ]);
        for (const entry of list) expect(new Date(entry.updatedAt).toISOString()).toBe(entry.updatedAt);
      });

      it("lets exactly one of two racing processors move a checkpoint", async () => {
        await store.checkpoints.store("p", 10, 0);
        const results = await Promise.all([store.checkpoints.store("p", 20, 10), store.checkpoints.store("p", 30, 10)]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect([20, 30]).toContain(await store.checkpoints.load("p"));
      });
    });

    describe("onAppended", () => {
      it("announces the new head after a commit, and nothing for conflicts, duplicates or replays", async () => {
        const heads: number[] = [];
        const unsubscribe = store.onAppended((head) => heads.push(head));
        const first = event("t");
        await store.append([to("s", "no_stream", first, event("t"))], { idempotency: { key: "k", fingerprint: "f" } });
        await store.append([to("s", "no_stream", event("t"))]);
        await store.append([to("s", "any", first)]);
        await store.append([to("s", "any", event("t"))], { idempotency: { key: "k", fingerprint: "f" } });
        await store.append([to("s", "any", event("t"))]);
        unsubscribe();
        await store.append([to("s", "any", event("t"))]);
        expect(heads).toEqual([2, 3]);
      });
    });

    it("answers ping", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
