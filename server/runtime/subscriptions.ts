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
  processed: number;
  failed: number;
  retried: number;
  ratePerSecond: number;
}

/**
 * The subscriptions this process runs, started on the configured transport with the shared
 * dead-letter store and inbox, and the figures operators watch.
 */
export class SubscriptionRegistry {
  private readonly definitions = new Map<string, SubscriptionDefinition>();
  private readonly running = new Map<string, RunningSubscriber>();

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
    return startSubscriber(this.driver, {
      topic: this.topic,
      subscription: definition.name,
      concurrency: definition.concurrency,
      retry: definition.retry,
      deadLetters: this.deadLetters,
      inbox: this.inbox,
      handler: async (event, context) => {
        if (!matchesAnyType(definition.types, event.type)) return;
        await definition.handle(event, { attempt: context.attempt, ...(context.replayId === undefined ? {} : { replayId: context.replayId }) });
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
          processed: stats?.processed ?? 0,
          failed: stats?.failed ?? 0,
          retried: stats?.retried ?? 0,
          ratePerSecond: stats?.ratePerSecond ?? 0,
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
