import type { EventEnvelope, Priority, StoredEvent } from "../core/envelope";
import { EngineError, NonRetryableError, RetryAfterError, ValidationError } from "../core/errors";
import { DEFAULT_PRIORITY_WEIGHTS, HIGH, LOW, NORMAL, PriorityScheduler, levelOf, type Level, type PriorityWeights } from "./scheduler";

/**
 * The in-process event bus: pattern subscriptions with sync and async handlers.
 *
 * - Sync handlers run inside `publish`, in subscription order; what they throw is returned to the
 *   publisher in `syncErrors` and does not stop the other handlers.
 * - Async handlers are queued and run later by a weighted-round-robin priority scheduler (see
 *   ./scheduler.ts) with bounded concurrency; the publisher never waits for them. Their failures go
 *   to `onError`; a retry policy may run them again.
 * - Handlers receive the published object itself and must treat it as read-only: copying it for
 *   every handler would cost more than the dispatch.
 */

export type BusEvent = EventEnvelope | StoredEvent;

export type EventHandler = (event: BusEvent) => void | Promise<void>;

export interface HandlerContext {
  readonly event: BusEvent;
  /** The subscription's name. */
  readonly subscription: string;
  /** 1 on the first run; higher when a retry policy runs the handler again. */
  readonly attempt: number;
}

/** Runs around every handler; call `next()` once to run the rest of the chain and the handler. */
export type Middleware = (context: HandlerContext, next: () => Promise<void>) => Promise<void> | void;

export interface RetryPolicy {
  /** Total runs including the first; NonRetryableError stops early. */
  maxAttempts: number;
  /** Delay before run `attempt + 1`; RetryAfterError's own delay wins. Default: 100 ms doubling, at most 5 s. */
  delayMs?: (attempt: number) => number;
}

export type SubscribeOptions =
  | { mode: "sync"; name?: string }
  | {
      mode?: "async";
      name?: string;
      /** Overrides the event's `priority` attribute for this subscription's deliveries. */
      priority?: Priority;
      retry?: RetryPolicy;
    };

export type Unsubscribe = () => void;

export interface SyncHandlerError {
  subscriptionId: number;
  subscription: string;
  error: unknown;
}

export interface PublishResult {
  /** Errors thrown by sync handlers during this publish; empty when all succeeded. */
  syncErrors: readonly SyncHandlerError[];
}

export interface HandlerFailure {
  event: BusEvent;
  subscriptionId: number;
  subscription: string;
  attempt: number;
  error: unknown;
  /** True when the retry policy will run the handler again. */
  willRetry: boolean;
}

export interface EventBusOptions {
  /** Async handlers running at once (those returning a promise). Default 16. */
  concurrency?: number;
  weights?: PriorityWeights;
  /** Deliveries started per macrotask turn before yielding to I/O. Default 512. */
  batchSize?: number;
  /** Async handler failures, and late failures of sync handlers (a rejected promise, middleware after `next`). */
  onError?: (failure: HandlerFailure) => void;
}

export interface BusStats {
  queued: { high: number; normal: number; low: number };
  /** Async handlers whose promise has not settled. */
  running: number;
  /** Handler runs that completed (sync and async). */
  processed: number;
  /** Handler runs that failed for good (after the last attempt). */
  failed: number;
  /** Failed runs that were scheduled again. */
  retried: number;
  /** Retries waiting for their delay. */
  retryPending: number;
  subscriptions: number;
}

export interface SubscriptionInfo {
  id: number;
  name: string;
  pattern: string;
  mode: "sync" | "async";
}

/** Invokes one subscription: the handler, wrapped in the middleware chain if there is one. */
type Runner = (event: BusEvent, attempt: number) => unknown;

interface Subscription {
  readonly id: number;
  readonly name: string;
  readonly pattern: string;
  readonly mode: "sync" | "async";
  readonly handler: EventHandler;
  readonly level: Level | undefined;
  readonly retry: RetryPolicy | undefined;
  run: Runner;
  active: boolean;
}

interface Delivery {
  readonly event: BusEvent;
  readonly subscription: Subscription;
  readonly attempt: number;
}

interface Targets {
  readonly sync: readonly Subscription[];
  readonly async: readonly Subscription[];
}

const NO_TARGETS: Targets = Object.freeze({ sync: [], async: [] });
const NO_SYNC_ERRORS: PublishResult = Object.freeze({ syncErrors: Object.freeze([]) as readonly SyncHandlerError[] });
/** Bounds the per-type resolution cache when producers use many distinct types. */
const MAX_CACHED_TYPES = 4096;
const PATTERN = /^(\*|[^*\s]+(\.\*)?)$/;

export class EventBus {
  private readonly exact = new Map<string, Subscription[]>();
  /** Trailing-wildcard subscriptions keyed by prefix including the dot (`exam.*` -> `exam.`). */
  private readonly prefixed = new Map<string, Subscription[]>();
  private readonly everything: Subscription[] = [];
  /** Type -> matching subscriptions; cleared whenever subscriptions change. */
  private readonly resolved = new Map<string, Targets>();
  private readonly middleware: Middleware[] = [];
  private readonly subscriptions = new Map<number, Subscription>();
  private nextSubscriptionId = 1;

  private readonly scheduler: PriorityScheduler<Delivery>;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly onError: (failure: HandlerFailure) => void;
  private running = 0;
  private processed = 0;
  private failed = 0;
  private retried = 0;
  private readonly retryTimers = new Set<ReturnType<typeof setTimeout>>();
  private pumpScheduled = false;
  private filling = false;
  private startedThisTurn = 0;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(options: EventBusOptions = {}) {
    this.concurrency = positiveInteger("concurrency", options.concurrency ?? 16);
    this.batchSize = positiveInteger("batchSize", options.batchSize ?? 512);
    this.scheduler = new PriorityScheduler(options.weights ?? DEFAULT_PRIORITY_WEIGHTS);
    this.onError = options.onError ?? reportToConsole;
  }

  subscribe(pattern: string, handler: EventHandler, options: SubscribeOptions = {}): Unsubscribe {
    if (!PATTERN.test(pattern)) {
      throw new ValidationError(`Invalid subscription pattern ${JSON.stringify(pattern)}`, [
        { path: "pattern", message: "use an exact type, a trailing wildcard (exam.*) or *" },
      ]);
    }
    if (options.mode !== "sync" && options.retry) positiveInteger("retry.maxAttempts", options.retry.maxAttempts);
    const id = this.nextSubscriptionId++;
    const mode = options.mode ?? "async";
    const subscription: Subscription = {
      id,
      name: options.name ?? `${pattern}#${id}`,
      pattern,
      mode,
      handler,
      level: options.mode !== "sync" && options.priority ? levelOf(options.priority) : undefined,
      retry: options.mode !== "sync" ? options.retry : undefined,
      run: handler,
      active: true,
    };
    subscription.run = this.compose(subscription);
    this.subscriptions.set(id, subscription);
    this.addToIndex(subscription);
    this.resolved.clear();

    return () => {
      if (!subscription.active) return;
      // Deliveries already queued for it are dropped when they come up.
      subscription.active = false;
      this.subscriptions.delete(id);
      this.removeFromIndex(subscription);
      this.resolved.clear();
    };
  }

  /** Adds a middleware around every handler, present and future; the first added is the outermost. */
  use(middleware: Middleware): void {
    this.middleware.push(middleware);
    for (const subscription of this.subscriptions.values()) subscription.run = this.compose(subscription);
  }

  publish(event: BusEvent): PublishResult {
    if (this.closed) throw new EngineError("unavailable", "The event bus is closed");
    return this.dispatch(event, NO_SYNC_ERRORS);
  }

  publishMany(events: readonly BusEvent[]): PublishResult {
    if (this.closed) throw new EngineError("unavailable", "The event bus is closed");
    let result = NO_SYNC_ERRORS;
    for (const event of events) result = this.dispatch(event, result);
    return result;
  }

  /** Resolves once no async work is queued, running or waiting to retry. */
  drain(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses further publishes, then waits for the async work already accepted. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
  }

  stats(): BusStats {
    return {
      queued: { high: this.scheduler.sizeOf(HIGH), normal: this.scheduler.sizeOf(NORMAL), low: this.scheduler.sizeOf(LOW) },
      running: this.running,
      processed: this.processed,
      failed: this.failed,
      retried: this.retried,
      retryPending: this.retryTimers.size,
      subscriptions: this.subscriptions.size,
    };
  }

  listSubscriptions(): SubscriptionInfo[] {
    return [...this.subscriptions.values()].map(({ id, name, pattern, mode }) => ({ id, name, pattern, mode }));
  }

  /** Runs sync handlers, queues async ones; `result` accumulates sync errors across publishMany. */
  private dispatch(event: BusEvent, result: PublishResult): PublishResult {
    const targets = this.resolved.get(event.type) ?? this.resolve(event.type);
    const sync = targets.sync;
    for (let i = 0; i < sync.length; i += 1) {
      const subscription = sync[i] as Subscription;
      // A handler earlier in this loop may have unsubscribed it.
      if (!subscription.active) continue;
      try {
        const outcome = subscription.run(event, 1);
        if (isThenable(outcome)) this.settleLateSync(outcome, subscription, event);
        else this.processed += 1;
      } catch (error) {
        this.failed += 1;
        const failure: SyncHandlerError = { subscriptionId: subscription.id, subscription: subscription.name, error };
        if (result === NO_SYNC_ERRORS) result = { syncErrors: [failure] };
        else (result.syncErrors as SyncHandlerError[]).push(failure);
      }
    }

    const async = targets.async;
    if (async.length > 0) {
      const eventLevel = levelOf(event.priority);
      for (let i = 0; i < async.length; i += 1) {
        const subscription = async[i] as Subscription;
        this.scheduler.push(subscription.level ?? eventLevel, { event, subscription, attempt: 1 });
      }
      this.schedulePump();
    }
    return result;
  }

  private resolve(type: string): Targets {
    const matches: Subscription[] = [];
    const exact = this.exact.get(type);
    if (exact) matches.push(...exact);
    for (let dot = type.indexOf("."); dot !== -1; dot = type.indexOf(".", dot + 1)) {
      const prefixed = this.prefixed.get(type.slice(0, dot + 1));
      if (prefixed) matches.push(...prefixed);
    }
    matches.push(...this.everything);

    let targets = NO_TARGETS;
    if (matches.length > 0) {
      // Subscription order, whichever index a subscription came from.
      matches.sort((a, b) => a.id - b.id);
      targets = { sync: matches.filter((s) => s.mode === "sync"), async: matches.filter((s) => s.mode === "async") };
    }
    if (this.resolved.size >= MAX_CACHED_TYPES) this.resolved.clear();
    this.resolved.set(type, targets);
    return targets;
  }

  private addToIndex(subscription: Subscription): void {
    const { pattern } = subscription;
    if (pattern === "*") {
      this.everything.push(subscription);
      return;
    }
    const [index, key] = pattern.endsWith(".*") ? [this.prefixed, pattern.slice(0, -1)] : [this.exact, pattern];
    const list = index.get(key);
    if (list) list.push(subscription);
    else index.set(key, [subscription]);
  }

  private removeFromIndex(subscription: Subscription): void {
    const { pattern } = subscription;
    if (pattern === "*") {
      this.everything.splice(this.everything.indexOf(subscription), 1);
      return;
    }
    const [index, key] = pattern.endsWith(".*") ? [this.prefixed, pattern.slice(0, -1)] : [this.exact, pattern];
    const list = index.get(key) as Subscription[];
    list.splice(list.indexOf(subscription), 1);
    if (list.length === 0) index.delete(key);
  }

  private compose(subscription: Subscription): Runner {
    const { handler, name } = subscription;
    if (this.middleware.length === 0) return handler;
    const chain = [...this.middleware];
    if (subscription.mode === "async") return (event, attempt) => runChain(chain, handler, { event, subscription: name, attempt });

    return (event, attempt) => {
      // The chain's promise settles later, but a sync handler's own throw belongs in this publish's
      // syncErrors: catch it on the way through and rethrow it synchronously.
      let handlerFailed = false;
      let handlerError: unknown;
      const observed: EventHandler = (inner) => {
        try {
          return handler(inner);
        } catch (error) {
          handlerFailed = true;
          handlerError = error;
          throw error;
        }
      };
      const settled = runChain(chain, observed, { event, subscription: name, attempt });
      if (handlerFailed) {
        settled.catch(ignore);
        throw handlerError;
      }
      return settled;
    };
  }

  /** A sync subscription whose chain returned a promise: count and report it when it settles. */
  private settleLateSync(outcome: PromiseLike<unknown>, subscription: Subscription, event: BusEvent): void {
    outcome.then(
      () => {
        this.processed += 1;
      },
      (error: unknown) => {
        this.failed += 1;
        this.report({ event, subscriptionId: subscription.id, subscription: subscription.name, attempt: 1, error, willRetry: false });
      },
    );
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(this.pump);
  }

  private readonly pump = (): void => {
    this.pumpScheduled = false;
    this.startedThisTurn = 0;
    this.fill();
  };

  /** Starts queued deliveries up to the concurrency limit and this turn's batch budget. */
  private fill(): void {
    this.filling = true;
    try {
      while (this.running < this.concurrency) {
        if (this.startedThisTurn >= this.batchSize) {
          // Handlers that settle at once would otherwise keep the loop in microtasks and starve I/O.
          if (this.scheduler.size > 0) this.schedulePump();
          break;
        }
        const delivery = this.scheduler.next();
        if (delivery === undefined) break;
        this.startedThisTurn += 1;
        this.start(delivery);
      }
    } finally {
      this.filling = false;
    }
    this.notifyIfIdle();
  }

  private start(delivery: Delivery): void {
    const { subscription } = delivery;
    if (!subscription.active) return;
    let outcome: unknown;
    try {
      outcome = subscription.run(delivery.event, delivery.attempt);
    } catch (error) {
      this.fail(delivery, error);
      return;
    }
    if (!isThenable(outcome)) {
      this.processed += 1;
      return;
    }
    this.running += 1;
    void this.awaitOutcome(outcome, delivery);
  }

  private async awaitOutcome(outcome: PromiseLike<unknown>, delivery: Delivery): Promise<void> {
    try {
      await outcome;
      this.processed += 1;
    } catch (error) {
      this.fail(delivery, error);
    } finally {
      this.running -= 1;
      // Inside fill() the loop itself picks up the freed slot.
      if (!this.filling) this.fill();
    }
  }

  private fail(delivery: Delivery, error: unknown): void {
    const { subscription, attempt, event } = delivery;
    const retry = subscription.retry;
    const willRetry = retry !== undefined && attempt < retry.maxAttempts && !(error instanceof NonRetryableError) && subscription.active;
    this.report({ event, subscriptionId: subscription.id, subscription: subscription.name, attempt, error, willRetry });
    if (!willRetry) {
      this.failed += 1;
      return;
    }
    this.retried += 1;
    const delay = error instanceof RetryAfterError ? error.retryAfterMs : (retry.delayMs ?? defaultRetryDelay)(attempt);
    const again: Delivery = { event, subscription, attempt: attempt + 1 };
    const level = subscription.level ?? levelOf(event.priority);
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (subscription.active) {
        this.scheduler.push(level, again);
        this.schedulePump();
      } else {
        this.notifyIfIdle();
      }
    }, Math.max(0, delay));
    this.retryTimers.add(timer);
  }

  private report(failure: HandlerFailure): void {
    try {
      this.onError(failure);
    } catch (hookError) {
      // The hook is the last line of reporting; its own failure must not break the scheduler.
      reportToConsole({ ...failure, error: new AggregateError([failure.error, hookError], "onError hook threw") });
    }
  }

  private isIdle(): boolean {
    return this.scheduler.size === 0 && this.running === 0 && this.retryTimers.size === 0;
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function runChain(chain: readonly Middleware[], handler: EventHandler, context: HandlerContext): Promise<void> {
  let lastStep = -1;
  const step = (index: number): Promise<void> => {
    if (index <= lastStep) return Promise.reject(new Error(`next() called more than once by middleware of ${context.subscription}`));
    lastStep = index;
    try {
      const middleware = chain[index];
      const outcome = middleware ? middleware(context, () => step(index + 1)) : handler(context.event);
      return isThenable(outcome) ? Promise.resolve(outcome) : RESOLVED;
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return step(0);
}

const RESOLVED: Promise<void> = Promise.resolve();

function ignore(): void {}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
}

function defaultRetryDelay(attempt: number): number {
  return Math.min(100 * 2 ** (attempt - 1), 5_000);
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function reportToConsole(failure: HandlerFailure): void {
  console.error(
    `[event-bus] handler ${failure.subscription} failed on ${failure.event.type} ${failure.event.id} (attempt ${failure.attempt}${failure.willRetry ? ", will retry" : ""})`,
    failure.error,
  );
}
