import { systemClock, type Clock } from "../core/clock";

/**
 * A token bucket: `ratePerSecond` tokens flow in continuously, up to `capacity` (default: one
 * second's worth, at least 1), so a quiet caller may burst that many at once and then goes at the
 * rate. In-memory: a limit per process.
 */
export interface TokenBucketOptions {
  ratePerSecond: number;
  capacity?: number;
  clock?: Clock;
}

export type TokenGrant = { granted: true } | { granted: false; retryAt: number };

export class TokenBucket {
  readonly ratePerSecond: number;
  readonly capacity: number;
  readonly #clock: Clock;
  #tokens: number;
  #refilledAt: number;

  constructor(options: TokenBucketOptions) {
    this.ratePerSecond = options.ratePerSecond;
    this.capacity = options.capacity ?? Math.max(1, options.ratePerSecond);
    this.#clock = options.clock ?? systemClock;
    if (!(Number.isFinite(this.ratePerSecond) && this.ratePerSecond > 0)) throw new RangeError(`token bucket: ratePerSecond must be a number > 0, got ${this.ratePerSecond}`);
    if (!(Number.isFinite(this.capacity) && this.capacity >= 1)) throw new RangeError(`token bucket: capacity must be a number >= 1, got ${this.capacity}`);
    this.#tokens = this.capacity;
    this.#refilledAt = this.#clock.now();
  }

  /** Takes one token, or says when the next one will be there. */
  tryTake(): TokenGrant {
    const now = this.#clock.now();
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return { granted: true };
    }
    return { granted: false, retryAt: now + Math.ceil(((1 - this.#tokens) * 1000) / this.ratePerSecond) };
  }

  #refill(now: number): void {
    // A clock that stepped back adds nothing (and takes nothing away).
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(this.capacity, this.#tokens + (elapsed * this.ratePerSecond) / 1000);
    this.#refilledAt = Math.max(this.#refilledAt, now);
  }
}
