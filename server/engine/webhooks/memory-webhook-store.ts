import { latestPerDelivery } from "./attempt-records";
import { decodeListCursor, encodeListCursor, isAfter, newestFirst, type ListPosition } from "../core/list-cursor";
import {
  WebhookEndpointConflictError,
  type AttemptListQuery,
  type AttemptRecord,
  type NewWebhookDelivery,
  type Page,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEndpointStats,
  type WebhookStore,
} from "./webhook-store";

/**
 * Endpoints, deliveries and attempts in maps: for unit tests and running without a database.
 * Records are copied on the way in and out, so a caller mutating what it holds never changes the
 * stored state (as with a database). Secrets are kept as given: nothing here is at rest.
 */
export class InMemoryWebhookStore implements WebhookStore {
  readonly #endpoints = new Map<string, WebhookEndpoint>();
  readonly #deliveries = new Map<string, WebhookDelivery>();
  /** (endpoint, event) → delivery id: one delivery per endpoint per event. */
  readonly #deliveryByEvent = new Map<string, string>();
  readonly #attempts = new Map<string, WebhookAttempt>();
  #revision = 0;

  async createEndpoint(endpoint: WebhookEndpoint): Promise<WebhookEndpoint> {
    if (this.#endpoints.has(endpoint.id)) throw new WebhookEndpointConflictError(endpoint.id);
    const stored: WebhookEndpoint = { ...structuredClone(endpoint), version: 1 };
    this.#endpoints.set(stored.id, stored);
    this.#revision += 1;
    return structuredClone(stored);
  }

  async getEndpoint(id: string): Promise<WebhookEndpoint | undefined> {
    const endpoint = this.#endpoints.get(id);
    return endpoint && structuredClone(endpoint);
  }

  async listEndpoints(query: { cursor?: string; limit: number }): Promise<Page<WebhookEndpoint>> {
    return page([...this.#endpoints.values()], query);
  }

  async allEndpoints(): Promise<WebhookEndpoint[]> {
    return [...this.#endpoints.values()].sort(newestFirst).map((endpoint) => structuredClone(endpoint));
  }

  async updateEndpoint(next: WebhookEndpoint): Promise<WebhookEndpoint> {
    const stored = this.#endpoints.get(next.id);
    if (!stored || stored.version !== next.version) throw new WebhookEndpointConflictError(next.id);
    // Who made it and when are fixed at create.
    const updated: WebhookEndpoint = { ...structuredClone(next), createdBy: stored.createdBy, createdAt: stored.createdAt, version: stored.version + 1 };
    this.#endpoints.set(updated.id, updated);
    this.#revision += 1;
    return structuredClone(updated);
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    if (!this.#endpoints.delete(id)) return false;
    for (const delivery of this.#deliveries.values()) {
      if (delivery.endpointId !== id) continue;
      this.#deliveries.delete(delivery.id);
      this.#deliveryByEvent.delete(eventKey(delivery));
    }
    for (const attempt of this.#attempts.values()) if (attempt.endpointId === id) this.#attempts.delete(attempt.id);
    this.#revision += 1;
    return true;
  }

  async endpointsRevision(): Promise<number> {
    return this.#revision;
  }

  async createDeliveries(deliveries: NewWebhookDelivery[]): Promise<WebhookDelivery[]> {
    const created: WebhookDelivery[] = [];
    for (const delivery of deliveries) {
      // A delivery for an endpoint deleted meanwhile has nowhere to go (a database's foreign key).
      if (!this.#endpoints.has(delivery.endpointId) || this.#deliveries.has(delivery.id) || this.#deliveryByEvent.has(eventKey(delivery))) continue;
      const stored: WebhookDelivery = {
        ...structuredClone(delivery),
        attempts: 0,
        lastAttemptAt: null,
        lastResponseStatus: null,
        lastError: null,
        updatedAt: delivery.createdAt,
        leaseUntil: delivery.leaseOwner === null ? null : delivery.leaseUntil,
      };
      this.#deliveries.set(stored.id, stored);
      this.#deliveryByEvent.set(eventKey(stored), stored.id);
      created.push(structuredClone(stored));
    }
    return created;
  }

  async getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    const delivery = this.#deliveries.get(id);
    return delivery && structuredClone(delivery);
  }

  async claimDue(args: { owner: string; now: string; leaseMs: number; limit: number; endpointIds?: string[] }): Promise<WebhookDelivery[]> {
    const now = Date.parse(args.now);
    const endpoints = args.endpointIds && new Set(args.endpointIds);
    const due = [...this.#deliveries.values()]
      .filter(
        (delivery) =>
          (endpoints === undefined || endpoints.has(delivery.endpointId)) &&
          delivery.nextAttemptAt !== null &&
          Date.parse(delivery.nextAttemptAt) <= now &&
          this.#claimable(delivery, now),
      )
      .sort((a, b) => Date.parse(a.nextAttemptAt ?? "") - Date.parse(b.nextAttemptAt ?? "") || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, Math.max(0, Math.floor(args.limit)));
    return due.map((delivery) => take(delivery, args));
  }

  async claim(id: string, args: { owner: string; now: string; leaseMs: number }): Promise<WebhookDelivery | undefined> {
    const delivery = this.#deliveries.get(id);
    if (!delivery || !this.#claimable(delivery, Date.parse(args.now))) return undefined;
    return take(delivery, args);
  }

  async recordAttempts(records: AttemptRecord[]): Promise<void> {
    for (const { attempt } of records) {
      // Its endpoint was deleted while the attempt ran: the attempt goes with it.
      if (this.#deliveries.has(attempt.deliveryId)) this.#attempts.set(attempt.id, structuredClone(attempt));
    }
    for (const { attempt, delivery: next, owner } of latestPerDelivery(records)) {
      const delivery = this.#deliveries.get(next.id);
      if (!delivery || (owner !== null && delivery.leaseOwner !== owner)) continue;
      Object.assign(delivery, structuredClone(next), { updatedAt: attempt.createdAt });
      if (owner !== null) {
        delivery.leaseOwner = null;
        delivery.leaseUntil = null;
      }
    }
  }

  async recover(endpointId: string, args: { since: string; now: string; limit: number }): Promise<number> {
    const since = Date.parse(args.since);
    const failed = [...this.#deliveries.values()]
      .filter((delivery) => delivery.endpointId === endpointId && delivery.status === "failed" && Date.parse(delivery.createdAt) >= since)
      .sort(byPosition);
    return this.#requeueAll(failed, args);
  }

  async resumeSkipped(endpointId: string, args: { now: string; limit: number }): Promise<number> {
    const skipped = [...this.#deliveries.values()].filter((delivery) => delivery.endpointId === endpointId && delivery.status === "skipped").sort(byPosition);
    return this.#requeueAll(skipped, args);
  }

  async requeue(deliveryId: string, now: string): Promise<WebhookDelivery | undefined> {
    const delivery = this.#deliveries.get(deliveryId);
    if (!delivery) return undefined;
    makeDue(delivery, now);
    return structuredClone(delivery);
  }

  async getAttempt(id: string): Promise<WebhookAttempt | undefined> {
    const attempt = this.#attempts.get(id);
    return attempt && structuredClone(attempt);
  }

  async listAttempts(query: AttemptListQuery): Promise<Page<WebhookAttempt>> {
    const matching = [...this.#attempts.values()].filter(
      (attempt) =>
        (query.endpointId === undefined || attempt.endpointId === query.endpointId) &&
        (query.deliveryId === undefined || attempt.deliveryId === query.deliveryId) &&
        (query.status === undefined || attempt.status === query.status),
    );
    return page(matching, query);
  }

  async endpointStats(args: { since: string; endpointIds?: string[] }): Promise<WebhookEndpointStats[]> {
    const since = Date.parse(args.since);
    const wanted = args.endpointIds && new Set(args.endpointIds);
    const endpoints = [...this.#endpoints.keys()].filter((id) => wanted === undefined || wanted.has(id)).sort();
    return endpoints.map((endpointId) => {
      const attempts = [...this.#attempts.values()].filter((attempt) => attempt.endpointId === endpointId);
      const inWindow = attempts.filter((attempt) => Date.parse(attempt.createdAt) >= since);
      const last = attempts.sort(newestFirst)[0];
      const deliveries = [...this.#deliveries.values()].filter((delivery) => delivery.endpointId === endpointId);
      const count = (status: WebhookDelivery["status"]) => deliveries.filter((delivery) => delivery.status === status).length;
      return {
        endpointId,
        successRate: inWindow.length === 0 ? null : inWindow.filter((attempt) => attempt.status === "succeeded").length / inWindow.length,
        attempts: inWindow.length,
        lastStatus: last?.response?.status ?? null,
        lastAttemptAt: last?.createdAt ?? null,
        p95LatencyMs: percentile(
          inWindow.map((attempt) => attempt.durationMs),
          0.95,
        ),
        pending: count("pending"),
        skipped: count("skipped"),
        failed: count("failed"),
      };
    });
  }

  async pruneAttempts(before: string): Promise<number> {
    const cutoff = Date.parse(before);
    let pruned = 0;
    for (const attempt of this.#attempts.values()) {
      if (Date.parse(attempt.createdAt) >= cutoff) continue;
      this.#attempts.delete(attempt.id);
      pruned += 1;
    }
    return pruned;
  }

  /** Pending, lease free, and (for an endpoint ordered by key) no unfinished delivery of its key before it. */
  #claimable(delivery: WebhookDelivery, now: number): boolean {
    if (delivery.status !== "pending" || !leaseFree(delivery, now)) return false;
    if (delivery.partitionKey === null || !this.#endpoints.get(delivery.endpointId)?.orderedByKey) return true;
    for (const other of this.#deliveries.values()) {
      if (
        other.endpointId === delivery.endpointId &&
        other.partitionKey === delivery.partitionKey &&
        (other.status === "pending" || other.status === "skipped") &&
        other.position < delivery.position
      ) {
        return false;
      }
    }
    return true;
  }

  #requeueAll(deliveries: WebhookDelivery[], args: { now: string; limit: number }): number {
    const chosen = deliveries.slice(0, Math.max(0, Math.floor(args.limit)));
    for (const delivery of chosen) makeDue(delivery, args.now);
    return chosen.length;
  }
}

function eventKey(delivery: Pick<WebhookDelivery, "endpointId" | "eventId">): string {
  return `${delivery.endpointId} ${delivery.eventId}`;
}

function leaseFree(delivery: WebhookDelivery, now: number): boolean {
  return delivery.leaseUntil === null || Date.parse(delivery.leaseUntil) <= now;
}

function take(delivery: WebhookDelivery, args: { owner: string; now: string; leaseMs: number }): WebhookDelivery {
  delivery.leaseOwner = args.owner;
  delivery.leaseUntil = new Date(Date.parse(args.now) + args.leaseMs).toISOString();
  return structuredClone(delivery);
}

/**
 * Pending and due now. A write by someone other than the lease holder: the lease is freed, so the
 * holder's late outcome no longer overwrites this (its attempt is still logged) and the delivery
 * is claimable at once.
 */
function makeDue(delivery: WebhookDelivery, now: string): void {
  delivery.status = "pending";
  delivery.nextAttemptAt = now;
  delivery.updatedAt = now;
  delivery.leaseOwner = null;
  delivery.leaseUntil = null;
}

function byPosition(a: WebhookDelivery, b: WebhookDelivery): number {
  return a.position - b.position || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function page<T extends ListPosition>(items: T[], query: { cursor?: string; limit: number }): Page<T> {
  const after = query.cursor === undefined ? undefined : decodeListCursor(query.cursor);
  const limit = Math.max(0, Math.floor(query.limit));
  const matching = items.filter((item) => isAfter(item, after)).sort(newestFirst);
  const selected = matching.slice(0, limit);
  const last = selected.at(-1);
  return { items: selected.map((item) => structuredClone(item)), next: matching.length > limit && last ? encodeListCursor(last) : null };
}

/** Linear interpolation between the closest ranks, as Postgres's percentile_cont computes it. */
function percentile(values: number[], fraction: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = fraction * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  const below = sorted[lower] ?? 0;
  const above = sorted[upper] ?? below;
  return below + (above - below) * (rank - lower);
}
