import { NonRetryableError, RetryAfterError } from "../core/errors";
import { isDecodeError } from "./codec";

/**
 * What the Subscriber does after a handler fails: retry later (the broker redelivers after
 * `delayMs`, other messages keep flowing meanwhile) or dead-letter with the reason.
 *
 * `attempt` is the 1-based number of the delivery that just failed. The delay before delivery
 * `attempt + 1` is `initialDelayMs * multiplier^(attempt - 1)`, capped at `maxDelayMs`, then
 * spread by ±`jitter` (a fraction: 0.2 = ±20 %) so that a burst of failures does not come back
 * as a burst, and never above `maxDelayMs`.
 *
 * With an explicit `scheduleMs` (e.g. [1000, 2000, 5000, 10000, 30000]) the delay before delivery
 * `attempt + 1` is `scheduleMs[attempt - 1]` instead (the last entry repeats past the end), spread
 * by ±`jitter` the same way; `initialDelayMs`, `multiplier` and `maxDelayMs` are then unused.
 * `maxAttempts` still decides when to dead-letter (a schedule of n delays fits n + 1 attempts).
 */
export interface RetryPolicy {
  /** Deliveries in total, the first included; the failure of the last one dead-letters. */
  maxAttempts: number;
  initialDelayMs: number;
  multiplier: number;
  maxDelayMs: number;
  /** Fraction of the delay to spread it by, both ways: 0.2 = ±20 %. 0 = exact delays. */
  jitter: number;
  /** Explicit delays (ms) before the 2nd, 3rd... delivery; replaces the exponential formula. */
  scheduleMs?: readonly number[];
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 5,
  initialDelayMs: 200,
  multiplier: 2,
  maxDelayMs: 60_000,
  jitter: 0.2,
});

export type RetryDecision = { action: "retry"; delayMs: number } | { action: "dead_letter"; reason: string };

/** The defaults overridden by `overrides`; rejects values that make no schedule. */
export function resolveRetryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...defined };
  const check = (name: keyof RetryPolicy, ok: boolean, rule: string): void => {
    if (!ok) throw new RangeError(`retry policy: ${name} must be ${rule}, got ${policy[name]}`);
  };
  check("maxAttempts", Number.isInteger(policy.maxAttempts) && policy.maxAttempts >= 1, "an integer >= 1");
  check("initialDelayMs", Number.isFinite(policy.initialDelayMs) && policy.initialDelayMs >= 0, "a number >= 0");
  check("multiplier", Number.isFinite(policy.multiplier) && policy.multiplier >= 1, "a number >= 1");
  check("maxDelayMs", Number.isFinite(policy.maxDelayMs) && policy.maxDelayMs >= 0, "a number >= 0");
  check("jitter", Number.isFinite(policy.jitter) && policy.jitter >= 0 && policy.jitter <= 1, "a fraction between 0 and 1");
  if (policy.scheduleMs !== undefined) {
    const schedule = policy.scheduleMs;
    check(
      "scheduleMs",
      Array.isArray(schedule) && schedule.length > 0 && schedule.every((delay) => Number.isFinite(delay) && delay >= 0),
      "a non-empty list of numbers >= 0",
    );
    policy.scheduleMs = Object.freeze([...schedule]);
  }
  return policy;
}

function isNonRetryable(error: unknown): boolean {
  if (error instanceof NonRetryableError || isDecodeError(error)) return true;
  // Errors from another copy of the module (or another library) that follow the same convention.
  return typeof error === "object" && error !== null && (error as { nonRetryable?: unknown }).nonRetryable === true;
}

function retryAfterMsOf(error: unknown): number | undefined {
  if (error instanceof RetryAfterError) return error.retryAfterMs;
  if (typeof error === "object" && error !== null && (error as { name?: unknown }).name === "RetryAfterError") {
    const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof value === "number" && Number.isFinite(value)) return value;
  }
  return undefined;
}

/** The delay before delivery `attempt + 1`, jitter applied with `random()` in [0, 1). */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempt - 1);
  const schedule = policy.scheduleMs;
  if (schedule && schedule.length > 0) {
    const base = schedule[Math.min(exponent, schedule.length - 1)] as number;
    return Math.round(Math.max(0, base + base * policy.jitter * (2 * random() - 1)));
  }
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** exponent);
  const spread = base * policy.jitter * (2 * random() - 1);
  return Math.round(Math.min(policy.maxDelayMs, Math.max(0, base + spread)));
}

export function decideAfterFailure(
  error: unknown,
  attempt: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): RetryDecision {
  const message = error instanceof Error ? error.message : String(error);
  if (isDecodeError(error)) return { action: "dead_letter", reason: `undecodable: ${message}` };
  if (isNonRetryable(error)) return { action: "dead_letter", reason: `non-retryable: ${message}` };
  if (attempt >= policy.maxAttempts) {
    return { action: "dead_letter", reason: `failed ${attempt} of ${policy.maxAttempts} attempts: ${message}` };
  }
  const retryAfter = retryAfterMsOf(error);
  if (retryAfter !== undefined) return { action: "retry", delayMs: Math.max(0, Math.round(retryAfter)) };
  return { action: "retry", delayMs: backoffDelayMs(attempt, policy, random) };
}
