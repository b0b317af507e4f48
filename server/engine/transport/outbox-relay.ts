import type { StoredEvent } from "../core/envelope";
import type { EventStore } from "../store/event-store";
import { startCatchUpSubscription, type CatchUpSubscription } from "../store/catch-up-subscription";
import { toWireMessage } from "./codec";
import type { TransportDriver } from "./driver";
import type { Lease } from "./lease";

export interface OutboxRelayOptions {
  store: EventStore;
  driver: Pick<TransportDriver, "publish">;
  /** The transport topic every event of the log is published to. */
  topic: string;
  lease: Lease;
  /** This process's name as lease holder. */
  owner: string;
  leaseTtlMs?: number;
  batchSize?: number;
  pollIntervalMs?: number;
  onError?(error: unknown, attempt: number): void;
}

export interface OutboxRelay {
  /** Whether this process holds the lease and is relaying. */
  readonly active: boolean;
  /** Position relayed (and checkpointed) up to, when active. */
  readonly position: number;
  stop(): Promise<void>;
}

/**
 * The transactional outbox, relayed: the event store's global log is the outbox (an event is
 * durable there before its publisher hears "accepted"), and this relay publishes it, in position
 * order, to the transport. One relay is active at a time across processes (a lease); it moves its
 * checkpoint (compare-and-set) only after the broker confirmed the batch, so a broker outage
 * leaves events in the log until the broker is back, and nothing is skipped.
 *
 * Delivery to the broker is at-least-once: if the relay dies after the broker confirmed a batch
 * and before the checkpoint moved, or its lease lapses mid-batch, the batch is published again.
 * Consumers' inboxes (keyed by event id) turn that into exactly one effect per event.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const leaseTtlMs = options.leaseTtlMs ?? 10_000;
  const leaseName = `outbox-relay:${options.topic}`;
  let subscription: CatchUpSubscription | undefined;
  let stopped = false;
  let ticking: Promise<void> = Promise.resolve();

  const relayBatch = async (events: StoredEvent[]) => {
    await options.driver.publish(options.topic, events.map(toWireMessage));
  };

  const tick = async () => {
    let held = false;
    try {
      held = await options.lease.tryAcquire(leaseName, options.owner, leaseTtlMs);
    } catch (error) {
      options.onError?.(error, 1);
    }
    if (stopped) return;
    if (held && !subscription) {
      subscription = startCatchUpSubscription({
        store: options.store,
        name: leaseName,
        batchSize: options.batchSize ?? 500,
        pollIntervalMs: options.pollIntervalMs ?? 250,
        handle: relayBatch,
        onError: options.onError,
      });
    } else if (!held && subscription) {
      // Another process holds the lease now (ours lapsed): stop before it relays in parallel.
      const lost = subscription;
      subscription = undefined;
      await lost.stop();
    }
  };

  ticking = tick();
  // Renew at a third of the TTL, so two missed renewals still leave the lease ours.
  const timer = setInterval(() => {
    ticking = ticking.then(tick);
  }, leaseTtlMs / 3);
  timer.unref?.();

  return {
    get active() {
      return subscription !== undefined;
    },
    get position() {
      return subscription?.position ?? 0;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await ticking;
      await subscription?.stop();
      subscription = undefined;
      await options.lease.release(leaseName, options.owner).catch(() => undefined);
    },
  };
}
