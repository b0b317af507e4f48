import { describe, expect, it } from "vitest";
import { buildEnvelope } from "../core/envelope";
import { isEngineError } from "../core/errors";
import type { AppendOutcome, IdempotencyClaim, StreamAppend } from "./event-store";
import { GroupCommitAppender } from "./group-commit";
import { InMemoryEventStore } from "./memory-event-store";

/** Counts the store's append calls, so a test can see what was merged. */
function countingStore() {
  const store = new InMemoryEventStore();
  const calls: number[] = [];
  const appender = {
    append(appends: StreamAppend[], options?: { idempotency?: IdempotencyClaim }): Promise<AppendOutcome> {
      calls.push(appends.reduce((sum, append) => sum + append.events.length, 0));
      return store.append(appends, options);
    },
  };
  return { store, calls, appender };
}

const event = (subject: string, id?: string) => buildEnvelope({ type: "exam.created", data: { subject }, subject, id });
const any = (subject: string, id?: string): StreamAppend[] => [{ streamId: subject, expectedVersion: "any", events: [event(subject, id)] }];

describe("GroupCommitAppender", () => {
  it("sends the first append at once and merges those that arrive while it is in flight", async () => {
    const { store, calls, appender } = countingStore();
    const group = new GroupCommitAppender(appender);
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, index) => group.append(any(`s-${index % 3}`))));

    expect(calls).toEqual([1, 9]);
    expect(outcomes.every((outcome) => outcome.status === "appended")).toBe(true);
    const positions = outcomes.flatMap((outcome) => (outcome.status === "appended" ? outcome.events.map((e) => e.position) : []));
    expect(positions.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await store.readStream("s-1")).map((e) => e.streamversion)).toEqual([1, 2, 3]);
  });

  it("gives each caller exactly its own events, matched case-insensitively by id", async () => {
    const { appender } = countingStore();
    const group = new GroupCommitAppender(appender);
    const upper = "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B";
    const [first, second] = await Promise.all([group.append(any("a")), group.append(any("b", upper))]);
    expect(first.status === "appended" && first.events.map((e) => e.subject)).toEqual(["a"]);
    expect(second.status === "appended" && second.events.map((e) => e.id)).toEqual([upper.toLowerCase()]);
  });

  it("never merges conditional or idempotent appends", async () => {
    const { calls, appender } = countingStore();
    const group = new GroupCommitAppender(appender);
    await Promise.all([
      group.append(any("x")),
      group.append([{ streamId: "y", expectedVersion: "no_stream", events: [event("y")] }]),
      group.append(any("z"), { idempotency: { key: "k", fingerprint: "f" } }),
      group.append(any("w")),
    ]);
    expect(calls.sort()).toEqual([1, 1, 1, 1]);
  });

  it("keeps a repeated id out of the merged append, so it is answered as a duplicate", async () => {
    const { appender } = countingStore();
    const group = new GroupCommitAppender(appender);
    const id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";
    const outcomes = await Promise.all([group.append(any("a")), group.append(any("b", id)), group.append(any("b", id))]);
    const flags = outcomes.map((outcome) => outcome.status === "appended" && outcome.events[0]!.duplicate);
    expect(flags).toEqual([false, false, true]);
  });

  it("fails only the malformed caller of a merged group", async () => {
    const { store, appender } = countingStore();
    const group = new GroupCommitAppender(appender);
    const malformed = [{ streamId: "bad", expectedVersion: "any" as const, events: [{ ...event("bad"), id: "not-a-uuid" }] }];
    const results = await Promise.allSettled([group.append(any("a")), group.append(any("b")), group.append(malformed), group.append(any("c"))]);

    expect(results.map((result) => result.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    const rejected = results[2] as PromiseRejectedResult;
    expect(isEngineError(rejected.reason) && rejected.reason.code).toBe("validation");
    expect(await store.headPosition()).toBe(3);
  });

  it("caps the events of one commit", async () => {
    const { calls, appender } = countingStore();
    const group = new GroupCommitAppender(appender, 4);
    await Promise.all(Array.from({ length: 11 }, (_, index) => group.append(any(`s-${index}`))));
    expect(calls).toEqual([1, 4, 4, 2]);
  });
});
