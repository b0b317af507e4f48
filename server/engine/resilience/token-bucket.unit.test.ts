import { describe, expect, it } from "vitest";
import { FakeClock } from "../core/clock";
import { TokenBucket } from "./token-bucket";

describe("TokenBucket", () => {
  it("grants a full second's worth at once, then one token per 1/rate seconds", () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 4, clock });
    for (let i = 0; i < 4; i++) expect(bucket.tryTake()).toEqual({ granted: true });
    expect(bucket.tryTake()).toEqual({ granted: false, retryAt: clock.now() + 250 });
    clock.advance(249);
    expect(bucket.tryTake().granted).toBe(false);
    clock.advance(1);
    expect(bucket.tryTake()).toEqual({ granted: true });
    expect(bucket.tryTake().granted).toBe(false);
  });

  it("never holds more than its capacity after a quiet spell", () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 2, clock });
    bucket.tryTake();
    clock.advance(60_000);
    expect([1, 2, 3].map(() => bucket.tryTake().granted)).toEqual([true, true, false]);
  });

  it("goes at the rate over a long run", () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, clock });
    let granted = 0;
    for (let step = 0; step <= 10_000; step++) {
      if (bucket.tryTake().granted) granted += 1;
      clock.advance(1);
    }
    // 10 s at 10/s (the last take at 10 s exactly) plus the initial burst of 10.
    expect(granted).toBe(110);
  });

  it("a rate below one per second still grants one token, then waits", () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 0.5, clock });
    expect(bucket.tryTake()).toEqual({ granted: true });
    expect(bucket.tryTake()).toEqual({ granted: false, retryAt: clock.now() + 2_000 });
  });

  it("a clock that steps back adds no tokens", () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 1, clock });
    bucket.tryTake();
    clock.advance(-10_000);
    expect(bucket.tryTake().granted).toBe(false);
  });

  it("rejects settings that make no bucket", () => {
    expect(() => new TokenBucket({ ratePerSecond: 0 })).toThrow(/ratePerSecond/);
    expect(() => new TokenBucket({ ratePerSecond: 5, capacity: 0.5 })).toThrow(/capacity/);
  });
});
