/**
 * When a webhook delivery is tried again, following the Standard Webhooks schedule: the first
 * attempt at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h after the previous
 * one: 10 attempts in all, spread over about three days.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Delay before attempt n+1 (0-based index n): `[0]` is the first attempt, made at once. */
export const STANDARD_WEBHOOK_SCHEDULE_MS: readonly number[] = Object.freeze([
  0,
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  14 * HOUR,
  20 * HOUR,
  24 * HOUR,
]);

/** ±20 %: receivers that failed together (an outage) are not all hit again in the same second. */
export const RETRY_JITTER = 0.2;

/** A receiver's `Retry-After` is honoured up to this; longer would stall the delivery beyond the schedule's own last step. */
export const MAX_RETRY_AFTER_MS = 24 * HOUR;

export interface NextAttemptOptions {
  /** A number in [0, 1): Math.random in production, fixed in tests. */
  random: () => number;
  /** What the receiver asked for with `Retry-After` on a 429/503 (see {@link parseRetryAfter}). */
  retryAfterMs?: number;
}

/**
 * The delay before the next attempt after `attemptsMade` attempts (all failed), or null when the
 * schedule is used up and the delivery has failed for good. A `Retry-After` replaces the
 * scheduled delay only when it is longer: a receiver may ask us to back off, never to hammer it.
 */
export function nextAttemptDelayMs(attemptsMade: number, options: NextAttemptOptions): number | null {
  if (!Number.isInteger(attemptsMade) || attemptsMade < 0) throw new RangeError(`attemptsMade must be a non-negative integer, got ${attemptsMade}`);
  const scheduled = STANDARD_WEBHOOK_SCHEDULE_MS[attemptsMade];
  if (scheduled === undefined) return null;
  const jittered = Math.round(scheduled * (1 + (options.random() * 2 - 1) * RETRY_JITTER));
  const requested = options.retryAfterMs === undefined ? 0 : Math.min(Math.max(options.retryAfterMs, 0), MAX_RETRY_AFTER_MS);
  return Math.max(jittered, requested);
}

const DELTA_SECONDS = /^\d+$/;
/** Every HTTP-date form (IMF-fixdate, RFC 850, asctime) starts with a day name; Date.parse alone would take "1.5" or "-5" as dates. */
const HTTP_DATE_START = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /;

/**
 * Milliseconds from `now` that a `Retry-After` header asks for (RFC 9110 §10.2.3: delay-seconds or
 * an HTTP date), capped at {@link MAX_RETRY_AFTER_MS}; a date in the past is 0. Undefined for an
 * absent or unreadable value, which then leaves the schedule alone.
 */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  let delayMs: number;
  if (DELTA_SECONDS.test(text)) {
    delayMs = Number(text) * SECOND;
  } else {
    const at = HTTP_DATE_START.test(text) ? Date.parse(text) : Number.NaN;
    if (Number.isNaN(at)) return undefined;
    delayMs = at - now.getTime();
  }
  return Math.min(Math.max(delayMs, 0), MAX_RETRY_AFTER_MS);
}

export type ResponseOutcome = "succeeded" | "gone" | "failed";

/**
 * What an HTTP status means for a delivery: 2xx delivered it; 410 says the receiver is gone for
 * good (the endpoint gets disabled); everything else, redirects included (they are never
 * followed), is a failed attempt.
 */
export function classifyResponse(status: number): ResponseOutcome {
  if (status >= 200 && status < 300) return "succeeded";
  if (status === 410) return "gone";
  return "failed";
}
