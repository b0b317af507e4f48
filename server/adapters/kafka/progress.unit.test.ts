import { describe, expect, it } from "vitest";
import { addDelivery, decodeProgress, earlierDeliveries, encodeProgress, pruneRuns, takeOver, type Run } from "./progress";

describe("partition progress in offset metadata", () => {
  it("counts one more delivery below a hand-out mark, splitting the run it falls into", () => {
    const once = addDelivery([], 10);
    expect(once).toEqual([{ end: 10, extra: 1 }]);
    // A second owner got as far as 6 before it died too: 0..5 twice, 6..9 once.
    const twice = addDelivery(once, 6);
    expect(twice).toEqual([
      { end: 6, extra: 2 },
      { end: 10, extra: 1 },
    ]);
    expect([0, 5, 6, 9, 10].map((offset) => earlierDeliveries(twice, offset))).toEqual([2, 2, 1, 1, 0]);
    // A third reached 14: everything below 14 once more.
    expect(addDelivery(twice, 14)).toEqual([
      { end: 6, extra: 3 },
      { end: 10, extra: 2 },
      { end: 14, extra: 1 },
    ]);
  });

  it("takes over a predecessor's unsettled hand-outs as counted deliveries, pruned below the committed offset", () => {
    const previous = { handedEnd: 120, settledAbove: 3, runs: [{ end: 90, extra: 2 }, { end: 110, extra: 1 }] };
    const progress = takeOver(previous, 100);
    expect(progress).toEqual({ handedEnd: 100, settledAbove: 0, runs: [{ end: 110, extra: 2 }, { end: 120, extra: 1 }] });
    expect(earlierDeliveries(progress.runs, 100)).toBe(2);
    expect(earlierDeliveries(progress.runs, 115)).toBe(1);
    expect(earlierDeliveries(progress.runs, 120)).toBe(0);
    // Nothing handed out beyond the commit: nothing to count.
    expect(takeOver({ handedEnd: 50, settledAbove: 0, runs: [] }, 50).runs).toEqual([]);
    expect(takeOver(undefined, 7)).toEqual({ handedEnd: 7, settledAbove: 0, runs: [] });
  });

  it("round-trips through the metadata string and ignores strings it did not write", () => {
    const progress = { handedEnd: 42, settledAbove: 5, runs: [{ end: 40, extra: 3 }, { end: 42, extra: 1 }] };
    const text = encodeProgress(progress, 30);
    expect(text).toBe("el1|42|5|40:3,42:1");
    expect(decodeProgress(text)).toEqual(progress);
    expect(decodeProgress(encodeProgress({ handedEnd: 10, settledAbove: 0, runs: [] }, 10))).toEqual({ handedEnd: 10, settledAbove: 0, runs: [] });
    for (const foreign of [null, undefined, "", "consumer-1", "el1|x|0|", "el1|5|0|4:1,3:1", "el2|5|0|"]) expect(decodeProgress(foreign)).toBeUndefined();
  });

  it("keeps the run list short enough for the broker's metadata limit, over-counting rather than under-counting", () => {
    let runs: Run[] = [];
    for (let crash = 200; crash > 0; crash -= 1) runs = addDelivery(runs, crash);
    const pruned = pruneRuns(runs, 0);
    expect(pruned.length).toBeLessThanOrEqual(64);
    for (const offset of [0, 50, 150, 199]) expect(earlierDeliveries(pruned, offset)).toBeGreaterThanOrEqual(earlierDeliveries(runs, offset));
    expect(earlierDeliveries(pruned, 199)).toBe(1);
    expect(encodeProgress({ handedEnd: 200, settledAbove: 0, runs }, 0).length).toBeLessThan(4096);
  });
});
