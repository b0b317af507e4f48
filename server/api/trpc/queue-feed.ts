import type { SubscriptionFigures, SubscriptionRegistry } from "@/server/runtime/subscriptions";

/**
 * The live figures behind the Queues page: one sampler per process reads every subscription's
 * figures once a second while at least one dashboard watches, and keeps the last minute of rates
 * for the sparklines. Every watcher shares the samples, so ten open tabs cost one read a second.
 */
export const SAMPLE_INTERVAL_MS = 1_000;
const HISTORY_MS = 60_000;

export interface QueueSample {
  at: number;
  figures: SubscriptionFigures[];
}

export interface QueueSnapshot {
  at: number;
  items: Array<SubscriptionFigures & { history: Array<{ at: number; ratePerSecond: number; processed: number }> }>;
}

export class QueueFeed {
  private samples: QueueSample[] = [];
  private readonly listeners = new Set<() => void>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly registry: Pick<SubscriptionRegistry, "figures">,
    private readonly now: () => number = Date.now,
  ) {}

  /** Watch the samples; the sampler runs while anyone watches. */
  watch(listener: () => void): () => void {
    this.listeners.add(listener);
    if (!this.timer) {
      this.timer = setInterval(() => void this.sample(), SAMPLE_INTERVAL_MS);
      this.timer.unref?.();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** Takes a sample now (one at a time; concurrent callers share it). */
  sample(): Promise<void> {
    this.sampling ??= (async () => {
      try {
        const figures = await this.registry.figures();
        const at = this.now();
        this.samples.push({ at, figures });
        const oldest = at - HISTORY_MS;
        while (this.samples.length > 0 && this.samples[0]!.at < oldest) this.samples.shift();
      } finally {
        this.sampling = undefined;
      }
      for (const listener of this.listeners) listener();
    })();
    return this.sampling;
  }

  /** The latest figures with the last minute of rates per subscription; samples first if there is none. */
  async snapshot(): Promise<QueueSnapshot> {
    if (this.samples.length === 0) await this.sample();
    const latest = this.samples.at(-1)!;
    return {
      at: latest.at,
      items: latest.figures.map((figures) => ({
        ...figures,
        history: this.samples.flatMap((sample) => {
          const match = sample.figures.find((item) => item.name === figures.name);
          return match ? [{ at: sample.at, ratePerSecond: match.ratePerSecond, processed: match.processed }] : [];
        }),
      })),
    };
  }
}

const FEEDS_KEY = Symbol.for("eventloom.trpc.queueFeeds");
type Slot = { [FEEDS_KEY]?: WeakMap<object, QueueFeed> };

/** The process's feed for a registry (route bundles share it through globalThis). */
export function queueFeedFor(registry: Pick<SubscriptionRegistry, "figures">): QueueFeed {
  const slot = globalThis as Slot;
  const feeds = (slot[FEEDS_KEY] ??= new WeakMap());
  let feed = feeds.get(registry);
  if (!feed) {
    feed = new QueueFeed(registry);
    feeds.set(registry, feed);
  }
  return feed;
}

/**
 * Yields a snapshot at once, then one every `intervalMs` (rounded to the sampler's ticks) until
 * `signal` aborts.
 */
export async function* watchQueues(feed: QueueFeed, intervalMs: number, signal: AbortSignal | undefined): AsyncGenerator<QueueSnapshot> {
  let wake: (() => void) | undefined;
  let ticks = 0;
  const stop = feed.watch(() => {
    ticks += 1;
    wake?.();
  });
  const aborted = () => wake?.();
  signal?.addEventListener("abort", aborted);
  try {
    yield await feed.snapshot();
    const every = Math.max(1, Math.round(intervalMs / SAMPLE_INTERVAL_MS));
    let seen = 0;
    while (!signal?.aborted) {
      if (ticks - seen < every) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      seen = ticks;
      yield await feed.snapshot();
    }
  } finally {
    signal?.removeEventListener("abort", aborted);
    stop();
  }
}
