import { describe, expect, it } from "vitest";
import { NonRetryableError, RetryAfterError } from "../core/errors";
import { DecodeError } from "./codec";
import { DEFAULT_RETRY_POLICY, backoffDelayMs, decideAfterFailure, resolveRetryPolicy, type RetryPolicy } from "./retry-policy";

const exact: RetryPolicy = { ...DEFAULT_RETRY_POLICY, jitter: 0 };
const middle = (): number => 0.5;

describe("retry policy", () => {
  it("has the documented defaults", () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({ maxAttempts: 5, initialDelayMs: 200, multiplier: 2, maxDelayMs: 60_000, jitter: 0.2 });
    expect(resolveRetryPolicy()).toEqual(DEFAULT_RETRY_POLICY);
    expect(resolveRetryPolicy({ maxAttempts: 3, jitter: undefined })).toEqual({ ...DEFAULT_RETRY_POLICY, maxAttempts: 3 });
  });

  it("rejects policies that make no schedule", () => {
    expect(() => resolveRetryPolicy({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => resolveRetryPolicy({ multiplier: 0.5 })).toThrow(/multiplier/);
    expect(() => resolveRetryPolicy({ jitter: 1.5 })).toThrow(/jitter/);
    expect(() => resolveRetryPolicy({ initialDelayMs: -1 })).toThrow(/initialDelayMs/);
  });

  it("backs off exponentially up to the cap", () => {
    const delays = [1, 2, 3, 4].map((attempt) => decideAfterFailure(new Error("x"), attempt, exact, middle));
    expect(delays).toEqual([200, 400, 800, 1600].map((delayMs) => ({ action: "retry", delayMs })));
    expect(backoffDelayMs(30, exact)).toBe(60_000);
  });

  it("spreads the delay by ±jitter and never past the cap", () => {
    const policy = { ...DEFAULT_RETRY_POLICY, jitter: 0.2 };
    expect(backoffDelayMs(1, policy, () => 0)).toBe(160);
    expect(backoffDelayMs(1, policy, () => 0.999999)).toBe(240);
    expect(backoffDelayMs(1, policy, middle)).toBe(200);
    for (let i = 0; i < 200; i += 1) {
      const delay = backoffDelayMs(3, policy);
      expect(delay).toBeGreaterThanOrEqual(640);
      expect(delay).toBeLessThanOrEqual(960);
    }
    expect(backoffDelayMs(40, policy, () => 0.999999)).toBe(60_000);
  });

  it("dead-letters after the last attempt", () => {
    expect(decideAfterFailure(new Error("boom"), 4, exact, middle).action).toBe("retry");
    const decision = decideAfterFailure(new Error("boom"), 5, exact, middle);
    expect(decision).toEqual({ action: "dead_letter", reason: "failed 5 of 5 attempts: boom" });
    expect(decideAfterFailure(new Error("boom"), 1, { ...exact, maxAttempts: 1 }).action).toBe("dead_letter");
  });

  it("dead-letters NonRetryableError and DecodeError at once", () => {
    expect(decideAfterFailure(new NonRetryableError("bad data"), 1, exact)).toEqual({ action: "dead_letter", reason: "non-retryable: bad data" });
    expect(decideAfterFailure(new DecodeError("no ce_type"), 1, exact)).toEqual({ action: "dead_letter", reason: "undecodable: no ce_type" });
    // The same convention from another copy of the error classes.
    expect(decideAfterFailure(Object.assign(new Error("x"), { nonRetryable: true }), 1, exact).action).toBe("dead_letter");
  });

  it("uses RetryAfterError's own delay, until the last attempt", () => {
    expect(decideAfterFailure(new RetryAfterError("slow down", 7_500), 1, exact, middle)).toEqual({ action: "retry", delayMs: 7_500 });
    expect(decideAfterFailure(new RetryAfterError("slow down", 7_500), 5, exact).action).toBe("dead_letter");
  });

  it("treats anything thrown as retryable", () => {
    expect(decideAfterFailure("a string", 1, exact, middle)).toEqual({ action: "retry", delayMs: 200 });
    expect(decideAfterFailure(undefined, 5, exact)).toEqual({ action: "dead_letter", reason: "failed 5 of 5 attempts: undefined" });
  });

  it("follows an explicit schedule, repeating its last delay, with maxAttempts still deciding the end", () => {
    const policy = resolveRetryPolicy({ scheduleMs: [1_000, 2_000, 5_000, 10_000, 30_000], maxAttempts: 6, jitter: 0 });
    const delays = [1, 2, 3, 4, 5].map((attempt) => decideAfterFailure(new Error("x"), attempt, policy, middle));
    expect(delays).toEqual([1_000, 2_000, 5_000, 10_000, 30_000].map((delayMs) => ({ action: "retry", delayMs })));
    expect(decideAfterFailure(new Error("x"), 6, policy).action).toBe("dead_letter");
    // Past the end the last delay repeats; a schedule is not capped by maxDelayMs.
    expect(backoffDelayMs(9, { ...policy, maxDelayMs: 10 })).toBe(30_000);
    // Jitter spreads scheduled delays too.
    expect(backoffDelayMs(1, { ...policy, jitter: 0.2 }, () => 0)).toBe(800);
    expect(backoffDelayMs(1, { ...policy, jitter: 0.2 }, () => 0.999999)).toBe(1_200);
  });

  it("copies the schedule and rejects one that makes no schedule", () => {
    const given = [100, 200];
    const policy = resolveRetryPolicy({ scheduleMs: given });
    given.push(300);
    expect(policy.scheduleMs).toEqual([100, 200]);
    expect(Object.isFrozen(policy.scheduleMs)).toBe(true);
    expect(() => resolveRetryPolicy({ scheduleMs: [] })).toThrow(/scheduleMs/);
    expect(() => resolveRetryPolicy({ scheduleMs: [100, -1] })).toThrow(/scheduleMs/);
    expect(() => resolveRetryPolicy({ scheduleMs: [Number.NaN] })).toThrow(/scheduleMs/);
  });
});
