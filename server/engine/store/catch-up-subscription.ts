import type { StoredEvent } from "../core/envelope";
import { EngineError } from "../core/errors";
import type { EventStore, ReadAllFilter } from "./event-store";

export interface CatchUpSubscriptionOptions {
  store: EventStore;
  /** The checkpoint's name. One running processor per name: the checkpoint's compare-and-set stops a second. */
  name: string;
  filter?: Pick<ReadAllFilter, "types" | "subject" | "correlationid">;
  batchSize: number;
  /** Must be idempotent: after a crash or a failed checkpoint write a batch is handed over again. */
  handle(events: StoredEvent[]): Promise<void>;
  /** How often to look for appends this process was not told about (other processes' appends). */
  pollIntervalMs: number;
  /**
   * Failed reads, handlers and checkpoint writes (`attempt` counts consecutive failures; the batch
   * is retried after a backoff), and the EngineError `conflict` that ends a subscription whose
   * checkpoint another processor moved.
   */
  onError?(error: unknown, attempt: number): void;
  /** Backoff between retries: doubles from `initialDelayMs` up to `maxDelayMs`. */
  retry?: { initialDelayMs: number; maxDelayMs: number };
}

export interface CatchUpSubscription {
  /** Position processed (and checkpointed) up to. */
  readonly position: number;
  /** Lets the batch in progress finish and its checkpoint be stored, then stops. */
  stop(): Promise<void>;
}

/**
 * Processes the global log from a stored checkpoint: reads a page after it, hands the page to
 * `handle`, and moves the checkpoint to the page's `lastPosition` only once `handle` succeeded
 * (at-least-once delivery). Wakes on the store's `onAppended` and also polls.
 */
export function startCatchUpSubscription(options: CatchUpSubscriptionOptions): CatchUpSubscription {
  const { store, name, batchSize, pollIntervalMs } = options;
  const retry = options.retry ?? { initialDelayMs: 100, maxDelayMs: 30_000 };
  const onError = options.onError ?? ((error: unknown) => console.error(`catch-up subscription ${name} failed`, error));
  let position = 0;
  let stopping = false;
  /** An append was announced while this loop was busy: do not go idle. */
  let appendPending = false;
  /** Ends the current pause early (stop always; an append only when idle, never during a backoff). */
  let interrupt: ((cause: "append" | "stop") => void) | undefined;

  const stopAppendWakes = store.onAppended(() => {
    appendPending = true;
    interrupt?.("append");
  });

  const pause = (ms: number, wakeOnAppend: boolean) =>
    new Promise<void>((resolve) => {
      if (stopping || (wakeOnAppend && appendPending)) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      interrupt = (cause) => {
        if (cause === "stop" || wakeOnAppend) done();
      };
      function done() {
        clearTimeout(timer);
        interrupt = undefined;
        resolve();
      }
    });

  const run = async () => {
    let loaded = false;
    let attempt = 0;
    while (!stopping) {
      try {
        if (!loaded) {
          position = await store.checkpoints.load(name);
          loaded = true;
        }
        appendPending = false;
        const page = await store.readAll({ ...options.filter, after: position, limit: batchSize });
        if (page.events.length > 0) await options.handle(page.events);
        // Stored even when the filter matched nothing, so a narrow subscription does not rescan.
        if (page.lastPosition !== position) {
          if (!(await store.checkpoints.store(name, page.lastPosition, position))) {
            onError(new EngineError("conflict", `checkpoint ${name} was moved by another processor: stopping`), 0);
            return;
          }
          position = page.lastPosition;
        }
        attempt = 0;
        if (page.events.length < batchSize) await pause(pollIntervalMs, true);
      } catch (error) {
        attempt += 1;
        onError(error, attempt);
        await pause(Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1)), false);
      }
    }
  };
  const running = run().finally(stopAppendWakes);

  return {
    get position() {
      return position;
    },
    async stop() {
      stopping = true;
      interrupt?.("stop");
      await running;
    },
  };
}
