import { z } from "zod";
import { FakeClock } from "../core/clock";
import type { Principal } from "../core/principal";
import type { EventDraft, StoredEvent } from "../core/envelope";
import { newId } from "../core/ids";
import { EventTypeRegistry } from "../core/registry";
import { GroupCommitAppender } from "../store/group-commit";
import { InMemoryEventStore } from "../store/memory-event-store";
import { EventPublisher } from "../store/publisher";
import { parseAllowList } from "./address-policy";
import { WebhookDispatcher, type WebhookDispatcherErrorInfo, type WebhookDispatcherOptions } from "./dispatcher";
import { registerWebhookEventTypes } from "./events";
import { InMemoryWebhookStore } from "./memory-webhook-store";
import type { WebhookDeferReason, WebhookFailureReason, WebhookMetrics } from "./metrics";
import { WebhookSendError, type WebhookRequest, type WebhookResponse, type WebhookSender } from "./ports";
import { WebhookService } from "./service";
import { generateWebhookSecret } from "./signing";
import type { WebhookAttemptStatus, WebhookEndpoint } from "./webhook-store";

/** Test doubles for the dispatcher's and the service's ports, and a harness wiring them. */

/**
 * What the fake receiver does with one request: answer (`status`), throw anything (`error`, as a
 * broken sender would), or wait until the test opens the URL's gate (`gated`) and then answer.
 */
export type FakeStep =
  | { status: number; headers?: Record<string, string>; body?: string; gated?: boolean }
  | { error: unknown; gated?: boolean };

export interface SentRequest extends WebhookRequest {
  /** Order in which requests started, across all URLs. */
  sequence: number;
  /** The fake clock when it started. */
  at: number;
}

/**
 * A WebhookSender scripted per URL: each URL answers with its steps in order, the last repeating
 * (default 200). `started` / `finished` record the order of events across URLs, so tests assert
 * "the fast endpoint finished while the slow one was still waiting" without real timing.
 */
export class FakeWebhookSender implements WebhookSender {
  readonly requests: SentRequest[] = [];
  /** `start <url> <webhook-id>` and `end <url> <webhook-id>` in the order they happened. */
  readonly timeline: string[] = [];
  readonly #scripts = new Map<string, (request: WebhookRequest, call: number) => FakeStep>();
  readonly #calls = new Map<string, number>();
  readonly #gates = new Map<string, { open: Promise<void>; release(): void }>();
  #sequence = 0;

  constructor(private readonly clock: FakeClock) {}

  script(url: string, steps: FakeStep[]): void {
    this.respondWith(url, (_request, call) => steps[Math.min(call, steps.length - 1)] ?? { status: 200 });
  }

  /** Decides per request (by its body, its webhook-id...); `call` counts the URL's requests from 0. */
  respondWith(url: string, respond: (request: WebhookRequest, call: number) => FakeStep): void {
    this.#scripts.set(url, respond);
    this.#calls.set(url, 0);
  }

  /** Lets every gated request of the URL (waiting and future) go on. */
  open(url: string): void {
    this.#gate(url).release();
  }

  to(url: string): SentRequest[] {
    return this.requests.filter((request) => request.url === url);
  }

  async send(request: WebhookRequest): Promise<WebhookResponse> {
    const call = this.#calls.get(request.url) ?? 0;
    this.#calls.set(request.url, call + 1);
    const step = this.#scripts.get(request.url)?.(request, call) ?? { status: 200 };
    const id = request.headers["webhook-id"];
    this.requests.push({ ...request, sequence: ++this.#sequence, at: this.clock.now() });
    this.timeline.push(`start ${request.url} ${id}`);
    try {
      if (step.gated) await this.#waitForGate(request);
      if ("error" in step) throw step.error;
      return { status: step.status, headers: step.headers ?? {}, body: step.body ?? "", truncated: false, durationMs: 3 };
    } finally {
      this.timeline.push(`end ${request.url} ${id}`);
    }
  }

  /** As the real sender does, an aborted signal ends the wait with WebhookSendError `aborted`. */
  async #waitForGate(request: WebhookRequest): Promise<void> {
    const { signal } = request;
    if (!signal) return this.#gate(request.url).open;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new WebhookSendError("aborted", "the request was aborted", 0));
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([this.#gate(request.url).open, aborted]);
    } finally {
      if (onAbort) signal.removeEventListener("abort", onAbort);
    }
  }

  #gate(url: string): { open: Promise<void>; release(): void } {
    let gate = this.#gates.get(url);
    if (!gate) {
      let release!: () => void;
      const open = new Promise<void>((resolve) => {
        release = resolve;
      });
      gate = { open, release };
      this.#gates.set(url, gate);
    }
    return gate;
  }
}

export class RecordingWebhookMetrics implements WebhookMetrics {
  readonly attempts: Array<{ outcome: WebhookAttemptStatus; reason: WebhookFailureReason | null; endpointId: string }> = [];
  readonly deferrals: Array<{ reason: WebhookDeferReason; endpointId: string }> = [];

  attempted(outcome: WebhookAttemptStatus, reason: WebhookFailureReason | null, _durationMs: number, endpointId: string): void {
    this.attempts.push({ outcome, reason, endpointId });
  }

  deferred(reason: WebhookDeferReason, endpointId: string): void {
    this.deferrals.push({ reason, endpointId });
  }
}

export const TEST_EVENT_TYPES = ["exam.created", "exam.graded", "grading.completed", "user.created"] as const;

/** An endpoint as the store keeps it, enabled, with one secret; override what the test needs. */
export function endpointRecord(overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  const now = "2026-01-01T00:00:00.000Z";
  return {
    id: newId(),
    url: `https://receiver.example/${newId()}`,
    description: "",
    eventTypes: ["*"],
    filter: null,
    headers: {},
    rateLimitPerSecond: null,
    orderedByKey: false,
    status: "enabled",
    disabledReason: null,
    disabledAt: null,
    failingSince: null,
    secrets: [{ secret: generateWebhookSecret(), createdAt: now, expiresAt: null }],
    createdBy: "test",
    createdAt: now,
    updatedAt: now,
    version: 0,
    ...overrides,
  };
}

export const TEST_PRINCIPAL: Principal = { kind: "user", id: "user-ada", name: "ada@example.com", scopes: ["webhooks:manage"] };

/** What the fake DNS knows: a public receiver and an internal host. Anything else does not resolve. */
export const TEST_HOSTS: Record<string, string[]> = {
  "receiver.example": ["93.184.216.34"],
  "internal.example": ["93.184.216.35", "10.0.0.5"],
};

/** Everything a dispatcher and a service run on, in memory, on a fake clock. */
export function webhookHarness(options: Partial<WebhookDispatcherOptions> = {}) {
  const clock = new FakeClock(Date.parse("2026-03-01T12:00:00.000Z"));
  const registry = new EventTypeRegistry({ clock });
  for (const type of TEST_EVENT_TYPES) registry.define({ type, version: 1, description: type, schema: z.object({}).catchall(z.unknown()) });
  registerWebhookEventTypes(registry);
  const eventStore = new InMemoryEventStore({ clock });
  /** Every event published (the audit trail and test events alike), in order. */
  const published: StoredEvent[] = [];
  const publisher = new EventPublisher(
    new GroupCommitAppender(eventStore),
    registry,
    { publishMany: (events) => (published.push(...events), { syncErrors: [] }) },
    () => {},
    () => clock.now(),
  );
  const store = new InMemoryWebhookStore();
  const sender = new FakeWebhookSender(clock);
  const metrics = new RecordingWebhookMetrics();
  const errors: WebhookDispatcherErrorInfo[] = [];
  const dispatcher = new WebhookDispatcher({
    store,
    sender,
    events: publisher,
    eventStore,
    registry,
    owner: "dispatcher-test",
    metrics,
    clock,
    random: () => 0.5,
    onError: (info) => errors.push(info),
    ...options,
  });
  const handler = dispatcher.subscription();
  const service = new WebhookService({
    store,
    dispatcher,
    registry,
    eventStore,
    publish: (drafts) => publisher.publish(drafts),
    allow: parseAllowList(""),
    resolve: async (host) => {
      const addresses = TEST_HOSTS[host];
      if (!addresses) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
      return addresses;
    },
    clock,
  });

  /** Publishes events and hands them to the dispatcher's subscription, as the transport would. */
  async function emit(...drafts: EventDraft[]): Promise<StoredEvent[]> {
    const outcome = await publisher.publish(drafts);
    if (outcome.status !== "accepted") throw new Error(`publish answered ${outcome.status}`);
    // As a transport hands them over: stored events, without the store's `duplicate` flag.
    const events = outcome.events.map(({ duplicate: _duplicate, ...event }) => event);
    for (const event of events) await handler.handle(event);
    return events;
  }

  async function addEndpoint(overrides: Partial<WebhookEndpoint> = {}): Promise<WebhookEndpoint> {
    const endpoint = await store.createEndpoint(endpointRecord(overrides));
    dispatcher.invalidateEndpoints();
    return endpoint;
  }

  return { clock, registry, eventStore, publisher, published, store, sender, metrics, errors, dispatcher, handler, service, emit, addEndpoint };
}
