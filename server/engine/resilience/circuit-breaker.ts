import { systemClock, type Clock } from "../core/clock";

/**
 * A circuit breaker for calls to one remote party (a webhook endpoint, a broker). After
 * `failureThreshold` consecutive failures it opens: calls are refused (the caller defers them to
 * `retryAt`, which is NOT a failed call) for `openMs`. Then it is half-open: ONE probe call is let
 * through; its success closes the circuit, its failure opens it again for another `openMs`.
 *
 * Any success closes the circuit, also one that started before it opened: the party answered.
 * Failures of calls that started before the circuit opened do not extend the open period.
 */
export type CircuitState = "closed" | "open" | "half_open";

export interface CircuitBreakerOptions {
  /** Default 5. */
  failureThreshold?: number;
  /** Default 30 s: how long the circuit stays open before the probe. */
  openMs?: number;
  clock?: Clock;
}

/** `probe`: the half-open state's one trial call. `retryAt` null: a probe is running; ask again when it ends. */
export type CircuitPermit = { allowed: true; probe: boolean } | { allowed: false; retryAt: number | null };

export const DEFAULT_CIRCUIT_FAILURE_THRESHOLD = 5;
export const DEFAULT_CIRCUIT_OPEN_MS = 30_000;

export class CircuitBreaker {
  readonly #failureThreshold: number;
  readonly #openMs: number;
  readonly #clock: Clock;
  #consecutiveFailures = 0;
  /** Set while open (and half-open once it passed): when the probe may go. */
  #openUntil: number | null = null;
  #probing = false;

  constructor(options: CircuitBreakerOptions = {}) {
    this.#failureThreshold = options.failureThreshold ?? DEFAULT_CIRCUIT_FAILURE_THRESHOLD;
    this.#openMs = options.openMs ?? DEFAULT_CIRCUIT_OPEN_MS;
    this.#clock = options.clock ?? systemClock;
    if (!(Number.isInteger(this.#failureThreshold) && this.#failureThreshold >= 1)) throw new RangeError(`circuit breaker: failureThreshold must be an integer >= 1, got ${this.#failureThreshold}`);
    if (!(Number.isFinite(this.#openMs) && this.#openMs >= 0)) throw new RangeError(`circuit breaker: openMs must be a number >= 0, got ${this.#openMs}`);
  }

  get state(): CircuitState {
    if (this.#openUntil === null) return "closed";
    return this.#clock.now() < this.#openUntil ? "open" : "half_open";
  }

  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** Whether a call may go now. A permit in the half-open state is the probe: report its outcome, or `releaseProbe()` if the call did not happen. */
  tryAcquire(): CircuitPermit {
    switch (this.state) {
      case "closed":
        return { allowed: true, probe: false };
      case "open":
        return { allowed: false, retryAt: this.#openUntil };
      case "half_open":
        if (this.#probing) return { allowed: false, retryAt: null };
        this.#probing = true;
        return { allowed: true, probe: true };
    }
  }

  recordSuccess(): void {
    this.#consecutiveFailures = 0;
    this.#openUntil = null;
    this.#probing = false;
  }

  recordFailure(): void {
    this.#consecutiveFailures += 1;
    const state = this.state;
    if (state === "half_open" && this.#probing) {
      this.#probing = false;
      this.#open();
    } else if (state === "closed" && this.#consecutiveFailures >= this.#failureThreshold) {
      this.#open();
    }
  }

  /** The probe permit was not used (the call was dropped before it went out). */
  releaseProbe(): void {
    this.#probing = false;
  }

  #open(): void {
    this.#openUntil = this.#clock.now() + this.#openMs;
  }
}
