/**
 * The WebhookStore port: endpoints (with their signing secrets), deliveries (one per endpoint per
 * event) and attempts (every HTTP request made, with its response). Implementations: in memory
 * (unit tests) and drizzle on PGlite / Postgres (server/adapters/postgres/webhooks), which encrypts
 * secrets at rest. Every implementation passes `describeWebhookStoreContract`.
 *
 * Deliveries are handed out by lease, like sagas: a delivery is due when it is `pending`, its
 * `nextAttemptAt <= now` and nobody holds an unexpired lease on it. For an endpoint that asks for
 * order per key, only the OLDEST (by log position) unfinished delivery of each partition key is
 * ever due: later events for the key wait until it succeeded or failed for good.
 */

export type WebhookEndpointStatus = "enabled" | "disabled";
/** `manual`: an operator; `gone`: the receiver answered 410; `failing`: failed continuously for the auto-disable period. */
export type WebhookDisabledReason = "manual" | "gone" | "failing";

export interface WebhookSecret {
  /** `whsec_` + base64 of 24..64 random bytes. Plain text here; stores encrypt it at rest. */
  secret: string;
  createdAt: string;
  /** Null for the current secret; a rotated-out secret keeps signing until then. */
  expiresAt: string | null;
}

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string;
  /** Type patterns (`exam.*`, `grading.completed`, `*`). */
  eventTypes: string[];
  /** A CEL expression over the event resource (`data.score >= 50`), or null for every event of the types. */
  filter: string | null;
  /** Sent with every delivery (never overriding the webhook-* and content-type headers). */
  headers: Record<string, string>;
  /** Deliveries per second at most, or null for no limit. */
  rateLimitPerSecond: number | null;
  /** In-order delivery per `partitionkey`: a later event of a key waits for the earlier one. */
  orderedByKey: boolean;
  status: WebhookEndpointStatus;
  disabledReason: WebhookDisabledReason | null;
  disabledAt: string | null;
  /** When the current run of continuous failures began (null after any success). */
  failingSince: string | null;
  /** Current secret first, then rotated-out ones still in their grace period. */
  secrets: WebhookSecret[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  /** Incremented by every write: optimistic concurrency for updates. */
  version: number;
}

export type WebhookDeliveryStatus = "pending" | "succeeded" | "failed" | "skipped";
/**
 * - `pending`: an attempt is due at `nextAttemptAt` (or running).
 * - `succeeded`: a 2xx answer.
 * - `failed`: the schedule ran out (or the endpoint went away); `recover` / resend make it pending again.
 * - `skipped`: the endpoint was disabled when the event came; kept, and caught up after enabling.
 */

export interface WebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  /** The event's position in the global log (order per key follows it). */
  position: number;
  partitionKey: string | null;
  status: WebhookDeliveryStatus;
  /** Attempts made (manual resends and test sends included). */
  attempts: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastResponseStatus: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  leaseOwner: string | null;
  leaseUntil: string | null;
}

export type WebhookAttemptStatus = "succeeded" | "failed";
export type WebhookAttemptTrigger = "scheduled" | "manual" | "recover" | "test";

export interface WebhookAttempt {
  id: string;
  deliveryId: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  /** 1-based, per delivery. */
  attempt: number;
  status: WebhookAttemptStatus;
  trigger: WebhookAttemptTrigger;
  request: { url: string; headers: Record<string, string>; body: string };
  /** Null when no response came (timeout, refused, reset, blocked address). Body truncated at 64 KiB. */
  response: { status: number; headers: Record<string, string>; body: string; truncated: boolean } | null;
  durationMs: number;
  /** Why it failed: `timeout`, `connection reset`, `HTTP 503`, `redirect (3xx) not followed`, `blocked address 10.0.0.1`... */
  error: string | null;
  /** When the delivery's next attempt is due (null: none: succeeded, or out of attempts). */
  nextAttemptAt: string | null;
  createdAt: string;
}

export interface NewWebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  position: number;
  partitionKey: string | null;
  status: "pending" | "skipped";
  nextAttemptAt: string | null;
  createdAt: string;
  /** The dispatcher that will make the first attempt at once holds it from the start (no separate claim). */
  leaseOwner: string | null;
  leaseUntil: string | null;
}

/** One attempt's outcome and what it does to its delivery, written together. */
export interface AttemptRecord {
  attempt: WebhookAttempt;
  /** The delivery after the attempt. */
  delivery: Pick<WebhookDelivery, "id" | "status" | "attempts" | "nextAttemptAt" | "lastAttemptAt" | "lastResponseStatus" | "lastError">;
  /** The holder of the delivery's lease; the write frees it. Null for attempts made outside a lease (test sends). */
  owner: string | null;
}

export interface WebhookEndpointStats {
  endpointId: string;
  /** Over the window: succeeded / all attempts (null without attempts). */
  successRate: number | null;
  attempts: number;
  lastStatus: number | null;
  lastAttemptAt: string | null;
  p95LatencyMs: number | null;
  /** Deliveries pending now (the endpoint's queue depth). */
  pending: number;
  /** Deliveries kept while the endpoint was disabled. */
  skipped: number;
  failed: number;
}

export interface AttemptListQuery {
  endpointId?: string;
  deliveryId?: string;
  status?: WebhookAttemptStatus;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  /** 1..1000; newest first. */
  limit: number;
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

export class WebhookEndpointConflictError extends Error {
  constructor(readonly endpointId: string) {
    super(`webhook endpoint ${endpointId} was changed by someone else; read it again`);
    this.name = "WebhookEndpointConflictError";
  }
}

export interface WebhookStore {
  // Endpoints
  createEndpoint(endpoint: WebhookEndpoint): Promise<WebhookEndpoint>;
  getEndpoint(id: string): Promise<WebhookEndpoint | undefined>;
  /** Newest first. */
  listEndpoints(query: { cursor?: string; limit: number }): Promise<Page<WebhookEndpoint>>;
  /** Every endpoint (for the dispatcher's routing table); small. */
  allEndpoints(): Promise<WebhookEndpoint[]>;
  /** Writes `next` if the stored version equals `next.version` (the stored one becomes version + 1). Throws WebhookEndpointConflictError otherwise. */
  updateEndpoint(next: WebhookEndpoint): Promise<WebhookEndpoint>;
  /** Removes the endpoint with its deliveries and attempts. False when unknown. */
  deleteEndpoint(id: string): Promise<boolean>;
  /** Increases on every endpoint write, across processes: dispatchers reload their routing table when it moved. */
  endpointsRevision(): Promise<number>;

  // Deliveries
  /** Stores the deliveries not stored yet (one per endpoint and event: a redelivered event adds none). Returns those stored now. */
  createDeliveries(deliveries: NewWebhookDelivery[]): Promise<WebhookDelivery[]>;
  getDelivery(id: string): Promise<WebhookDelivery | undefined>;
  /** Takes up to `limit` due deliveries (see the header: per-key order for ordered endpoints), soonest first; sets the lease. */
  claimDue(args: { owner: string; now: string; leaseMs: number; limit: number; endpointIds?: string[] }): Promise<WebhookDelivery[]>;
  /** Takes one delivery by id if pending and its lease is free (the in-process fast path for a first attempt); undefined otherwise. */
  claim(id: string, args: { owner: string; now: string; leaseMs: number }): Promise<WebhookDelivery | undefined>;
  /** Stores attempts and their deliveries' new state in one write. A delivery whose lease `owner` lost is left alone (its attempt is still stored). */
  recordAttempts(records: AttemptRecord[]): Promise<void>;
  /** Makes the failed deliveries of the endpoint created since `since` pending and due now, lowest positions first. At most `limit`. Returns how many. */
  recover(endpointId: string, args: { since: string; now: string; limit: number }): Promise<number>;
  /** Makes up to `limit` of the endpoint's skipped deliveries pending and due now, oldest first (throttled catch-up). Returns how many; 0 when none are left. */
  resumeSkipped(endpointId: string, args: { now: string; limit: number }): Promise<number>;
  /** Makes one delivery pending and due now (a manual resend). */
  requeue(deliveryId: string, now: string): Promise<WebhookDelivery | undefined>;

  // Attempts
  getAttempt(id: string): Promise<WebhookAttempt | undefined>;
  listAttempts(query: AttemptListQuery): Promise<Page<WebhookAttempt>>;
  /** Health per endpoint over attempts since `since`, plus current queue figures. */
  endpointStats(args: { since: string; endpointIds?: string[] }): Promise<WebhookEndpointStats[]>;
  /** Removes attempts older than `before` (retention). Returns how many. */
  pruneAttempts(before: string): Promise<number>;
}
