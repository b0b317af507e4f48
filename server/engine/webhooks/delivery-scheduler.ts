import type { Clock } from "../core/clock";
import { CircuitBreaker, type CircuitState } from "../resilience/circuit-breaker";
import { TokenBucket } from "../resilience/token-bucket";
import { HeadQueue } from "../transport/head-queue";
import type { WebhookDeferReason } from "./metrics";
import type { WebhookAttemptTrigger, WebhookDelivery, WebhookEndpoint } from "./webhook-store";

/**
 * Runs the attempts of the deliveries this process holds (under its lease), so that no endpoint
 * can slow another:
 * - a global pool (`concurrency`) and, per endpoint, at most `perEndpointConcurrency` in flight:
 *   a slow endpoint fills its own slots, never the pool;
 * - lanes are served round-robin, one attempt per lane per turn;
 * - a circuit breaker per endpoint: while open, the endpoint's deliveries wait here for the probe
 *   time (no attempt counted); half-open lets one probe through;
 * - a token bucket per endpoint with `rateLimitPerSecond` (a limit per process);
 * - a delivery whose lease would run out before its attempt could end is dropped, not sent: the
 *   lease lapses and a poller (here or elsewhere) claims it again, so no two processes ever send
 *   one delivery at once.
 * Per-key order of ordered endpoints needs nothing here: the store hands out one delivery per key
 * at a time (the oldest unfinished one), and it stays unfinished while this process holds it.
 */
export interface ScheduledDelivery {
  delivery: WebhookDelivery;
  trigger: WebhookAttemptTrigger;
}

/** `abandoned`: no request was made (the event could not be read); the breaker learns nothing. */
export type AttemptOutcome = "succeeded" | "failed" | "abandoned";

export interface DeliverySchedulerOptions {
  concurrency: number;
  perEndpointConcurrency: number;
  /** Lease time an attempt needs left to start: the send timeout plus a margin. */
  leaseNeededMs: number;
  clock: Clock;
  /** The endpoint as routed now; undefined (deleted) or disabled drops its held deliveries. */
  endpoint(endpointId: string): WebhookEndpoint | undefined;
  /** Makes the attempt and records it; never throws. */
  attempt(job: ScheduledDelivery, endpoint: WebhookEndpoint, signal: AbortSignal): Promise<AttemptOutcome>;
  deferred(reason: WebhookDeferReason, endpointId: string): void;
}

export interface EndpointLaneStats {
  endpointId: string;
  held: number;
  inFlight: number;
  circuit: CircuitState;
}

interface Lane {
  readonly endpointId: string;
  readonly queue: HeadQueue<ScheduledDelivery>;
  readonly breaker: CircuitBreaker;
  bucket: TokenBucket | undefined;
  inFlight: number;
  /** The delivery last reported as deferred (each deferral is counted once). */
  deferredId: string | undefined;
}

type TurnResult = "started" | "dropped" | "blocked" | "empty";

export class DeliveryScheduler {
  readonly #options: DeliverySchedulerOptions;
  readonly #lanes = new Map<string, Lane>();
  /** Lanes with held deliveries, in round-robin order. */
  readonly #waiting = new Set<Lane>();
  readonly #running = new Set<Promise<void>>();
  #abort = new AbortController();
  #inFlight = 0;
  #held = 0;
  #pumping = false;
  #pumpAgain = false;
  #wakeAt: number | undefined;
  #wakeTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #idleWaiters: Array<() => void> = [];

  constructor(options: DeliverySchedulerOptions) {
    this.#options = options;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get held(): number {
    return this.#held;
  }

  /** Deliveries this process holds for the endpoint: in flight or waiting here. */
  load(endpointId: string): number {
    const lane = this.#lanes.get(endpointId);
    return lane ? lane.queue.length + lane.inFlight : 0;
  }

  circuit(endpointId: string): CircuitState {
    return this.#lanes.get(endpointId)?.breaker.state ?? "closed";
  }

  stats(): EndpointLaneStats[] {
    return [...this.#lanes.values()].map((lane) => ({ endpointId: lane.endpointId, held: lane.queue.length, inFlight: lane.inFlight, circuit: lane.breaker.state }));
  }

  /** Holds these deliveries (leased to this process) and starts what may start. */
  enqueue(jobs: ScheduledDelivery[]): void {
    if (this.#stopped) return;
    for (const job of jobs) {
      const lane = this.#lane(job.delivery.endpointId);
      lane.queue.push(job);
      this.#held += 1;
      this.#waiting.add(lane);
    }
    this.pump();
  }

  /** Starts every held delivery that may start now. */
  pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpOnce();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  /** Resolves when no attempt is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Takes deliveries again after a `stop()`. */
  resume(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#abort = new AbortController();
  }

  /** Forgets held deliveries (their leases lapse), lets running attempts end for `graceMs`, then aborts them. */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#wakeTimer);
    for (const lane of this.#lanes.values()) this.#dropAll(lane);
    if (this.#inFlight === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.idle(), graceOver]);
    clearTimeout(timer);
    this.#abort.abort(new Error("the webhook dispatcher stopped"));
    // Aborted attempts end at once (the sender honours the signal) and are recorded as failed.
    await Promise.allSettled([...this.#running]);
  }

  #lane(endpointId: string): Lane {
    let lane = this.#lanes.get(endpointId);
    if (!lane) {
      lane = { endpointId, queue: new HeadQueue(), breaker: new CircuitBreaker({ clock: this.#options.clock }), bucket: undefined, inFlight: 0, deferredId: undefined };
      this.#lanes.set(endpointId, lane);
    }
    return lane;
  }

  #pumpOnce(): void {
    const { concurrency } = this.#options;
    let progressed = true;
    while (progressed && this.#inFlight < concurrency && this.#waiting.size > 0) {
      progressed = false;
      for (const lane of [...this.#waiting]) {
        if (this.#inFlight >= concurrency) break;
        const result = this.#turn(lane);
        if (result === "started" || result === "dropped") progressed = true;
        this.#waiting.delete(lane);
        // To the back of the line; a lane with nothing held leaves it.
        if (lane.queue.length > 0) this.#waiting.add(lane);
      }
    }
  }

  /** One delivery of the lane, if it may go now. */
  #turn(lane: Lane): TurnResult {
    const job = lane.queue.peek();
    if (!job) return "empty";
    const endpoint = this.#options.endpoint(lane.endpointId);
    if (!endpoint || endpoint.status !== "enabled") {
      this.#dropAll(lane);
      // A deleted endpoint's lane goes once its last attempt ended (a disabled one keeps its breaker).
      if (!endpoint && lane.inFlight === 0) this.#lanes.delete(lane.endpointId);
      return "dropped";
    }
    if (lane.inFlight >= this.#options.perEndpointConcurrency) return "blocked";
    const now = this.#options.clock.now();
    if (job.delivery.leaseUntil === null || Date.parse(job.delivery.leaseUntil) - now < this.#options.leaseNeededMs) {
      this.#take(lane);
      return "dropped";
    }
    const permit = lane.breaker.tryAcquire();
    if (!permit.allowed) {
      this.#defer(lane, job, "circuit_open", permit.retryAt);
      return "blocked";
    }
    const bucket = this.#bucket(lane, endpoint);
    const grant = bucket?.tryTake();
    if (grant && !grant.granted) {
      if (permit.probe) lane.breaker.releaseProbe();
      this.#defer(lane, job, "rate_limited", grant.retryAt);
      return "blocked";
    }
    this.#take(lane);
    this.#start(lane, job, endpoint, permit.probe);
    return "started";
  }

  #bucket(lane: Lane, endpoint: WebhookEndpoint): TokenBucket | undefined {
    const rate = endpoint.rateLimitPerSecond;
    if (rate === null) {
      lane.bucket = undefined;
    } else if (lane.bucket?.ratePerSecond !== rate) {
      lane.bucket = new TokenBucket({ ratePerSecond: rate, clock: this.#options.clock });
    }
    return lane.bucket;
  }

  #defer(lane: Lane, job: ScheduledDelivery, reason: WebhookDeferReason, retryAt: number | null): void {
    if (lane.deferredId !== job.delivery.id) {
      lane.deferredId = job.delivery.id;
      this.#options.deferred(reason, lane.endpointId);
    }
    // Null: a probe is running; its end pumps again.
    if (retryAt !== null) this.#wakeAtTime(retryAt);
  }

  #take(lane: Lane): void {
    lane.queue.shift();
    this.#held -= 1;
  }

  #dropAll(lane: Lane): void {
    this.#held -= lane.queue.length;
    while (lane.queue.shift() !== undefined);
    this.#waiting.delete(lane);
  }

  #start(lane: Lane, job: ScheduledDelivery, endpoint: WebhookEndpoint, probe: boolean): void {
    lane.inFlight += 1;
    this.#inFlight += 1;
    const run = this.#options
      .attempt(job, endpoint, this.#abort.signal)
      .then((outcome) => {
        if (outcome === "succeeded") lane.breaker.recordSuccess();
        else if (outcome === "failed") lane.breaker.recordFailure();
        else if (probe) lane.breaker.releaseProbe();
      })
      .finally(() => {
        lane.inFlight -= 1;
        this.#inFlight -= 1;
        this.#running.delete(run);
        if (this.#inFlight === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
        this.pump();
      });
    this.#running.add(run);
  }

  /** One timer for the earliest time a deferred lane may go again. */
  #wakeAtTime(at: number): void {
    if (this.#stopped || (this.#wakeAt !== undefined && this.#wakeAt <= at)) return;
    clearTimeout(this.#wakeTimer);
    this.#wakeAt = at;
    this.#wakeTimer = setTimeout(
      () => {
        this.#wakeAt = undefined;
        this.#wakeTimer = undefined;
        this.pump();
      },
      Math.max(0, at - this.#options.clock.now()),
    );
    this.#wakeTimer.unref?.();
  }
}
