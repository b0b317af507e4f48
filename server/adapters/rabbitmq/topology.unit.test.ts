import { describe, expect, it } from "vitest";
import { ValidationError } from "@/server/engine/core/errors";
import { AMQP_PRIORITY, delayTier, groupNames, priorityOf } from "./topology";

describe("delayTier", () => {
  const tiers = [50, 200, 800];

  it("takes the longest tier not longer than the wait, else the shortest", () => {
    expect(delayTier(tiers, 1)).toBe(50);
    expect(delayTier(tiers, 50)).toBe(50);
    expect(delayTier(tiers, 199)).toBe(50);
    expect(delayTier(tiers, 200)).toBe(200);
    expect(delayTier(tiers, 10_000)).toBe(800);
  });

  it("serves any delay as a sum of tiers, never shorter, longer by less than the shortest tier", () => {
    for (const delay of [1, 49, 51, 250, 799, 801, 3_333, 12_345]) {
      let waited = 0;
      let hops = 0;
      while (delay - waited > 0) {
        waited += delayTier(tiers, delay - waited);
        hops += 1;
      }
      expect(waited).toBeGreaterThanOrEqual(delay);
      expect(waited - delay).toBeLessThan(50);
      // Tiers 4x apart: the longest as often as it fits, then at most 3 of each shorter one, plus
      // one more of the shortest to round up.
      expect(hops).toBeLessThanOrEqual(Math.floor(delay / 800) + 3 + 3 + 1);
    }
  });
});

describe("names", () => {
  it("keeps (topic, group) pairs apart even when names contain dots", () => {
    const a = groupNames("el", "a.b", "c", [50]);
    const b = groupNames("el", "a", "b.c", [50]);
    expect(a.queue).toBe("el.a.b:c");
    expect(b.queue).toBe("el.a:b.c");
    expect(a.delayQueues.get(50)).toBe("el.a.b:c:delay.50");
  });

  it("refuses empty names, ':' and names over RabbitMQ's 255 bytes", () => {
    expect(() => groupNames("el", "t", "", [50])).toThrow(ValidationError);
    expect(() => groupNames("el", "t:x", "g", [50])).toThrow(/topic name/);
    expect(() => groupNames("el", "t", "g:x", [50])).toThrow(/group name/);
    expect(() => groupNames("el", "t", "g".repeat(250), [50])).toThrow(/longer than 255 bytes/);
  });
});

describe("priorities", () => {
  it("map both ways, a missing AMQP priority counting as normal", () => {
    for (const priority of ["high", "normal", "low"] as const) expect(priorityOf(AMQP_PRIORITY[priority])).toBe(priority);
    expect(priorityOf(undefined)).toBe("normal");
    expect(priorityOf(9)).toBe("high");
  });
});
