import type { AppendOutcome, EventStore, IdempotencyClaim, StreamAppend } from "./event-store";

/** The one call a publisher makes to the store. */
export type Appender = Pick<EventStore, "append">;

interface Pending {
  appends: StreamAppend[];
  eventIds: string[];
  eventCount: number;
  resolve(outcome: AppendOutcome): void;
  reject(error: unknown): void;
}

/**
 * Group commit for the event store. Appends take the log head one transaction at a time (that is
 * what makes positions gap-free and commit-ordered), so N concurrent single-event appends cost N
 * commits in a row. Here, while one append is in flight, unconditional appends (every stream
 * `expectedVersion: "any"`, no idempotency claim) wait and then go out together as ONE append:
 * the first caller pays no extra latency, and under load each commit carries many events.
 *
 * Appends that can fail on their own (a version check, an idempotency claim) are never merged,
 * so one caller's conflict cannot fail another's events. If a merged append throws (one caller's
 * malformed input), each caller's append is retried alone so only the bad one fails.
 */
export class GroupCommitAppender implements Appender {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(
    private readonly store: Appender,
    private readonly maxEventsPerCommit = 1000,
  ) {}

  append(appends: StreamAppend[], options: { idempotency?: IdempotencyClaim } = {}): Promise<AppendOutcome> {
    if (options.idempotency || appends.some((append) => append.expectedVersion !== "any")) {
      return this.store.append(appends, options);
    }
    return new Promise((resolve, reject) => {
      const eventIds = appends.flatMap((append) => append.events.map((event) => event.id.toLowerCase()));
      this.queue.push({ appends, eventIds, eventCount: eventIds.length, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const group = this.takeGroup();
        await this.commit(group);
      }
    } finally {
      this.flushing = false;
    }
  }

  /** The longest queue prefix within the size limit whose event ids are distinct. */
  private takeGroup(): Pending[] {
    const group: Pending[] = [];
    const ids = new Set<string>();
    let events = 0;
    for (const pending of this.queue) {
      const fits = group.length === 0 || events + pending.eventCount <= this.maxEventsPerCommit;
      if (!fits || pending.eventIds.some((id) => ids.has(id))) break;
      group.push(pending);
      events += pending.eventCount;
      for (const id of pending.eventIds) ids.add(id);
    }
    this.queue.splice(0, group.length);
    return group;
  }

  private async commit(group: Pending[]): Promise<void> {
    if (group.length === 1) {
      const [only] = group as [Pending];
      await this.store.append(only.appends).then(only.resolve, only.reject);
      return;
    }
    let outcome: AppendOutcome;
    try {
      outcome = await this.store.append(mergeByStream(group.flatMap((pending) => pending.appends)));
    } catch {
      for (const pending of group) await this.store.append(pending.appends).then(pending.resolve, pending.reject);
      return;
    }
    if (outcome.status !== "appended") {
      // Unconditional appends without a claim cannot conflict or replay; if a store ever answers
      // so, each caller gets its own answer rather than a share of someone else's.
      for (const pending of group) await this.store.append(pending.appends).then(pending.resolve, pending.reject);
      return;
    }
    const byId = new Map(outcome.events.map((event) => [event.id, event]));
    for (const pending of group) {
      pending.resolve({ status: "appended", events: pending.eventIds.map((id) => byId.get(id)!) });
    }
  }
}

/** A store takes each stream once per append: events of one stream are concatenated in order. */
export function mergeByStream(appends: StreamAppend[]): StreamAppend[] {
  const merged = new Map<string, StreamAppend>();
  for (const append of appends) {
    const existing = merged.get(append.streamId);
    if (existing) existing.events.push(...append.events);
    else merged.set(append.streamId, { streamId: append.streamId, expectedVersion: "any", events: [...append.events] });
  }
  return [...merged.values()];
}
