import type { Clock } from "../core/clock";
import type { EventDraft } from "../core/envelope";
import { DISPATCHER_ACTOR, endpointEvent } from "./endpoint-events";
import { WEBHOOK_EVENT_TYPES } from "./events";
import { WebhookEndpointConflictError, type WebhookDisabledReason, type WebhookEndpoint, type WebhookStore } from "./webhook-store";

/**
 * What delivery outcomes do to an endpoint: `failingSince` set by the first failure of a run and
 * cleared by a success; the endpoint disabled when the receiver answered 410 (`gone`), or when it
 * failed again after failing continuously for `autoDisableAfterMs` (`failing`), with a
 * `webhook.endpoint.disabled` event (actor: the dispatcher) so people can be told.
 *
 * Writes happen only on a change of state, one at a time per endpoint, each on a fresh read with
 * the endpoint's version (a change made meanwhile, in any process, is re-read, never overwritten).
 */
/** Tries of one write when the endpoint keeps changing under it. */
const WRITE_TRIES = 5;

type Target = { kind: "failing"; at: string } | { kind: "healthy" } | { kind: "disable"; reason: Exclude<WebhookDisabledReason, "manual">; detail: string };

export interface EndpointHealthOptions {
  store: Pick<WebhookStore, "getEndpoint" | "updateEndpoint">;
  events: { publish(drafts: EventDraft[]): Promise<unknown> };
  clock: Clock;
  autoDisableAfterMs: number;
  /** An endpoint was written (the routing table should reload). */
  changed(endpointId: string): void;
  report(error: unknown, endpointId: string): void;
}

export class EndpointHealth {
  readonly #options: EndpointHealthOptions;
  /** What this process last wrote (newer than the routing table's copy until it reloads). */
  readonly #written = new Map<string, { version: number; failingSince: string | null }>();
  /** The write running per endpoint (one at a time). */
  readonly #writes = new Map<string, Promise<void>>();
  /** The state to write next per endpoint: only the latest is kept, so a flapping endpoint costs one write in flight and one waiting. */
  readonly #next = new Map<string, Target>();

  constructor(options: EndpointHealthOptions) {
    this.#options = options;
  }

  succeeded(endpoint: WebhookEndpoint): void {
    if (this.#failingSince(endpoint) !== null) this.#queue(endpoint.id, { kind: "healthy" });
  }

  failed(endpoint: WebhookEndpoint, at: number): void {
    const failingSince = this.#failingSince(endpoint);
    if (failingSince === null) {
      this.#queue(endpoint.id, { kind: "failing", at: new Date(at).toISOString() });
    } else if (at - Date.parse(failingSince) >= this.#options.autoDisableAfterMs) {
      this.#queue(endpoint.id, { kind: "disable", reason: "failing", detail: `failing continuously since ${failingSince}` });
    }
  }

  gone(endpoint: WebhookEndpoint, detail: string): void {
    this.#queue(endpoint.id, { kind: "disable", reason: "gone", detail });
  }

  /** Resolves once every queued write is done. */
  async settled(): Promise<void> {
    while (this.#writes.size > 0) await Promise.all(this.#writes.values());
  }

  #failingSince(endpoint: WebhookEndpoint): string | null {
    const written = this.#written.get(endpoint.id);
    return written && written.version > endpoint.version ? written.failingSince : endpoint.failingSince;
  }

  #queue(endpointId: string, target: Target): void {
    // Disabling outranks whatever came after it: the endpoint is going off either way.
    if (this.#next.get(endpointId)?.kind !== "disable") this.#next.set(endpointId, target);
    this.#startWriting(endpointId);
  }

  #startWriting(endpointId: string): void {
    if (this.#writes.has(endpointId) || !this.#next.has(endpointId)) return;
    const writes = this.#drain(endpointId).finally(() => {
      this.#writes.delete(endpointId);
      // Queued between the drain's last look and now.
      this.#startWriting(endpointId);
    });
    this.#writes.set(endpointId, writes);
  }

  async #drain(endpointId: string): Promise<void> {
    for (let target = this.#next.get(endpointId); target !== undefined; target = this.#next.get(endpointId)) {
      this.#next.delete(endpointId);
      try {
        await this.#write(endpointId, target);
      } catch (error) {
        this.#options.report(error, endpointId);
      }
    }
  }

  async #write(endpointId: string, target: Target): Promise<void> {
    const { store, clock } = this.#options;
    for (let tries = 1; ; tries++) {
      const current = await store.getEndpoint(endpointId);
      // Deleted, or disabled meanwhile: nothing left to record.
      if (!current || current.status === "disabled") return;
      const next = apply(current, target, new Date(clock.now()).toISOString());
      if (!next) return;
      try {
        const saved = await store.updateEndpoint(next);
        this.#written.set(endpointId, { version: saved.version, failingSince: saved.failingSince });
        this.#options.changed(endpointId);
        if (target.kind === "disable") await this.#announce(saved, target);
        return;
      } catch (error) {
        if (!(error instanceof WebhookEndpointConflictError) || tries >= WRITE_TRIES) throw error;
      }
    }
  }

  async #announce(endpoint: WebhookEndpoint, target: Extract<Target, { kind: "disable" }>): Promise<void> {
    await this.#options.events.publish([
      endpointEvent(WEBHOOK_EVENT_TYPES.disabled, endpoint, { actor: DISPATCHER_ACTOR, reason: target.reason, detail: target.detail, failingSince: endpoint.failingSince }),
    ]);
  }
}

/** The endpoint after the change, or undefined when it is already so. */
function apply(endpoint: WebhookEndpoint, target: Target, now: string): WebhookEndpoint | undefined {
  switch (target.kind) {
    case "failing":
      return endpoint.failingSince === null ? { ...endpoint, failingSince: target.at, updatedAt: now } : undefined;
    case "healthy":
      return endpoint.failingSince === null ? undefined : { ...endpoint, failingSince: null, updatedAt: now };
    case "disable":
      return { ...endpoint, status: "disabled", disabledReason: target.reason, disabledAt: now, updatedAt: now };
  }
}
