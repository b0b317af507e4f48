import { describe, expect, it } from "vitest";
import {
  MAX_RETRY_AFTER_MS,
  STANDARD_WEBHOOK_SCHEDULE_MS,
  classifyResponse,
  nextAttemptDelayMs,
  parseRetryAfter,
} from "./retry-schedule";

const middle = () => 0.5; // no jitter
const lowest = () => 0; // -20 %
const highest = () => 0.999999; // just under +20 %

describe("STANDARD_WEBHOOK_SCHEDULE_MS", () => {
  it("is the Standard Webhooks schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h", () => {
    const h = 3_600_000;
    expect(STANDARD_WEBHOOK_SCHEDULE_MS).toEqual([0, 5_000, 300_000, 1_800_000, 2 * h, 5 * h, 10 * h, 14 * h, 20 * h, 24 * h]);
  });
});

describe("nextAttemptDelayMs", () => {
  it("follows the schedule without jitter at the midpoint", () => {
    const delays = STANDARD_WEBHOOK_SCHEDULE_MS.map((_, attemptsMade) => nextAttemptDelayMs(attemptsMade, { random: middle }));
    expect(delays).toEqual([...STANDARD_WEBHOOK_SCHEDULE_MS]);
  });

  it("returns null once ten attempts were made", () => {
    expect(nextAttemptDelayMs(10, { random: middle })).toBeNull();
    expect(nextAttemptDelayMs(11, { random: middle, retryAfterMs: 1000 })).toBeNull();
  });

  it("jitters by at most 20 % either way", () => {
    expect(nextAttemptDelayMs(2, { random: lowest })).toBe(240_000);
    expect(nextAttemptDelayMs(2, { random: highest })).toBe(360_000);
    expect(nextAttemptDelayMs(1, { random: () => 0.25 })).toBe(4_500);
  });

  it("keeps the first attempt immediate whatever the jitter", () => {
    expect(nextAttemptDelayMs(0, { random: lowest })).toBe(0);
    expect(nextAttemptDelayMs(0, { random: highest })).toBe(0);
  });

  it("lets a longer Retry-After replace the delay", () => {
    expect(nextAttemptDelayMs(1, { random: middle, retryAfterMs: 60_000 })).toBe(60_000);
  });

  it("ignores a Retry-After shorter than the scheduled delay", () => {
    expect(nextAttemptDelayMs(2, { random: middle, retryAfterMs: 10_000 })).toBe(300_000);
  });

  it("caps a Retry-After at 24 h", () => {
    expect(nextAttemptDelayMs(1, { random: middle, retryAfterMs: 7 * 24 * 3_600_000 })).toBe(MAX_RETRY_AFTER_MS);
  });

  it("rejects a negative or fractional attempt count", () => {
    expect(() => nextAttemptDelayMs(-1, { random: middle })).toThrow(RangeError);
    expect(() => nextAttemptDelayMs(1.5, { random: middle })).toThrow(RangeError);
  });
});

describe("parseRetryAfter", () => {
  const now = new Date("2026-03-01T12:00:00Z");

  it("reads delay seconds", () => {
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
  });

  it("reads an HTTP date relative to now", () => {
    expect(parseRetryAfter("Sun, 01 Mar 2026 12:05:00 GMT", now)).toBe(300_000);
  });

  it("turns a date in the past into 0", () => {
    expect(parseRetryAfter("Sun, 01 Mar 2026 11:00:00 GMT", now)).toBe(0);
  });

  it("caps both forms at 24 h", () => {
    expect(parseRetryAfter("999999", now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter("Fri, 01 May 2026 12:00:00 GMT", now)).toBe(MAX_RETRY_AFTER_MS);
  });

  it("returns undefined for absent or unreadable values", () => {
    for (const value of [undefined, null, "", "   ", "soon", "-5", "1.5"]) {
      expect(parseRetryAfter(value, now), String(value)).toBeUndefined();
    }
  });
});

describe("classifyResponse", () => {
  it.each([
    [200, "succeeded"],
    [201, "succeeded"],
    [204, "succeeded"],
    [299, "succeeded"],
    [410, "gone"],
    [100, "failed"],
    [301, "failed"],
    [302, "failed"],
    [304, "failed"],
    [400, "failed"],
    [404, "failed"],
    [429, "failed"],
    [500, "failed"],
    [503, "failed"],
  ] as const)("%i is %s", (status, outcome) => {
    expect(classifyResponse(status)).toBe(outcome);
  });
});
