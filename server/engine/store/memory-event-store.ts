import { systemClock, type Clock } from "../core/clock";
import type { StoredEvent } from "../core/envelope";
import { expectedVersionMet, prepareAppend, toStoredEvent } from "./append-input";
import { AppendNotifier } from "./append-notifier";
import { checkLimit, eventMatcher, scannedUpTo } from "./event-filter";
import type {
  AppendedEvent,
  AppendOutcome,
  CheckpointStore,
  EventStore,
  IdempotencyClaim,
  ReadAllFilter,
  ReadAllPage,
  ReadStreamOptions,
  StreamAppend,
} from "./event-store";

/**
 * EventStore in process memory, for unit tests and demos. It keeps the Postgres store's semantics
 * (the shared contract suite runs against both); atomicity comes from doing every check before the
 * first write with no `await` in between.
 */
export class InMemoryEventStore implements EventStore {
  /** Index i holds position i + 1. */
  readonly #log: StoredEvent[] = [];
  readonly #byId = new Map<string, StoredEvent>();
  readonly #streams = new Map<string, StoredEvent[]>();
  readonly #idempotency = new Map<string, { fingerprint: string; eventIds: string[] }>();
  readonly #notifier = new AppendNotifier();
  readonly checkpoints: CheckpointStore;

  constructor(options: { clock?: Clock } = {}) {
    this.checkpoints = new InMemoryCheckpointStore(options.clock ?? systemClock);
  }

  async lookupIdempotency(claim: IdempotencyClaim): Promise<Extract<AppendOutcome, { status: "replayed" | "idempotency_mismatch" }> | undefined> {
    return this.#claimed(claim);
  }

  /** Synchronous, so that append checks the claim with no await before its writes. */
  #claimed(claim: IdempotencyClaim): Extract<AppendOutcome, { status: "replayed" | "idempotency_mismatch" }> | undefined {
    const prior = this.#idempotency.get(claim.key);
    if (!prior) return undefined;
    if (prior.fingerprint !== claim.fingerprint) return { status: "idempotency_mismatch", key: claim.key };
    return { status: "replayed", events: prior.eventIds.map((id) => copy(this.#stored(id))) };
  }

  async append(appends: StreamAppend[], options: { idempotency?: IdempotencyClaim } = {}): Promise<AppendOutcome> {
    const prepared = prepareAppend(appends);
    const claim = options.idempotency;
    const prior = claim && this.#claimed(claim);
    if (prior) return prior;

    for (const { streamId, expectedVersion, events } of prepared) {
      // A retry whose events are all stored already gets them back, not a conflict with itself.
      const isRetry = events.length > 0 && events.every((event) => this.#byId.has(event.id));
      const actual = this.#streams.get(streamId)?.length ?? 0;
      if (!isRetry && !expectedVersionMet(expectedVersion, actual)) {
        return { status: "conflict", streamId, expected: expectedVersion, actual };
      }
    }

    const results: AppendedEvent[] = [];
    for (const { streamId, events } of prepared) {
      for (const event of events) {
        const existing = this.#byId.get(event.id);
        if (existing) {
          results.push({ ...copy(existing), duplicate: true });
          continue;
        }
        const stream = this.#streams.get(streamId) ?? [];
        // A JSON round trip, as jsonb does: the caller's object is not shared with the store.
        const data: unknown = JSON.parse(JSON.stringify(event.data));
        const stored = toStoredEvent(
          { ...event, data },
          { position: this.#log.length + 1, streamid: streamId, streamversion: stream.length + 1 },
        );
        this.#log.push(stored);
        this.#byId.set(stored.id, stored);
        stream.push(stored);
        this.#streams.set(streamId, stream);
        results.push({ ...copy(stored), duplicate: false });
      }
    }
    if (claim) this.#idempotency.set(claim.key, { fingerprint: claim.fingerprint, eventIds: results.map((event) => event.id) });
    if (results.some((event) => !event.duplicate)) this.#notifier.notify(this.#log.length);
    return { status: "appended", events: results };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    if (options.limit !== undefined) checkLimit(options.limit);
    const stream = this.#streams.get(streamId) ?? [];
    const start = Math.max((options.fromVersion ?? 1) - 1, 0);
    const end = options.limit === undefined ? undefined : start + options.limit;
    return stream.slice(start, end).map(copy);
  }

  async streamVersion(streamId: string): Promise<number> {
    return this.#streams.get(streamId)?.length ?? 0;
  }

  async readAll(filter: ReadAllFilter): Promise<ReadAllPage> {
    checkLimit(filter.limit);
    const matches = eventMatcher(filter);
    const end = Math.min(this.#log.length, filter.toPosition ?? this.#log.length);
    const events: StoredEvent[] = [];
    for (let position = (filter.after ?? 0) + 1; position <= end; position++) {
      const event = this.#log[position - 1];
      if (event && matches(event)) {
        events.push(copy(event));
        if (events.length === filter.limit) return { events, lastPosition: position };
      }
    }
    return { events, lastPosition: scannedUpTo(filter, this.#log.length) };
  }

  async getById(id: string): Promise<StoredEvent | undefined> {
    const event = this.#byId.get(id.toLowerCase());
    return event && copy(event);
  }

  async headPosition(): Promise<number> {
    return this.#log.length;
  }

  onAppended(listener: (headPosition: number) => void): () => void {
    return this.#notifier.add(listener);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  #stored(id: string): StoredEvent {
    const event = this.#byId.get(id);
    if (!event) throw new Error(`idempotency record names event ${id}, which is not stored`);
    return event;
  }
}

/** Readers get their own copies, as they would from a database. */
function copy(event: StoredEvent): StoredEvent {
  return structuredClone(event);
}

class InMemoryCheckpointStore implements CheckpointStore {
  readonly #positions = new Map<string, { position: number; updatedAt: string }>();

  constructor(private readonly clock: Clock) {}

  async load(name: string): Promise<number> {
    return this.#positions.get(name)?.position ?? 0;
  }

  async store(name: string, position: number, expected: number): Promise<boolean> {
    if ((this.#positions.get(name)?.position ?? 0) !== expected) return false;
    this.#positions.set(name, { position, updatedAt: new Date(this.clock.now()).toISOString() });
    return true;
  }

  async list(): Promise<Array<{ name: string; position: number; updatedAt: string }>> {
    // Code-point order, like the Postgres store's `COLLATE "C"`: the same on every machine.
    return [...this.#positions]
      .map(([name, entry]) => ({ name, ...entry }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
