import { systemClock, type Clock } from "../core/clock";
import type { EventDraft, EventEnvelope, StoredEvent } from "../core/envelope";
import { describeError, NotFoundError } from "../core/errors";
import { toEventResource, type EventResource } from "../core/event-resource";
import { newId } from "../core/ids";
import type { EventTypeRegistry } from "../core/registry";
import type { EventStore } from "../store/event-store";
import { DeliveryScheduler, type AttemptOutcome, type EndpointLaneStats, type ScheduledDelivery } from "./delivery-scheduler";
import { EndpointHealth } from "./endpoint-health";
import { EndpointRouting } from "./endpoint-routing";
import { GroupCommit } from "./group-commit";
import { noopWebhookMetrics, type WebhookFailureReason, type WebhookMetrics } from "./metrics";
import { WebhookSendError, type WebhookResponse, type WebhookSender, type WebhookSendFailureKind } from "./ports";
import { classifyResponse, nextAttemptDelayMs, parseRetryAfter, STANDARD_WEBHOOK_SCHEDULE_MS } from "./retry-schedule";
import { signatureHeader, WEBHOOK_HEADER } from "./signing";
import type { AttemptRecord, NewWebhookDelivery, WebhookAttempt, WebhookAttemptTrigger, WebhookDelivery, WebhookEndpoint, WebhookStore } from "./webhook-store";

/**
 * Delivers the event log to webhook endpoints.
 *
 * - The `webhook-dispatcher` subscription (all types, on the configured transport) matches each
 *   event against the routing table (type patterns, compiled filters) and stores one delivery per
 *   matching endpoint: `pending` under this process's lease for an enabled endpoint, `skipped`
 *   (kept for the catch-up) for a disabled one. The event is acked once they are stored; the
 *   first attempts start at once in this process, with no claim round trip.
 * - Everything else that is due (retries, resends, recovered and caught-up deliveries, ordered
 *   endpoints' deliveries, what a crashed process held) is claimed by the poller (`start()`).
 * - The DeliveryScheduler runs attempts: per-endpoint concurrency, circuit breakers and rate
 *   limits, so one slow endpoint never slows the rest.
 * - Attempts are written in group commits; outcomes move the delivery along the Standard Webhooks
 *   schedule and the endpoint's health (410 or continuous failure disables it, see EndpointHealth).
 * - A sender that throws anything, or never answers, is a failed attempt: never a crash.
 */

export const WEBHOOK_SUBSCRIPTION = "webhook-dispatcher";
export const WEBHOOK_USER_AGENT = "Eventloom-Webhooks/1";

export const DEFAULT_WEBHOOK_CONCURRENCY = 256;
export const DEFAULT_WEBHOOK_PER_ENDPOINT_CONCURRENCY = 16;
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 15_000;
export const DEFAULT_WEBHOOK_LEASE_MS = 60_000;
export const DEFAULT_WEBHOOK_POLL_INTERVAL_MS = 500;
export const DEFAULT_WEBHOOK_AUTO_DISABLE_AFTER_MS = 5 * 24 * 3_600_000;
export const DEFAULT_WEBHOOK_CATCH_UP_BATCH = 500;
/** Between two catch-up batches of one endpoint: the throttle that keeps a re-enabled endpoint from a flood. */
export const WEBHOOK_CATCH_UP_INTERVAL_MS = 1_000;

/** Handlers of the subscription at once: each only stores deliveries, so many can share a group commit. */
const SUBSCRIPTION_CONCURRENCY = 64;
/** Deliveries held in memory per endpoint for their first attempt; past that, new ones wait in the store for the poller. */
const MAX_HELD_PER_ENDPOINT = 1_000;
/** An attempt starts only with this much lease left beyond its timeout (its record must land while the lease holds). */
const LEASE_MARGIN_MS = 5_000;
/** How long past its timeout a sender may take before the attempt is written off as timed out. */
const SENDER_DEADLINE_MARGIN_MS = 1_000;
/** Serialised bodies of recent events, shared by their deliveries (fan-out and the first retries). */
const BODY_CACHE_SIZE = 4_096;
const MAX_ITEMS_PER_WRITE = 500;
/** Bounds `runDue` (every loop is bounded). */
const MAX_RUN_DUE_ROUNDS = 1_000;
const DEFAULT_STOP_GRACE_MS = 5_000;

export interface WebhookDispatcherErrorInfo {
  /** `routing`, `filter`, `poll`, `catch_up`, `record`, `health`, `body`. */
  stage: string;
  error: unknown;
  endpointId?: string;
  deliveryId?: string;
}

export interface WebhookDispatcherOptions {
  store: WebhookStore;
  sender: WebhookSender;
  /** Where `webhook.endpoint.disabled` goes (the EventPublisher). */
  events: { publish(drafts: EventDraft[]): Promise<unknown> };
  /** Events by id: retries rebuild their body from the log. */
  eventStore: Pick<EventStore, "getById">;
  registry: Pick<EventTypeRegistry, "upcast">;
  /** This process as lease holder (defaultConsumerName() in the runtime). */
  owner: string;
  metrics?: WebhookMetrics;
  clock?: Clock;
  /** In [0, 1), for the retry jitter. */
  random?: () => number;
  /** Attempts in flight in this process. Default 256. */
  concurrency?: number;
  /** Attempts in flight per endpoint. Default 16. */
  perEndpointConcurrency?: number;
  /** Per attempt, connect to the last byte. Default 15 s. */
  timeoutMs?: number;
  /** How long a crashed process keeps deliveries from the others. Default 60 s, or 4 x timeoutMs when longer. */
  leaseMs?: number;
  /** How often the poller looks for due deliveries. Default 500 ms. */
  pollIntervalMs?: number;
  /** Continuous failure after which an endpoint is disabled. Default 5 days. */
  autoDisableAfterMs?: number;
  /** Skipped deliveries resumed per endpoint per second after re-enabling. Default 500. */
  catchUpBatch?: number;
  /** How long `stop()` lets running attempts finish before aborting them. Default 5 s. */
  stopGraceMs?: number;
  onError?(info: WebhookDispatcherErrorInfo): void;
}

/** Structurally a SubscriptionDefinition (server/runtime/subscriptions.ts). */
export interface WebhookSubscription {
  name: typeof WEBHOOK_SUBSCRIPTION;
  description: string;
  types: ["*"];
  concurrency: number;
  /**
   * No inbox: the handler is idempotent by itself (one delivery per endpoint and event, stored
   * ON CONFLICT DO NOTHING; a redelivered event finds them and attempts nothing), and the inbox
   * would cost a read and a commit per event on the path every delivery takes.
   */
  inbox: false;
  handle(event: EventEnvelope): Promise<void>;
}

export interface WebhookDispatcherStats {
  owner: string;
  running: boolean;
  /** Attempts running now in this process. */
  inFlight: number;
  /** Deliveries this process holds, waiting for a slot, a token or the circuit's probe. */
  held: number;
  /** Attempts made by this process since it started. */
  attempts: number;
  /** Endpoints whose skipped deliveries are being caught up by this process. */
  catchingUp: string[];
  endpoints: EndpointLaneStats[];
}

/** One request and what came of it, before it is tied to a delivery. */
interface Exchange {
  startedAt: number;
  request: WebhookAttempt["request"];
  response: WebhookAttempt["response"];
  durationMs: number;
  outcome: "succeeded" | "gone" | "failed";
  error: string | null;
  reason: WebhookFailureReason | null;
  retryAfterMs: number | undefined;
}

export class WebhookDispatcher {
  readonly #store: WebhookStore;
  readonly #sender: WebhookSender;
  readonly #eventStore: Pick<EventStore, "getById">;
  readonly #registry: Pick<EventTypeRegistry, "upcast">;
  readonly #owner: string;
  readonly #metrics: WebhookMetrics;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #concurrency: number;
  readonly #perEndpointConcurrency: number;
  readonly #timeoutMs: number;
  readonly #leaseMs: number;
  readonly #pollIntervalMs: number;
  readonly #catchUpBatch: number;
  readonly #stopGraceMs: number;
  readonly #onError: WebhookDispatcherOptions["onError"];
  readonly #routing: EndpointRouting;
  readonly #health: EndpointHealth;
  readonly #scheduler: DeliveryScheduler;
  readonly #creates: GroupCommit<NewWebhookDelivery, Map<string, WebhookDelivery>>;
  readonly #records: GroupCommit<AttemptRecord, void>;
  readonly #bodies = new Map<string, string>();
  /** Endpoint id -> when its next catch-up batch is due. */
  readonly #catchUps = new Map<string, number>();
  /** Endpoint statuses at the last reload: endpoints that became enabled are looked at for a catch-up. */
  #statuses = new Map<string, WebhookEndpoint["status"]>();
  #attempts = 0;
  #running = false;
  #stopping = false;
  #loop: Promise<void> | undefined;
  #wakeLoop: (() => void) | undefined;
  #wakeRequested = false;
  /** The last claim took as many as it asked for: more may be due. */
  #backlog = false;

  constructor(options: WebhookDispatcherOptions) {
    this.#store = options.store;
    this.#sender = options.sender;
    this.#eventStore = options.eventStore;
    this.#registry = options.registry;
    this.#owner = options.owner;
    this.#metrics = options.metrics ?? noopWebhookMetrics;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#concurrency = options.concurrency ?? DEFAULT_WEBHOOK_CONCURRENCY;
    this.#perEndpointConcurrency = options.perEndpointConcurrency ?? DEFAULT_WEBHOOK_PER_ENDPOINT_CONCURRENCY;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
    // A long timeout needs a longer lease: an attempt must end (and be written) while its lease holds.
    this.#leaseMs = options.leaseMs ?? Math.max(DEFAULT_WEBHOOK_LEASE_MS, 4 * this.#timeoutMs);
    this.#pollIntervalMs = options.pollIntervalMs ?? DEFAULT_WEBHOOK_POLL_INTERVAL_MS;
    this.#catchUpBatch = options.catchUpBatch ?? DEFAULT_WEBHOOK_CATCH_UP_BATCH;
    this.#stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.#onError = options.onError;
    if (this.#leaseMs < this.#timeoutMs + SENDER_DEADLINE_MARGIN_MS + LEASE_MARGIN_MS) {
      throw new RangeError(`webhook dispatcher: leaseMs (${this.#leaseMs}) must exceed timeoutMs (${this.#timeoutMs}) by ${SENDER_DEADLINE_MARGIN_MS + LEASE_MARGIN_MS} ms at least`);
    }
    this.#routing = new EndpointRouting({
      store: this.#store,
      clock: this.#clock,
      report: (error, endpointId) => this.#report({ stage: "filter", error, endpointId }),
    });
    this.#health = new EndpointHealth({
      store: this.#store,
      events: options.events,
      clock: this.#clock,
      autoDisableAfterMs: options.autoDisableAfterMs ?? DEFAULT_WEBHOOK_AUTO_DISABLE_AFTER_MS,
      changed: () => this.#routing.invalidate(),
      report: (error, endpointId) => this.#report({ stage: "health", error, endpointId }),
    });
    this.#scheduler = new DeliveryScheduler({
      concurrency: this.#concurrency,
      perEndpointConcurrency: this.#perEndpointConcurrency,
      leaseNeededMs: this.#timeoutMs + SENDER_DEADLINE_MARGIN_MS + LEASE_MARGIN_MS,
      clock: this.#clock,
      endpoint: (endpointId) => this.#routing.get(endpointId)?.endpoint,
      attempt: (job, endpoint, signal) => this.#attempt(job, endpoint, signal),
      deferred: (reason, endpointId) => this.#metrics.deferred?.(reason, endpointId),
    });
    this.#creates = new GroupCommit({
      maxItems: MAX_ITEMS_PER_WRITE,
      commit: async (deliveries) => new Map((await this.#store.createDeliveries(deliveries)).map((delivery) => [delivery.id, delivery])),
    });
    this.#records = new GroupCommit({ maxItems: MAX_ITEMS_PER_WRITE, commit: (records) => this.#store.recordAttempts(records) });
  }

  subscription(): WebhookSubscription {
    return {
      name: WEBHOOK_SUBSCRIPTION,
      description: "Stores a delivery per matching webhook endpoint for every event and makes its first attempt.",
      types: ["*"],
      concurrency: SUBSCRIPTION_CONCURRENCY,
      inbox: false,
      handle: (event) => this.#handle(event),
    };
  }

  /** Starts the poller (retries, resends, recovered, caught-up and ordered deliveries) and resumes unfinished catch-ups. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopping = false;
    this.#scheduler.resume();
    // Every enabled endpoint is looked at once for skipped deliveries left by an earlier process.
    this.#statuses = new Map();
    this.#routing.invalidate();
    this.#loop = this.#pollLoop();
  }

  /** Stops polling, lets running attempts finish (grace period, then aborts them) and writes every record. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#stopping = true;
    this.#wakeLoop?.();
    await this.#loop;
    this.#loop = undefined;
    await this.#scheduler.stop(this.#stopGraceMs);
    await this.#settleWrites();
  }

  /** One pass (tests, tools): claims and attempts what is due until nothing is. Returns the attempts made. */
  async runDue(): Promise<number> {
    const before = this.#attempts;
    await this.#settle();
    for (let round = 0; round < MAX_RUN_DUE_ROUNDS; round++) {
      const attemptsBefore = this.#attempts;
      const claimed = await this.#pollOnce();
      // Deliveries held for a token or the circuit's probe may go now (the clock may have moved).
      this.#scheduler.pump();
      await this.#settle();
      if (claimed === 0 && this.#attempts === attemptsBefore) break;
    }
    return this.#attempts - before;
  }

  /** Claims one pending delivery (a resend) and attempts it here now. False when it is not pending or someone holds it. */
  async deliverNow(deliveryId: string): Promise<boolean> {
    const delivery = await this.#store.claim(deliveryId, this.#claimArgs());
    if (!delivery) return false;
    await this.#routing.refresh();
    this.#scheduler.enqueue([{ delivery, trigger: "manual" }]);
    return true;
  }

  /**
   * Resumes the endpoint's skipped deliveries: a batch now, then a batch per second on the poller
   * until none is left. Returns how many the first batch resumed. The state is in the store: a
   * process started later (or another worker, on seeing the endpoint enabled) carries on.
   */
  async catchUp(endpointId: string): Promise<number> {
    const resumed = await this.#store.resumeSkipped(endpointId, { now: this.#nowIso(), limit: this.#catchUpBatch });
    if (resumed > 0) {
      this.#catchUps.set(endpointId, this.#clock.now() + WEBHOOK_CATCH_UP_INTERVAL_MS);
      this.#wake();
    }
    return resumed;
  }

  /**
   * One signed test delivery now, outside the schedule: its own delivery row (never retried: a
   * test event is not in the log), its attempt (trigger `test`) stored before this returns. Goes
   * out whatever the endpoint's status, circuit or rate limit: an operator is checking it.
   */
  async sendTest(endpoint: WebhookEndpoint, resource: EventResource): Promise<WebhookAttempt> {
    const now = this.#clock.now();
    const [delivery] = await this.#store.createDeliveries([
      {
        id: newId(),
        endpointId: endpoint.id,
        eventId: resource.id,
        eventType: resource.type,
        position: resource.position,
        partitionKey: null,
        status: "pending",
        // Never due: if this process dies mid-test, nobody retries it.
        nextAttemptAt: null,
        createdAt: new Date(now).toISOString(),
        leaseOwner: this.#owner,
        leaseUntil: new Date(now + this.#leaseMs).toISOString(),
      },
    ]);
    if (!delivery) throw new NotFoundError(`No webhook endpoint with id ${endpoint.id}`);
    const exchange = await this.#exchange(endpoint, resource.id, JSON.stringify(resource), AbortSignal.timeout(this.#timeoutMs + SENDER_DEADLINE_MARGIN_MS));
    const record = this.#record({ delivery, trigger: "test" }, exchange, exchange.outcome === "succeeded" ? "succeeded" : "failed", null);
    await this.#records.submit([record]);
    this.#reportAttempt(endpoint, exchange);
    return record.attempt;
  }

  stats(): WebhookDispatcherStats {
    return {
      owner: this.#owner,
      running: this.#running,
      inFlight: this.#scheduler.inFlight,
      held: this.#scheduler.held,
      attempts: this.#attempts,
      catchingUp: [...this.#catchUps.keys()],
      endpoints: this.#scheduler.stats(),
    };
  }

  /** An endpoint changed in this process: the routing table reloads before the next event. */
  invalidateEndpoints(): void {
    this.#routing.invalidate();
  }

  // -------------------------------------------------------------------------------------------
  // The subscription

  async #handle(event: EventEnvelope): Promise<void> {
    await this.#routing.current();
    const resource = toEventResource(await this.#stored(event), this.#registry);
    const matched = this.#routing.match(resource);
    if (matched.length === 0) return;
    const now = this.#clock.now();
    const drafts = matched.map((endpoint) => this.#newDelivery(endpoint, resource, now));
    this.#remember(resource.id, JSON.stringify(resource));
    const stored = await this.#creates.submit(drafts);
    const jobs: ScheduledDelivery[] = [];
    let waiting = false;
    for (const draft of drafts) {
      // A redelivered event finds its deliveries stored already: nothing new to do.
      const delivery = stored.get(draft.id);
      if (!delivery || delivery.status !== "pending") continue;
      if (delivery.leaseOwner === this.#owner) jobs.push({ delivery, trigger: "scheduled" });
      else waiting = true;
    }
    this.#scheduler.enqueue(jobs);
    if (waiting) this.#wake();
  }

  /** The event with its log position (transports that carry only the envelope: read from the log). */
  async #stored(event: EventEnvelope): Promise<StoredEvent> {
    if (typeof (event as Partial<StoredEvent>).position === "number") return event as StoredEvent;
    const stored = await this.#eventStore.getById(event.id);
    // Thrown, so the subscriber tries again: the event is delivered before its commit is visible here.
    if (!stored) throw new Error(`event ${event.id} is not in the log yet`);
    return stored;
  }

  #newDelivery(endpoint: WebhookEndpoint, resource: EventResource, now: number): NewWebhookDelivery {
    const nowIso = new Date(now).toISOString();
    const base = {
      id: newId(),
      endpointId: endpoint.id,
      eventId: resource.id,
      eventType: resource.type,
      position: resource.position,
      partitionKey: resource.partitionkey ?? null,
      createdAt: nowIso,
    };
    if (endpoint.status !== "enabled") return { ...base, status: "skipped", nextAttemptAt: null, leaseOwner: null, leaseUntil: null };
    // An ordered endpoint's delivery may have to wait for an earlier one of its key: the store's claim decides.
    const ordered = endpoint.orderedByKey && base.partitionKey !== null;
    const holdHere = !this.#stopping && !ordered && this.#scheduler.load(endpoint.id) < MAX_HELD_PER_ENDPOINT;
    return holdHere
      ? { ...base, status: "pending", nextAttemptAt: nowIso, leaseOwner: this.#owner, leaseUntil: new Date(now + this.#leaseMs).toISOString() }
      : { ...base, status: "pending", nextAttemptAt: nowIso, leaseOwner: null, leaseUntil: null };
  }

  // -------------------------------------------------------------------------------------------
  // Attempts

  async #attempt(job: ScheduledDelivery, endpoint: WebhookEndpoint, signal: AbortSignal): Promise<AttemptOutcome> {
    const { delivery } = job;
    let body: string | undefined;
    try {
      body = await this.#bodyOf(delivery.eventId);
    } catch (error) {
      // The log is unreachable: the lease lapses and the delivery is tried again later.
      this.#report({ stage: "body", error, endpointId: delivery.endpointId, deliveryId: delivery.id });
      return "abandoned";
    }
    if (body === undefined) {
      this.#write(this.#record(job, eventMissing(endpoint, delivery, this.#clock.now()), "failed", null), endpoint);
      return "abandoned";
    }

    const exchange = await this.#exchange(endpoint, delivery.eventId, body, signal);
    const attemptNumber = delivery.attempts + 1;
    let status: WebhookDelivery["status"] = "failed";
    let nextAttemptAt: string | null = null;
    if (exchange.outcome === "succeeded") {
      status = "succeeded";
    } else if (exchange.outcome === "failed") {
      const delayMs = nextAttemptDelayMs(attemptNumber, { random: this.#random, retryAfterMs: exchange.retryAfterMs });
      if (delayMs !== null) {
        status = "pending";
        nextAttemptAt = new Date(this.#clock.now() + delayMs).toISOString();
      }
    }
    this.#write(this.#record(job, exchange, status, nextAttemptAt), endpoint);
    this.#reportAttempt(endpoint, exchange);
    if (exchange.outcome === "succeeded") this.#health.succeeded(endpoint);
    else if (exchange.outcome === "gone") this.#health.gone(endpoint, exchange.error ?? "HTTP 410");
    else this.#health.failed(endpoint, this.#clock.now());
    return exchange.outcome === "succeeded" ? "succeeded" : "failed";
  }

  /** Signs and sends one request; whatever the sender does (answers, throws, hangs), an Exchange comes back. */
  async #exchange(endpoint: WebhookEndpoint, id: string, body: string, signal: AbortSignal): Promise<Exchange> {
    const startedAt = this.#clock.now();
    const timestamp = Math.floor(startedAt / 1000);
    const headers: Record<string, string> = { "user-agent": WEBHOOK_USER_AGENT, ...endpoint.headers, "content-type": "application/json", [WEBHOOK_HEADER.id]: id, [WEBHOOK_HEADER.timestamp]: String(timestamp) };
    const request = { url: endpoint.url, headers, body };
    const failed = (reason: WebhookFailureReason, error: string, durationMs: number): Exchange => ({
      startedAt,
      request,
      response: null,
      durationMs,
      outcome: "failed",
      error,
      reason,
      retryAfterMs: undefined,
    });
    let response: WebhookResponse;
    try {
      headers[WEBHOOK_HEADER.signature] = signatureHeader(activeSecrets(endpoint, startedAt), id, timestamp, body);
      response = await this.#sendWithDeadline({ url: endpoint.url, headers: { ...headers }, body, timeoutMs: this.#timeoutMs, signal });
    } catch (error) {
      const sendError = asSendError(error);
      if (sendError) return failed(sendError.kind, sendError.message, sendError.durationMs);
      return failed("error", `the sender failed: ${describeError(error).message}`, this.#clock.now() - startedAt);
    }
    const outcome = classifyResponse(response.status);
    const status = response.status;
    const exchange: Exchange = {
      startedAt,
      request,
      response: { status, headers: response.headers, body: response.body, truncated: response.truncated },
      durationMs: response.durationMs,
      outcome,
      error: null,
      reason: null,
      retryAfterMs: undefined,
    };
    if (outcome === "gone") {
      exchange.error = "HTTP 410 Gone: the endpoint was disabled";
      exchange.reason = "gone";
    } else if (outcome === "failed") {
      exchange.error = status >= 300 && status < 400 ? `redirect (HTTP ${status}) not followed` : `HTTP ${status}`;
      exchange.reason = status >= 500 ? "http_5xx" : status >= 400 ? "http_4xx" : status >= 300 ? "http_3xx" : "error";
      if (status === 429 || status === 503) exchange.retryAfterMs = parseRetryAfter(headerOf(response.headers, "retry-after"), new Date(this.#clock.now()));
    }
    return exchange;
  }

  /** The sender's own timeout should end it; this deadline is for a sender that does not. */
  async #sendWithDeadline(request: Parameters<WebhookSender["send"]>[0]): Promise<WebhookResponse> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadlineMs = this.#timeoutMs + SENDER_DEADLINE_MARGIN_MS;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WebhookSendError("timeout", `no answer within ${this.#timeoutMs} ms`, deadlineMs)), deadlineMs);
    });
    try {
      // Called inside the race's promise chain so a sender that throws synchronously is a rejection too.
      return await Promise.race([Promise.resolve().then(() => this.#sender.send(request)), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  #record(job: ScheduledDelivery, exchange: Exchange, status: WebhookDelivery["status"], nextAttemptAt: string | null): AttemptRecord {
    const { delivery, trigger } = job;
    const startedAtIso = new Date(exchange.startedAt).toISOString();
    const attemptNumber = delivery.attempts + 1;
    return {
      attempt: {
        id: newId(),
        deliveryId: delivery.id,
        endpointId: delivery.endpointId,
        eventId: delivery.eventId,
        eventType: delivery.eventType,
        attempt: attemptNumber,
        status: status === "succeeded" ? "succeeded" : "failed",
        trigger,
        request: exchange.request,
        response: exchange.response,
        durationMs: exchange.durationMs,
        error: exchange.error,
        nextAttemptAt,
        createdAt: startedAtIso,
      },
      delivery: {
        id: delivery.id,
        status,
        attempts: attemptNumber,
        nextAttemptAt,
        lastAttemptAt: startedAtIso,
        lastResponseStatus: exchange.response?.status ?? null,
        lastError: exchange.error,
      },
      owner: this.#owner,
    };
  }

  /** Queued for the next group commit; an ordered endpoint's next delivery of the key becomes due once it is written. */
  #write(record: AttemptRecord, endpoint: WebhookEndpoint): void {
    this.#attempts += 1;
    const unblocksKey = endpoint.orderedByKey && record.delivery.status !== "pending";
    this.#records.submit([record]).then(
      () => {
        if (unblocksKey) this.#wake();
      },
      (error: unknown) => this.#report({ stage: "record", error, endpointId: endpoint.id, deliveryId: record.delivery.id }),
    );
  }

  #reportAttempt(endpoint: WebhookEndpoint, exchange: Exchange): void {
    this.#metrics.attempted(exchange.outcome === "succeeded" ? "succeeded" : "failed", exchange.reason, exchange.durationMs, endpoint.id);
  }

  async #bodyOf(eventId: string): Promise<string | undefined> {
    const cached = this.#bodies.get(eventId);
    if (cached !== undefined) return cached;
    const event = await this.#eventStore.getById(eventId);
    if (!event) return undefined;
    const body = JSON.stringify(toEventResource(event, this.#registry));
    this.#remember(eventId, body);
    return body;
  }

  #remember(eventId: string, body: string): void {
    if (this.#bodies.size >= BODY_CACHE_SIZE) {
      const oldest = this.#bodies.keys().next().value;
      if (oldest !== undefined) this.#bodies.delete(oldest);
    }
    this.#bodies.set(eventId, body);
  }

  // -------------------------------------------------------------------------------------------
  // The poller

  async #pollLoop(): Promise<void> {
    while (this.#running) {
      try {
        await this.#pollOnce();
      } catch (error) {
        this.#report({ stage: "poll", error });
      }
      if (!this.#running) break;
      // A full claim may have left more due; a wake-up asked for a look now.
      if (this.#backlog || this.#wakeRequested) {
        this.#wakeRequested = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#pollIntervalMs);
        this.#wakeLoop = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeLoop = undefined;
      this.#wakeRequested = false;
    }
  }

  /** Reloads routing if due, runs due catch-up batches, claims due deliveries. Returns how many it claimed. */
  async #pollOnce(): Promise<number> {
    await this.#refreshRouting();
    await this.#catchUpTick();
    return this.#claimDue();
  }

  async #claimDue(): Promise<number> {
    const eligible: string[] = [];
    let load = 0;
    for (const { endpoint } of this.#routing.all()) {
      const endpointLoad = this.#scheduler.load(endpoint.id);
      // Full endpoints get nothing more: what they hold already keeps them busy.
      if (endpoint.status !== "enabled" || this.#scheduler.circuit(endpoint.id) === "open" || endpointLoad >= this.#perEndpointConcurrency) continue;
      eligible.push(endpoint.id);
      load += endpointLoad;
    }
    const limit = this.#concurrency - load;
    this.#backlog = false;
    if (eligible.length === 0 || limit <= 0) return 0;
    const claimed = await this.#store.claimDue({ ...this.#claimArgs(), limit, endpointIds: eligible });
    this.#backlog = claimed.length === limit;
    this.#scheduler.enqueue(claimed.map((delivery) => ({ delivery, trigger: triggerOf(delivery) })));
    return claimed.length;
  }

  async #refreshRouting(): Promise<void> {
    await this.#routing.refresh();
    if (!this.#running) return;
    // Endpoints enabled since the last look (or all, after start) may have skipped deliveries to
    // catch up. The table may have been reloaded by an event's routing rather than here: compare
    // statuses every time, not only after a reload of our own.
    const enabled = this.#routing
      .all()
      .map(({ endpoint }) => endpoint)
      .filter((endpoint) => endpoint.status === "enabled" && this.#statuses.get(endpoint.id) !== "enabled");
    this.#statuses = new Map(this.#routing.all().map(({ endpoint }) => [endpoint.id, endpoint.status]));
    if (enabled.length === 0) return;
    try {
      const stats = await this.#store.endpointStats({ since: this.#nowIso(), endpointIds: enabled.map((endpoint) => endpoint.id) });
      for (const { endpointId, skipped } of stats) if (skipped > 0 && !this.#catchUps.has(endpointId)) this.#catchUps.set(endpointId, this.#clock.now());
    } catch (error) {
      this.#report({ stage: "catch_up", error });
    }
  }

  async #catchUpTick(): Promise<void> {
    const now = this.#clock.now();
    for (const [endpointId, dueAt] of this.#catchUps) {
      if (dueAt > now) continue;
      // Deleted, or disabled again: enabling it starts over.
      if (this.#routing.get(endpointId)?.endpoint.status !== "enabled") {
        this.#catchUps.delete(endpointId);
        continue;
      }
      try {
        const resumed = await this.#store.resumeSkipped(endpointId, { now: new Date(now).toISOString(), limit: this.#catchUpBatch });
        if (resumed === 0) this.#catchUps.delete(endpointId);
        else this.#catchUps.set(endpointId, now + WEBHOOK_CATCH_UP_INTERVAL_MS);
      } catch (error) {
        this.#catchUps.set(endpointId, now + WEBHOOK_CATCH_UP_INTERVAL_MS);
        this.#report({ stage: "catch_up", error, endpointId });
      }
    }
  }

  /** Something became due now (a delivery waiting in the store, a written record unblocking a key): poll without waiting. */
  #wake(): void {
    if (!this.#running) return;
    this.#wakeRequested = true;
    this.#wakeLoop?.();
  }

  async #settle(): Promise<void> {
    await this.#scheduler.idle();
    await this.#settleWrites();
  }

  async #settleWrites(): Promise<void> {
    await this.#creates.drain();
    await this.#records.drain();
    await this.#health.settled();
  }

  #claimArgs() {
    return { owner: this.#owner, now: this.#nowIso(), leaseMs: this.#leaseMs };
  }

  #nowIso(): string {
    return new Date(this.#clock.now()).toISOString();
  }

  #report(info: WebhookDispatcherErrorInfo): void {
    try {
      this.#onError?.(info);
    } catch {
      // A failing reporter must not take the dispatcher down.
    }
  }
}

/** The current secret and the rotated-out ones still in their grace period. */
function activeSecrets(endpoint: WebhookEndpoint, now: number): string[] {
  return endpoint.secrets.filter((secret) => secret.expiresAt === null || Date.parse(secret.expiresAt) > now).map((secret) => secret.secret);
}

/** A delivery that used up its schedule is due again only because someone recovered (or resent) it. */
function triggerOf(delivery: WebhookDelivery): WebhookAttemptTrigger {
  return delivery.attempts >= STANDARD_WEBHOOK_SCHEDULE_MS.length ? "recover" : "scheduled";
}

/** The delivery's event is not in the log (a test event's delivery, made due by a recover): it fails for good, without a request. */
function eventMissing(endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: number): Exchange {
  return {
    startedAt: now,
    request: { url: endpoint.url, headers: {}, body: "" },
    response: null,
    durationMs: 0,
    outcome: "failed",
    error: `event ${delivery.eventId} is not in the log`,
    reason: "error",
    retryAfterMs: undefined,
  };
}

const sendFailureKinds: ReadonlySet<WebhookSendFailureKind> = new Set(["timeout", "connection", "dns", "blocked_address", "invalid_url", "aborted"]);

/** Structural, not instanceof alone: a bundler may load the ports module twice. */
function asSendError(error: unknown): WebhookSendError | undefined {
  if (error instanceof WebhookSendError) return error;
  if (typeof error !== "object" || error === null || (error as { name?: unknown }).name !== "WebhookSendError") return undefined;
  const { kind, message, durationMs } = error as { kind?: unknown; message?: unknown; durationMs?: unknown };
  if (typeof kind !== "string" || !sendFailureKinds.has(kind as WebhookSendFailureKind)) return undefined;
  return new WebhookSendError(kind as WebhookSendFailureKind, String(message), typeof durationMs === "number" ? durationMs : 0);
}

function headerOf(headers: Record<string, string>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}
