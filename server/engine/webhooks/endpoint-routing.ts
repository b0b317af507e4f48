import type { Clock } from "../core/clock";
import { typeMatches } from "../core/envelope";
import type { EventResource } from "../core/event-resource";
import { compileFilter, type CompiledFilter } from "../routing/filter-expression";
import type { WebhookEndpoint, WebhookStore } from "./webhook-store";

/**
 * The dispatcher's routing table: every endpoint with its filter compiled once, reloaded when
 * `store.endpointsRevision()` moved and at once after `invalidate()` (a change made in this
 * process).
 *
 * Events are routed with `current()`: it waits for a revision check that began after the event
 * arrived. An endpoint created in another process just before an event was appended is therefore
 * never missed (its revision committed before the event did, so before the event could arrive).
 * Checks are shared: one runs at a time and covers every event that arrived before it began, so
 * under load it is one small query per batch of arrivals, not per event. The poller uses
 * `refresh()`, which looks at the revision at most once per `checkIntervalMs`.
 */
export interface RoutedEndpoint {
  endpoint: WebhookEndpoint;
  /** Null: every event of the endpoint's types. */
  filter: CompiledFilter | null;
}

export const ENDPOINTS_CHECK_INTERVAL_MS = 1_000;

export class EndpointRouting {
  readonly #store: Pick<WebhookStore, "allEndpoints" | "endpointsRevision">;
  readonly #clock: Clock;
  readonly #checkIntervalMs: number;
  readonly #report: (error: unknown, endpointId: string) => void;
  #routes = new Map<string, RoutedEndpoint>();
  /** Compiled filters by expression, kept across reloads (most reloads change no filter). */
  #compiled = new Map<string, CompiledFilter>();
  #revision: number | undefined;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #stale = true;
  #refreshing: Promise<boolean> | undefined;
  /** Events that asked for a current table, counted. */
  #arrivals = 0;
  /** Arrivals that a completed check began after. */
  #coveredArrivals = 0;

  constructor(options: {
    store: Pick<WebhookStore, "allEndpoints" | "endpointsRevision">;
    clock: Clock;
    checkIntervalMs?: number;
    /** A stored filter that no longer compiles (it was valid when saved): the endpoint matches nothing. */
    report: (error: unknown, endpointId: string) => void;
  }) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#checkIntervalMs = options.checkIntervalMs ?? ENDPOINTS_CHECK_INTERVAL_MS;
    this.#report = options.report;
  }

  /** The next `refresh()` reloads whatever the revision says. */
  invalidate(): void {
    this.#stale = true;
  }

  /** Reloads when stale or when the revision moved (checked at most once per interval). True when it reloaded. */
  refresh(): Promise<boolean> {
    if (this.#refreshing) {
      if (!this.#stale) return this.#refreshing;
      // Invalidated after the reload in flight read the store (an endpoint created just now): that
      // reload may not have it, and the event waiting on this refresh must see it. Reload again.
      return this.#refreshing.then(
        () => this.refresh(),
        () => this.refresh(),
      );
    }
    if (!this.#stale && this.#clock.now() - this.#checkedAt < this.#checkIntervalMs) return Promise.resolve(false);
    return this.#startReload();
  }

  /** Resolves once a revision check that began after this call completed (see the class comment). */
  async current(): Promise<void> {
    const arrival = ++this.#arrivals;
    while (this.#coveredArrivals < arrival) {
      // A check in flight began before this arrival (or it would have covered it): wait it out, then start the next.
      if (this.#refreshing) await this.#refreshing.catch(() => undefined);
      else await this.#startReload();
    }
  }

  #startReload(): Promise<boolean> {
    const covers = this.#arrivals;
    this.#refreshing = this.#reload()
      .then((reloaded) => {
        this.#coveredArrivals = Math.max(this.#coveredArrivals, covers);
        return reloaded;
      })
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  get(endpointId: string): RoutedEndpoint | undefined {
    return this.#routes.get(endpointId);
  }

  all(): RoutedEndpoint[] {
    return [...this.#routes.values()];
  }

  /** Endpoints (enabled or not) whose types and filter take this event. */
  match(resource: EventResource): WebhookEndpoint[] {
    const matched: WebhookEndpoint[] = [];
    for (const { endpoint, filter } of this.#routes.values()) {
      if (!endpoint.eventTypes.some((pattern) => typeMatches(pattern, resource.type))) continue;
      if (filter && !filter.matches(resource)) continue;
      matched.push(endpoint);
    }
    return matched;
  }

  async #reload(): Promise<boolean> {
    const wasStale = this.#stale;
    this.#stale = false;
    this.#checkedAt = this.#clock.now();
    try {
      const revision = await this.#store.endpointsRevision();
      if (!wasStale && revision === this.#revision) return false;
      const endpoints = await this.#store.allEndpoints();
      const compiled = new Map<string, CompiledFilter>();
      const routes = new Map<string, RoutedEndpoint>();
      for (const endpoint of endpoints) routes.set(endpoint.id, { endpoint, filter: this.#filterOf(endpoint, compiled) });
      this.#routes = routes;
      this.#compiled = compiled;
      this.#revision = revision;
      return true;
    } catch (error) {
      // Try again on the next call rather than in a second.
      this.#stale = true;
      throw error;
    }
  }

  #filterOf(endpoint: WebhookEndpoint, compiled: Map<string, CompiledFilter>): CompiledFilter | null {
    const expression = endpoint.filter;
    if (expression === null || expression.trim() === "") return null;
    let filter = compiled.get(expression) ?? this.#compiled.get(expression);
    if (!filter) {
      try {
        filter = compileFilter(expression);
      } catch (error) {
        this.#report(error, endpoint.id);
        filter = { expression, matches: () => false };
      }
    }
    compiled.set(expression, filter);
    return filter;
  }
}
