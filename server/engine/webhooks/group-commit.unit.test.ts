import { describe, expect, it } from "vitest";
import { GroupCommit } from "./group-commit";

/** A commit that waits until the test lets it finish, recording what each write carried. */
function gatedWriter(fail?: (items: number[]) => boolean) {
  const writes: number[][] = [];
  const releases: Array<() => void> = [];
  const commit = async (items: number[]) => {
    writes.push(items);
    await new Promise<void>((resolve) => releases.push(resolve));
    if (fail?.(items)) throw new Error(`rejected ${items.join(",")}`);
    return items.length;
  };
  return { writes, releases, commit };
}

async function settle(): Promise<void> {
  for (let turn = 0; turn < 10; turn++) await Promise.resolve();
}

describe("GroupCommit", () => {
  it("writes the first submission at once and what came meanwhile as one write", async () => {
    const writer = gatedWriter();
    const group = new GroupCommit({ commit: writer.commit, maxItems: 100 });
    const first = group.submit([1]);
    const second = group.submit([2, 3]);
    const third = group.submit([4]);
    await settle();
    expect(writer.writes).toEqual([[1]]);
    writer.releases.shift()!();
    await settle();
    expect(writer.writes).toEqual([[1], [2, 3, 4]]);
    writer.releases.shift()!();
    // Each caller gets the result of the write that carried its items.
    expect(await Promise.all([first, second, third])).toEqual([1, 3, 3]);
    await group.drain();
  });

  it("keeps each write within maxItems, never splitting a submission", async () => {
    const writer = gatedWriter();
    const group = new GroupCommit({ commit: writer.commit, maxItems: 3 });
    const all = [group.submit([0]), group.submit([1, 2]), group.submit([3, 4]), group.submit([5, 6, 7, 8])];
    for (let write = 0; write < 4; write++) {
      await settle();
      writer.releases.shift()?.();
    }
    await Promise.all(all);
    expect(writer.writes).toEqual([[0], [1, 2], [3, 4], [5, 6, 7, 8]]);
  });

  it("retries a failed merged write per submission, so only the bad one fails", async () => {
    const writer = gatedWriter((items) => items.includes(13));
    const group = new GroupCommit({ commit: writer.commit, maxItems: 100 });
    const first = group.submit([1]);
    const good = group.submit([2]);
    const bad = group.submit([13]);
    for (let write = 0; write < 4; write++) {
      await settle();
      writer.releases.shift()?.();
    }
    await expect(first).resolves.toBe(1);
    await expect(good).resolves.toBe(1);
    await expect(bad).rejects.toThrow("rejected 13");
    expect(writer.writes).toEqual([[1], [2, 13], [2], [13]]);
  });

  it("drain() waits for everything submitted", async () => {
    const writer = gatedWriter();
    const group = new GroupCommit({ commit: writer.commit, maxItems: 100 });
    void group.submit([1]);
    void group.submit([2]);
    let drained = false;
    const draining = group.drain().then(() => (drained = true));
    await settle();
    writer.releases.shift()!();
    await settle();
    expect(drained).toBe(false);
    writer.releases.shift()!();
    await draining;
    expect(drained).toBe(true);
  });
});
