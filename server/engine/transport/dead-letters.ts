import type { WireMessage } from "./driver";

/**
 * Dead letters of every transport are kept in one store (Postgres in production, memory in
 * tests), per subscription, so that operators can list, group by error, inspect, redrive and
 * delete them the same way whichever broker carried the message. Kafka topics cannot delete a
 * record and RabbitMQ queues cannot be searched: a table can do both.
 */
export interface DeadLetter {
  id: string;
  subscription: string;
  topic: string;
  message: WireMessage;
  error: { type: string; message: string };
  /** Deliveries made before it was dead-lettered. */
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
}

export interface DeadLetterFilter {
  subscription?: string;
  errorType?: string;
  /** Exclusive cursor: the `next` of a previous page. */
  after?: string;
  limit: number;
}

export interface DeadLetterStore {
  /** Keeps a failed message. The same (subscription, message id) twice keeps one entry, updated. */
  add(entry: Omit<DeadLetter, "id">): Promise<DeadLetter>;
  list(filter: DeadLetterFilter): Promise<{ items: DeadLetter[]; next: string | null }>;
  get(id: string): Promise<DeadLetter | undefined>;
  /** True if it existed. */
  remove(id: string): Promise<boolean>;
  /** Counts per subscription and error type, for the dashboard's grouping and the figures. */
  summary(): Promise<Array<{ subscription: string; errorType: string; count: number }>>;
}

/**
 * Remembers which messages a subscription has already applied, so a redelivered duplicate
 * produces no second effect. Implementations: memory (tests), Postgres (committed with the
 * effect, see the postgres adapter's `withInbox`), Redis (a dedup window for effects outside
 * Postgres).
 */
export interface Inbox {
  /** True if (subscription, messageId) was recorded before. */
  has(subscription: string, messageId: string): Promise<boolean>;
  record(subscription: string, messageId: string): Promise<void>;
}
