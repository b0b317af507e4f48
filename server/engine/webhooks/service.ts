import type { z } from "zod";
import { systemClock, type Clock } from "../core/clock";
import { buildEnvelope, type EventDraft, type StoredEvent } from "../core/envelope";
import { EngineError, NotFoundError, ValidationError, type FieldIssue } from "../core/errors";
import { toEventResource, type EventResource } from "../core/event-resource";
import { requiredFieldOptions, zodIssues } from "../core/field-issues";
import { isUuid, newId } from "../core/ids";
import type { Principal } from "../core/principal";
import type { EventTypeRegistry } from "../core/registry";
import { compileFilter, FilterExpressionError, type CompiledFilter } from "../routing/filter-expression";
import type { EventStore } from "../store/event-store";
import { validateWebhookUrl, type AllowList } from "./address-policy";
import type { WebhookDispatcher } from "./dispatcher";
import { actorOf, endpointEvent, WEBHOOK_EVENT_SOURCE } from "./endpoint-events";
import { createEndpointSchema, updateEndpointSchema, validateEventTypes } from "./endpoint-input";
import { WEBHOOK_EVENT_TYPES } from "./events";
import type { CreateEndpointInput, EndpointWithSecret, FilterPreview, UpdateEndpointInput, WebhookOperations } from "./ports";
import { generateWebhookSecret } from "./signing";
import {
  WebhookEndpointConflictError,
  type AttemptListQuery,
  type Page,
  type WebhookAttempt,
  type WebhookEndpoint,
  type WebhookEndpointStats,
  type WebhookStore,
} from "./webhook-store";

/**
 * Webhook management (what REST, tRPC and the dashboard call): validation (422 naming the field:
 * the input schemas, every address the URL resolves to under the SSRF rules, each type pattern
 * against the registry, the filter compiled), secrets (generated, rotated with a grace period),
 * enabling with the catch-up of skipped deliveries, test sends, resends, recovery, the filter
 * preview. Every change is recorded as a `webhook.endpoint.*` event with the acting principal.
 */

export const DEFAULT_ROTATION_GRACE_MS = 24 * 3_600_000;
/** A rotated-out secret signs for a week at most: longer is a second permanent secret. */
export const MAX_ROTATION_GRACE_MS = 7 * 24 * 3_600_000;
export const MAX_RECOVER = 10_000;
export const DEFAULT_PREVIEW_EVENTS = 50;
export const MAX_PREVIEW_EVENTS = 500;
/** Health figures cover this window. */
export const STATS_WINDOW_MS = 24 * 3_600_000;

/** The preview reads the log back in windows of this many positions, at most this many windows (every loop is bounded). */
const PREVIEW_WINDOW = 1_000;
const PREVIEW_MAX_WINDOWS = 20;
/** Tries of an endpoint write when the dispatcher (failure tracking) changed it meanwhile. */
const WRITE_TRIES = 5;

export interface WebhookServiceOptions {
  store: WebhookStore;
  dispatcher: Pick<WebhookDispatcher, "invalidateEndpoints" | "catchUp" | "deliverNow" | "sendTest">;
  registry: EventTypeRegistry;
  /** Recent events for the filter preview. */
  eventStore: Pick<EventStore, "readAll" | "headPosition">;
  /** The audit events (the EventPublisher). */
  publish(drafts: EventDraft[]): Promise<unknown>;
  allow: AllowList;
  /** Every address of a host (node:dns lookup, all: true). */
  resolve(host: string): Promise<string[]>;
  clock?: Clock;
}

type EndpointWithStats = WebhookEndpoint & { stats: WebhookEndpointStats };

export class WebhookService implements WebhookOperations {
  readonly #store: WebhookStore;
  readonly #dispatcher: WebhookServiceOptions["dispatcher"];
  readonly #registry: EventTypeRegistry;
  readonly #eventStore: WebhookServiceOptions["eventStore"];
  readonly #publish: WebhookServiceOptions["publish"];
  readonly #allow: AllowList;
  readonly #resolve: WebhookServiceOptions["resolve"];
  readonly #clock: Clock;

  constructor(options: WebhookServiceOptions) {
    this.#store = options.store;
    this.#dispatcher = options.dispatcher;
    this.#registry = options.registry;
    this.#eventStore = options.eventStore;
    this.#publish = options.publish;
    this.#allow = options.allow;
    this.#resolve = options.resolve;
    this.#clock = options.clock ?? systemClock;
  }

  async createEndpoint(input: CreateEndpointInput, principal: Principal): Promise<EndpointWithSecret> {
    const { id: requestedId, ...fields } = input;
    const idIssues: FieldIssue[] = requestedId === undefined || isUuid(requestedId) ? [] : [{ path: "id", message: "must be a UUID" }];
    const parsed = createEndpointSchema.safeParse(fields, requiredFieldOptions);
    const issues = [...idIssues, ...(await this.#inputIssues(fields, parsed))];
    if (!parsed.success || issues.length > 0) throw invalid("webhook endpoint", issues);

    const id = requestedId?.toLowerCase() ?? newId();
    // A repeated create (same Idempotency-Key, so the same id) answers with what the first made.
    const existing = requestedId === undefined ? undefined : await this.#store.getEndpoint(id);
    if (existing) return { endpoint: existing, secret: currentSecret(existing) };

    const body = parsed.data;
    const now = this.#nowIso();
    const secret = generateWebhookSecret();
    const endpoint = await this.#store.createEndpoint({
      id,
      url: body.url,
      description: body.description ?? "",
      eventTypes: body.eventTypes,
      filter: body.filter ?? null,
      headers: body.headers ?? {},
      rateLimitPerSecond: body.rateLimitPerSecond ?? null,
      orderedByKey: body.orderedByKey ?? false,
      status: body.disabled ? "disabled" : "enabled",
      disabledReason: body.disabled ? "manual" : null,
      disabledAt: body.disabled ? now : null,
      failingSince: null,
      secrets: [{ secret, createdAt: now, expiresAt: null }],
      createdBy: principal.id,
      createdAt: now,
      updatedAt: now,
      version: 0,
    });
    this.#dispatcher.invalidateEndpoints();
    await this.#publish([endpointEvent(WEBHOOK_EVENT_TYPES.created, endpoint, { actor: actorOf(principal), changes: Object.keys(body).sort() })]);
    return { endpoint, secret };
  }

  async listEndpoints(query: { cursor?: string; limit: number }): Promise<Page<EndpointWithStats>> {
    const page = await this.#store.listEndpoints(query);
    return { items: await this.#withStats(page.items), next: page.next };
  }

  async getEndpoint(id: string): Promise<EndpointWithStats> {
    const [endpoint] = await this.#withStats([await this.#existing(id)]);
    return endpoint!;
  }

  async updateEndpoint(id: string, input: UpdateEndpointInput, principal: Principal): Promise<WebhookEndpoint> {
    const parsed = updateEndpointSchema.safeParse(input, requiredFieldOptions);
    const issues = await this.#inputIssues(input, parsed);
    if (!parsed.success || issues.length > 0) throw invalid("webhook endpoint", issues);
    const { disabled, ...changes } = parsed.data;

    const { before, after } = await this.#change(id, (current) => {
      const next: WebhookEndpoint = { ...current };
      if (changes.url !== undefined) next.url = changes.url;
      if (changes.eventTypes !== undefined) next.eventTypes = changes.eventTypes;
      if (changes.description !== undefined) next.description = changes.description;
      if (changes.filter !== undefined) next.filter = changes.filter;
      if (changes.headers !== undefined) next.headers = changes.headers;
      if (changes.rateLimitPerSecond !== undefined) next.rateLimitPerSecond = changes.rateLimitPerSecond;
      if (changes.orderedByKey !== undefined) next.orderedByKey = changes.orderedByKey;
      return disabled === undefined ? next : withStatus(next, !disabled, this.#nowIso());
    });
    const changed = changedFields(before, after);
    if (changed.length > 0) await this.#announceChange(before, after, changed, principal);
    return after;
  }

  async deleteEndpoint(id: string, principal: Principal): Promise<void> {
    const endpoint = await this.#existing(id);
    if (!(await this.#store.deleteEndpoint(endpoint.id))) throw new NotFoundError(`No webhook endpoint with id ${id}`);
    this.#dispatcher.invalidateEndpoints();
    await this.#publish([endpointEvent(WEBHOOK_EVENT_TYPES.deleted, endpoint, { actor: actorOf(principal), changes: [] })]);
  }

  async setEnabled(id: string, enabled: boolean, principal: Principal): Promise<WebhookEndpoint> {
    const { before, after } = await this.#change(id, (current) => withStatus(current, enabled, this.#nowIso()));
    if (before.status !== after.status) await this.#announceChange(before, after, ["status"], principal);
    return after;
  }

  async rotateSecret(id: string, principal: Principal, graceMs = DEFAULT_ROTATION_GRACE_MS): Promise<EndpointWithSecret> {
    if (!(Number.isInteger(graceMs) && graceMs >= 0 && graceMs <= MAX_ROTATION_GRACE_MS)) {
      throw invalid("rotation", [{ path: "graceMs", message: `must be a whole number of milliseconds between 0 and ${MAX_ROTATION_GRACE_MS}` }]);
    }
    const secret = generateWebhookSecret();
    const { after } = await this.#change(id, (current) => {
      const now = this.#clock.now();
      const expiresAt = new Date(now + graceMs).toISOString();
      // The current secret signs on until the grace ends; secrets already past theirs are dropped.
      const kept = current.secrets
        .map((old) => (old.expiresAt === null ? { ...old, expiresAt } : old))
        .filter((old) => old.expiresAt !== null && Date.parse(old.expiresAt) > now);
      return { ...current, secrets: [{ secret, createdAt: new Date(now).toISOString(), expiresAt: null }, ...kept] };
    });
    await this.#publish([endpointEvent(WEBHOOK_EVENT_TYPES.secretRotated, after, { actor: actorOf(principal), changes: ["secrets"] })]);
    return { endpoint: after, secret };
  }

  async sendTest(id: string, input: { type?: string; data?: unknown }, _principal: Principal): Promise<WebhookAttempt> {
    const endpoint = await this.#existing(id);
    const type = input.type ?? WEBHOOK_EVENT_TYPES.test;
    const descriptor = this.#registry.get(type);
    if (!descriptor) throw invalid("test delivery", [{ path: "type", message: "is not a registered event type" }]);
    const data =
      type === WEBHOOK_EVENT_TYPES.test
        ? { endpointId: endpoint.id, message: "A test delivery from Eventloom", ...(isRecord(input.data) ? input.data : {}) }
        : (input.data ?? {});
    const envelope = buildEnvelope({ type, data, source: WEBHOOK_EVENT_SOURCE, subject: endpoint.id, schemaversion: descriptor.version }, () => this.#clock.now());
    // Not in the log: position 0; a fresh id (webhook-id) every time.
    const resource: EventResource = { ...envelope, position: 0 };
    return this.#dispatcher.sendTest(endpoint, resource);
  }

  listAttempts(query: AttemptListQuery): Promise<Page<WebhookAttempt>> {
    return this.#store.listAttempts(query);
  }

  async getAttempt(id: string): Promise<WebhookAttempt | undefined> {
    return isUuid(id) ? this.#store.getAttempt(id.toLowerCase()) : undefined;
  }

  async resend(attemptId: string, _principal: Principal): Promise<{ deliveryId: string }> {
    const attempt = await this.getAttempt(attemptId);
    if (!attempt) throw new NotFoundError(`No webhook attempt with id ${attemptId}`);
    if (attempt.trigger === "test") throw new EngineError("conflict", "A test delivery is not in the log and cannot be resent; send a new test");
    const delivery = await this.#store.requeue(attempt.deliveryId, this.#nowIso());
    if (!delivery) throw new NotFoundError(`The delivery of webhook attempt ${attemptId} no longer exists`);
    // Someone else may hold it right now: then the poller sends it once they let go.
    await this.#dispatcher.deliverNow(delivery.id);
    return { deliveryId: delivery.id };
  }

  async recover(id: string, since: string, _principal: Principal): Promise<{ recovered: number }> {
    const endpoint = await this.#existing(id);
    const sinceMs = Date.parse(since);
    if (Number.isNaN(sinceMs)) throw invalid("recover", [{ path: "since", message: "must be an RFC 3339 time" }]);
    if (sinceMs > this.#clock.now()) throw invalid("recover", [{ path: "since", message: "must not be in the future" }]);
    const recovered = await this.#store.recover(endpoint.id, { since: new Date(sinceMs).toISOString(), now: this.#nowIso(), limit: MAX_RECOVER });
    return { recovered };
  }

  async previewFilter(input: { filter: string; eventTypes: string[]; limit?: number }): Promise<FilterPreview> {
    const limit = input.limit ?? DEFAULT_PREVIEW_EVENTS;
    const issues: FieldIssue[] = [];
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_PREVIEW_EVENTS)) issues.push({ path: "limit", message: `must be a whole number between 1 and ${MAX_PREVIEW_EVENTS}` });
    if (input.eventTypes.length === 0) issues.push({ path: "eventTypes", message: "must name at least one event type pattern" });
    issues.push(...validateEventTypes(input.eventTypes, this.#registry));
    if (issues.length > 0) throw invalid("filter preview", issues);

    let filter: CompiledFilter | null = null;
    if (input.filter.trim() !== "") {
      try {
        filter = compileFilter(input.filter);
      } catch (error) {
        if (!(error instanceof FilterExpressionError)) throw error;
        return { error: error.message, matched: [], examined: 0 };
      }
    }
    const events = await this.#recentEvents(input.eventTypes, limit);
    const matched = events.filter((event) => filter === null || filter.matches(toEventResource(event, this.#registry)));
    return { error: null, matched: matched.map(({ id, type, time }) => ({ id, type, time })), examined: events.length };
  }

  // -------------------------------------------------------------------------------------------

  /** The last `limit` events of the types, newest first, read back from the head in windows. */
  async #recentEvents(types: string[], limit: number): Promise<StoredEvent[]> {
    const found: StoredEvent[] = [];
    let upTo = await this.#eventStore.headPosition();
    for (let window = 0; window < PREVIEW_MAX_WINDOWS && upTo > 0 && found.length < limit; window++) {
      const after = Math.max(0, upTo - PREVIEW_WINDOW);
      const page = await this.#eventStore.readAll({ after, toPosition: upTo, types, limit: PREVIEW_WINDOW });
      found.push(...page.events.reverse());
      upTo = after;
    }
    return found.slice(0, limit);
  }

  /**
   * The schema's issues, and what it cannot check for the fields it found well-formed: every
   * address the URL resolves to, each type pattern against the registry. All of them at once.
   */
  async #inputIssues(input: { url?: unknown; eventTypes?: unknown }, parsed: z.ZodSafeParseResult<unknown>): Promise<FieldIssue[]> {
    const issues = parsed.success ? [] : zodIssues(parsed.error);
    const wellFormed = (field: string) => !issues.some((issue) => issue.path === field || issue.path.startsWith(`${field}.`) || issue.path.startsWith(`${field}[`));
    const semantic: FieldIssue[] = [];
    if (typeof input.url === "string" && wellFormed("url")) semantic.push(...(await validateWebhookUrl(input.url, { allow: this.#allow, resolve: this.#resolve })));
    if (Array.isArray(input.eventTypes) && wellFormed("eventTypes")) semantic.push(...validateEventTypes(input.eventTypes as string[], this.#registry));
    return [...issues, ...semantic];
  }

  async #existing(id: string): Promise<WebhookEndpoint> {
    const endpoint = isUuid(id) ? await this.#store.getEndpoint(id.toLowerCase()) : undefined;
    if (!endpoint) throw new NotFoundError(`No webhook endpoint with id ${id}`);
    return endpoint;
  }

  /**
   * Applies `change` to the stored endpoint and writes it (nothing is written when it changes
   * nothing). The change is re-applied to a fresh read when the dispatcher wrote meanwhile
   * (its failure tracking), so an operator's edit is never refused for that.
   */
  async #change(id: string, change: (current: WebhookEndpoint) => WebhookEndpoint): Promise<{ before: WebhookEndpoint; after: WebhookEndpoint }> {
    for (let tries = 1; ; tries++) {
      const before = await this.#existing(id);
      const next = change(before);
      if (changedFields(before, next).length === 0) return { before, after: before };
      try {
        const after = await this.#store.updateEndpoint({ ...next, updatedAt: this.#nowIso() });
        this.#dispatcher.invalidateEndpoints();
        return { before, after };
      } catch (error) {
        if (!(error instanceof WebhookEndpointConflictError)) throw error;
        if (tries >= WRITE_TRIES) throw new EngineError("conflict", `Webhook endpoint ${id} kept changing; read it again`, { cause: error });
      }
    }
  }

  /** The audit events of a change: `updated` for settings, `enabled` / `disabled` for the status; an enabled endpoint catches up. */
  async #announceChange(before: WebhookEndpoint, after: WebhookEndpoint, changed: string[], principal: Principal): Promise<void> {
    const actor = actorOf(principal);
    const drafts: EventDraft[] = [];
    const settings = changed.filter((field) => !STATUS_FIELDS.has(field));
    if (settings.length > 0) drafts.push(endpointEvent(WEBHOOK_EVENT_TYPES.updated, after, { actor, changes: settings }));
    if (before.status !== after.status) {
      drafts.push(
        after.status === "enabled"
          ? endpointEvent(WEBHOOK_EVENT_TYPES.enabled, after, { actor, changes: ["status"] })
          : endpointEvent(WEBHOOK_EVENT_TYPES.disabled, after, { actor, reason: "manual", detail: `disabled by ${principal.name}`, failingSince: before.failingSince }),
      );
    }
    if (drafts.length > 0) await this.#publish(drafts);
    if (before.status !== "enabled" && after.status === "enabled") await this.#dispatcher.catchUp(after.id);
  }

  async #withStats(endpoints: WebhookEndpoint[]): Promise<EndpointWithStats[]> {
    if (endpoints.length === 0) return [];
    const since = new Date(this.#clock.now() - STATS_WINDOW_MS).toISOString();
    const stats = new Map((await this.#store.endpointStats({ since, endpointIds: endpoints.map((endpoint) => endpoint.id) })).map((entry) => [entry.endpointId, entry]));
    return endpoints.map((endpoint) => ({ ...endpoint, stats: stats.get(endpoint.id) ?? emptyStats(endpoint.id) }));
  }

  #nowIso(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}

/** Fields that follow the status: changing it is announced as enabled / disabled, not as an update. */
const STATUS_FIELDS = new Set(["status", "disabledReason", "disabledAt", "failingSince"]);
/** Fields an edit can change (bookkeeping such as updatedAt and version is not a change). */
const COMPARED_FIELDS = ["url", "description", "eventTypes", "filter", "headers", "rateLimitPerSecond", "orderedByKey", "status", "disabledReason", "disabledAt", "failingSince", "secrets"] as const;

function changedFields(before: WebhookEndpoint, after: WebhookEndpoint): string[] {
  return COMPARED_FIELDS.filter((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]));
}

/** Enabled: the run of failures starts afresh (the first failure must not disable it again at once). */
function withStatus(endpoint: WebhookEndpoint, enabled: boolean, now: string): WebhookEndpoint {
  if (enabled === (endpoint.status === "enabled")) return endpoint;
  return enabled
    ? { ...endpoint, status: "enabled", disabledReason: null, disabledAt: null, failingSince: null }
    : { ...endpoint, status: "disabled", disabledReason: "manual", disabledAt: now };
}

function currentSecret(endpoint: WebhookEndpoint): string {
  const current = endpoint.secrets.find((secret) => secret.expiresAt === null) ?? endpoint.secrets[0];
  if (!current) throw new Error(`webhook endpoint ${endpoint.id} has no secret`);
  return current.secret;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function emptyStats(endpointId: string): WebhookEndpointStats {
  return { endpointId, successRate: null, attempts: 0, lastStatus: null, lastAttemptAt: null, p95LatencyMs: null, pending: 0, skipped: 0, failed: 0 };
}

function invalid(what: string, issues: FieldIssue[]): ValidationError {
  const [first] = issues;
  return new ValidationError(issues.length === 1 && first ? `Invalid ${what}: ${first.path}: ${first.message}` : `${issues.length} invalid fields`, issues);
}
