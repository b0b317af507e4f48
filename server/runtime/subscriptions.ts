import { matchesAnyType, type EventEnvelope } from "@/server/engine/core/envelope";
import type { DeadLetterStore, Inbox } from "@/server/engine/transport/dead-letters";
import type { TransportDriver } from "@/server/engine/transport/driver";
import type { RetryPolicy } from "@/server/engine/transport/retry-policy";
import { startSubscriber, type RunningSubscriber } from "@/server/engine/transport/subscriber";
import { logger } from "./logger";

/** A consumer of the event log over the configured transport: one consumer group per name. */
export interface SubscriptionDefinition {
  name: string;
  description: string;
  /** Type patterns (`exam.*`); other events are acknowledged without calling the handler. */
  types: string[];
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  /**
   * False for a handler that is idempotent by itself (its writes are keyed by the event id): the
   * inbox would only add a read and a commit per event. Default true.
   */
  inbox?: boolean;
  /** `replayId` is set when the delivery comes from a replay (the event was probably handled before). */
  handle(event: EventEnvelope, context: { attempt: number; replayId?: string }): Promise<void>;
}

/** What the Queues page and `GET /api/v1/subscriptions` show per subscription. */
export interface SubscriptionFigures {
  name: string;
  description: string;
  transport: string;
  topic: string;
  group: string;
  types: string[];
  running: boolean;
  depth: number;
  lag: number;
  inFlight: number;
  deadLettered: number;
  /** Events of the subscription's types handled successfully by this process (since it started). */
  processed: number;
  /** Deliveries of other types, acknowledged without calling the handler. */
  skipped: number;
  failed: number;
  retried: number;
  /** Events of its types handled per second over the last 10 seconds (this process). */
  ratePerSecond: number;
}

const RATE_WINDOW_SECONDS = 10;

/** Successful handler runs: a total and per-second buckets of the last few seconds. */
class HandledCounter {
  total = 0;
  skipped = 0;
  private readonly buckets = new Map<number, number>();

  constructor(private readonly now: () => number) {}

  count(): void {
    this.total += 1;
    const second = Math.floor(this.now() / 1000);
    this.buckets.set(second, (this.buckets.get(second) ?? 0) + 1);
    for (const bucket of this.buckets.keys()) if (bucket <= second - RATE_WINDOW_SECONDS) this.buckets.delete(bucket);
  }

  rate(): number {
    const second = Math.floor(this.now() / 1000);
    let recent = 0;
    for (const [bucket, count] of this.buckets) if (bucket > second - RATE_WINDOW_SECONDS) recent += count;
    return recent / RATE_WINDOW_SECONDS;
  }
}

/**
 * The subscriptions this process runs, started on the configured transport with the shared
 * dead-letter store and inbox, and the figures operators watch.
 */
export class SubscriptionRegistry {
  private readonly definitions = new Map<string, SubscriptionDefinition>();
  private readonly running = new Map<string, RunningSubscriber>();
  private readonly handled = new Map<string, HandledCounter>();

  constructor(
    private readonly driver: TransportDriver,
    private readonly topic: string,
    private readonly deadLetters: DeadLetterStore,
    private readonly inbox: Inbox,
  ) {}

  define(definition: SubscriptionDefinition): void {
    this.definitions.set(definition.name, definition);
  }

  get(name: string): SubscriptionDefinition | undefined {
    return this.definitions.get(name);
  }

  /** Starts every defined subscription not running yet (after the transport connects). */
  async startAll(): Promise<void> {
    for (const definition of this.definitions.values()) {
      if (this.running.has(definition.name)) continue;
      this.running.set(definition.name, await this.start(definition));
    }
  }

  private start(definition: SubscriptionDefinition): Promise<RunningSubscriber> {
    const handled = new HandledCounter(Date.now);
    this.handled.set(definition.name, handled);
    return startSubscriber(this.driver, {
      topic: this.topic,
      subscription: definition.name,
      concurrency: definition.concurrency,
      retry: definition.retry,
      deadLetters: this.deadLetters,
      ...(definition.inbox === false ? {} : { inbox: this.inbox }),
      handler: async (event, context) => {
        if (!matchesAnyType(definition.types, event.type)) {
          handled.skipped += 1;
          return;
        }
        await definition.handle(event, { attempt: context.attempt, ...(context.replayId === undefined ? {} : { replayId: context.replayId }) });
        handled.count();
      },
      onError: ({ stage, error, subscription, messageId, attempt }) =>
        logger.warn("subscription delivery failed", { subscription, stage, messageId, attempt, error }),
    });
  }

  async figures(): Promise<SubscriptionFigures[]> {
    const deadLettered = new Map<string, number>();
    for (const row of await this.deadLetters.summary()) {
      deadLettered.set(row.subscription, (deadLettered.get(row.subscription) ?? 0) + row.count);
    }
    return Promise.all(
      [...this.definitions.values()].map(async (definition) => {
        const queue = await this.driver.figures(this.topic, definition.name).catch(() => ({ depth: 0, lag: 0, inFlight: 0 }));
        const stats = this.running.get(definition.name)?.stats();
        const handled = this.handled.get(definition.name);
        return {
          name: definition.name,
          description: definition.description,
          transport: this.driver.kind,
          topic: this.topic,
          group: definition.name,
          types: definition.types,
          running: stats !== undefined,
          ...queue,
          deadLettered: deadLettered.get(definition.name) ?? 0,
          processed: handled?.total ?? 0,
          skipped: handled?.skipped ?? 0,
          failed: stats?.failed ?? 0,
          retried: stats?.retried ?? 0,
          ratePerSecond: handled?.rate() ?? 0,
        };
      }),
    );
  }

  async stopAll(): Promise<void> {
    const stopping = [...this.running.values()].map((subscriber) => subscriber.stop());
    this.running.clear();
    await Promise.all(stopping);
  }
}
