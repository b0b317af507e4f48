import type { StoredEvent } from "../core/envelope";
import { eventMatcher } from "./event-filter";
import type { EventStore } from "./event-store";

export interface LogTailOptions {
  store: EventStore;
  /** How often to look for appends this process was not told about (other processes' appends). */
  pollIntervalMs: number;
  /** Events per read, for the shared head reader and for each listener's catch-up. */
  batchSize?: number;
  /** Failed reads (retried on the next wake or poll) and listeners that threw (they are closed). */
  onError?: (error: unknown) => void;
}

export interface TailFilter {
  /** Deliver events with position > after. */
  after: number;
  types?: string[];
  subject?: string;
}

export interface TailWait extends TailFilter {
  limit: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

interface Listener {
  readonly filter: TailFilter;
  readonly matches: (event: StoredEvent) => boolean;
  readonly onEvent: (event: StoredEvent) => void;
  readonly pageSize: number;
  /** Last position handed over (or scanned past): nothing at or below it is delivered again. */
  cursor: number;
  closed: boolean;
  onLive?: () => void;
  /** Replaces the default (report and retry) for a failed catch-up read. */
  onReadError?: (error: unknown) => void;
}

/**
 * One reader per process following the head of the global log, fanning out to any number of
 * listeners (SSE connections, long polls). A new listener first catches up from its `after` with
 * its own filtered reads, then joins the live set once its cursor has reached the shared reader's
 * position; from then on the shared reader's pages feed it. Each listener keeps a cursor and is
 * only handed events above it, so the switch neither skips nor repeats an event.
 *
 * The shared reader wakes on the store's `onAppended` and polls every `pollIntervalMs` (appends of
 * other processes may arrive unannounced). With no live listener it only tracks the head.
 */
export class LogTail {
  readonly #store: EventStore;
  readonly #pollIntervalMs: number;
  readonly #batchSize: number;
  readonly #onError: (error: unknown) => void;
  readonly #live = new Set<Listener>();
  /** Every event up to here has been offered to the live listeners. */
  #position = 0;
  #started: Promise<void> | undefined;
  #reading = false;
  #readAgain = false;
  #closed = false;
  #poll: ReturnType<typeof setInterval> | undefined;
  #stopWaking: (() => void) | undefined;

  constructor(options: LogTailOptions) {
    this.#store = options.store;
    this.#pollIntervalMs = options.pollIntervalMs;
    this.#batchSize = options.batchSize ?? 500;
    this.#onError = options.onError ?? ((error) => console.error("log tail failed", error));
  }

  /** Delivers matching events after `filter.after`, past and future, in position order, until closed. */
  subscribe(filter: TailFilter, onEvent: (event: StoredEvent) => void): { close(): void } {
    const listener = this.#open(filter, onEvent, { pageSize: this.#batchSize });
    return { close: () => this.#remove(listener) };
  }

  /**
   * Long poll: resolves as soon as at least one matching event after `after` exists (with the others
   * that arrived in the same read, up to `limit`), or with no events and `next = after` once
   * `timeoutMs` has passed since the backlog was checked. Rejects if a read fails or `signal` aborts.
   */
  waitFor(wait: TailWait): Promise<{ events: StoredEvent[]; next: number }> {
    const { limit, timeoutMs, signal, ...filter } = wait;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const events: StoredEvent[] = [];
      let timer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#remove(listener);
        outcome();
      };
      const finish = () => settle(() => resolve({ events, next: events[events.length - 1]?.position ?? filter.after }));
      const onAbort = () => settle(() => reject(signal?.reason));
      const listener = this.#open(
        filter,
        (event) => {
          events.push(event);
          if (events.length >= limit) finish();
          // The rest of this read is handed over synchronously: let it join before answering.
          else if (events.length === 1) queueMicrotask(finish);
        },
        { pageSize: Math.min(limit, this.#batchSize) },
      );
      listener.onLive = () => {
        timer = setTimeout(finish, timeoutMs);
      };
      listener.onReadError = (error) => settle(() => reject(error));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Stops the shared reader and every listener. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#poll);
    this.#stopWaking?.();
    for (const listener of this.#live) listener.closed = true;
    this.#live.clear();
  }

  #open(filter: TailFilter, onEvent: (event: StoredEvent) => void, options: { pageSize: number }): Listener {
    if (this.#closed) throw new Error("the log tail is closed");
    const listener: Listener = {
      filter,
      matches: eventMatcher(filter),
      onEvent,
      pageSize: options.pageSize,
      cursor: filter.after,
      closed: false,
    };
    void this.#catchUp(listener);
    return listener;
  }

  #remove(listener: Listener): void {
    listener.closed = true;
    this.#live.delete(listener);
  }

  async #catchUp(listener: Listener): Promise<void> {
    while (!listener.closed) {
      try {
        await this.#start();
        // No await between this check and joining: the shared reader cannot move in between.
        if (listener.cursor >= this.#position) {
          this.#live.add(listener);
          listener.onLive?.();
          return;
        }
        const { types, subject } = listener.filter;
        const page = await this.#store.readAll({ after: listener.cursor, types, subject, limit: listener.pageSize });
        for (const event of page.events) this.#deliver(listener, event);
        listener.cursor = Math.max(listener.cursor, page.lastPosition);
      } catch (error) {
        if (listener.onReadError) {
          listener.onReadError(error);
          return;
        }
        this.#onError(error);
        await new Promise((resolve) => setTimeout(resolve, this.#pollIntervalMs));
      }
    }
  }

  #start(): Promise<void> {
    this.#started ??= (async () => {
      this.#position = await this.#store.headPosition();
      if (this.#closed) return;
      this.#stopWaking = this.#store.onAppended((head) => {
        if (head > this.#position) this.#wake();
      });
      this.#poll = setInterval(() => this.#wake(), this.#pollIntervalMs);
    })().catch((error: unknown) => {
      this.#started = undefined;
      throw error;
    });
    return this.#started;
  }

  #wake(): void {
    if (this.#closed) return;
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    void this.#follow();
  }

  /** The shared reader: one read per page feeds every live listener. */
  async #follow(): Promise<void> {
    this.#reading = true;
    try {
      do {
        this.#readAgain = false;
        if (this.#live.size === 0) {
          const head = await this.#store.headPosition();
          // Skipping ahead is safe only if nobody joined while the head was read.
          if (this.#live.size === 0) {
            this.#position = Math.max(this.#position, head);
            continue;
          }
        }
        const page = await this.#store.readAll({ after: this.#position, limit: this.#batchSize });
        for (const event of page.events) {
          for (const listener of this.#live) {
            if (event.position > listener.cursor && listener.matches(event)) this.#deliver(listener, event);
          }
        }
        this.#position = Math.max(this.#position, page.lastPosition);
        if (page.events.length === this.#batchSize) this.#readAgain = true;
      } while (this.#readAgain && !this.#closed);
    } catch (error) {
      this.#onError(error);
    } finally {
      this.#reading = false;
    }
  }

  #deliver(listener: Listener, event: StoredEvent): void {
    if (listener.closed) return;
    listener.cursor = event.position;
    try {
      listener.onEvent(event);
    } catch (error) {
      this.#remove(listener);
      this.#onError(error);
    }
  }
}
