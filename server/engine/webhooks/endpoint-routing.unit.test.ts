import { describe, expect, it } from "vitest";
import { FakeClock } from "../core/clock";
import { EndpointRouting } from "./endpoint-routing";
import { InMemoryWebhookStore } from "./memory-webhook-store";
import { endpointRecord } from "./webhook.fixtures";
import type { WebhookEndpoint } from "./webhook-store";

/**
 * The routing table's reloads. The case that matters: an endpoint created in this process while a
 * reload (started by the poller) is reading the store must be in the table the next event is
 * matched against, or that event gets no delivery at all.
 */
describe("EndpointRouting", () => {
  it("an invalidate during a reload in flight makes the waiting refresh reload again, so it sees the new endpoint", async () => {
    const store = new InMemoryWebhookStore();
    let releaseRead!: () => void;
    let gated = true;
    // allEndpoints of the first reload waits until the test lets it finish (after the create).
    const gatedStore = {
      endpointsRevision: () => store.endpointsRevision(),
      allEndpoints: async (): Promise<WebhookEndpoint[]> => {
        const snapshot = await store.allEndpoints();
        if (!gated) return snapshot;
        gated = false;
        await new Promise<void>((resolve) => (releaseRead = resolve));
        return snapshot;
      },
    };
    const routing = new EndpointRouting({ store: gatedStore, clock: new FakeClock(), report: () => undefined });

    const pollerReload = routing.refresh();
    await new Promise((resolve) => setImmediate(resolve));
    const created = await store.createEndpoint(endpointRecord({ eventTypes: ["exam.*"] }));
    routing.invalidate();
    const eventsRefresh = routing.refresh();
    releaseRead();
    await pollerReload;
    await eventsRefresh;

    expect(routing.get(created.id)?.endpoint.id).toBe(created.id);
  });

  it("a refresh without an invalidate shares the reload in flight", async () => {
    const store = new InMemoryWebhookStore();
    let reads = 0;
    const countingStore = {
      endpointsRevision: () => store.endpointsRevision(),
      allEndpoints: () => {
        reads += 1;
        return store.allEndpoints();
      },
    };
    const routing = new EndpointRouting({ store: countingStore, clock: new FakeClock(), report: () => undefined });

    await Promise.all([routing.refresh(), routing.refresh(), routing.refresh()]);

    expect(reads).toBe(1);
  });

  it("current() sees an endpoint another process created a moment ago, though the check interval has not passed", async () => {
    const store = new InMemoryWebhookStore();
    const routing = new EndpointRouting({ store, clock: new FakeClock(), report: () => undefined });
    await routing.current();
    // No invalidate: the create happened elsewhere, only the store knows.
    const created = await store.createEndpoint(endpointRecord({ eventTypes: ["exam.*"] }));
    expect(await routing.refresh()).toBe(false);
    expect(routing.get(created.id)).toBeUndefined();

    await routing.current();

    expect(routing.get(created.id)?.endpoint.id).toBe(created.id);
  });

  it("current() callers that arrive together share one revision check; one arriving during a check waits for the next", async () => {
    const store = new InMemoryWebhookStore();
    let checks = 0;
    let releaseCheck: (() => void) | undefined;
    const countingStore = {
      endpointsRevision: async () => {
        checks += 1;
        if (checks === 1) await new Promise<void>((resolve) => (releaseCheck = resolve));
        return store.endpointsRevision();
      },
      allEndpoints: () => store.allEndpoints(),
    };
    const routing = new EndpointRouting({ store: countingStore, clock: new FakeClock(), report: () => undefined });

    const first = routing.current();
    await new Promise((resolve) => setImmediate(resolve));
    // Arrives while the first check is in flight: that check began before it, so it cannot count.
    const created = await store.createEndpoint(endpointRecord({ eventTypes: ["exam.*"] }));
    const late = [routing.current(), routing.current(), routing.current()];
    releaseCheck?.();
    await first;
    await Promise.all(late);

    expect(checks).toBe(2);
    expect(routing.get(created.id)?.endpoint.id).toBe(created.id);
  });
});
