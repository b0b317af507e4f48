import type { StoredEvent } from "../core/envelope";
import type { EventStore, ReadAllFilter } from "../store/event-store";
import { REPLAY_ID_HEADER, toWireMessage } from "./codec";
import type { TransportDriver } from "./driver";

/**
 * Replays: events of the store's global log (the source of truth; brokers keep no history) put
 * into ONE subscription's input again, each delivery carrying the original event id plus
 * `ce_replayid`. The Subscriber processes a replayed delivery even when its inbox recorded the
 * event before (a replay is an explicit request to process again), once per replay.
 *
 * A replay is accepted by one process and run there in the background; its status lives in a
 * {@link ReplayStore} shared by every process, so any of them can report or cancel it. The runner
 * checks the stored status between batches, so a cancel from anywhere stops it within a batch.
 */

export const replayStatuses = ["queued", "running", "done", "failed", "cancelled"] as const;
export type ReplayStatus = (typeof replayStatuses)[number];

/** What is replayed: a fixed range of the log (resolved when the replay is accepted) and filters. */
export interface ReplayFilter {
  /** Exclusive lower position. */
  afterPosition: number;
  /** Inclusive upper position: the head when the replay was accepted, unless narrower. */
  toPosition: number;
  /** Type patterns (`exam.created`, `exam.*`); any matches. */
  types?: string[];
  subject?: string;
  /** Event time range, inclusive, RFC 3339. */
  from?: string;
  to?: string;
}

export interface ReplayTarget {
  subscription: string;
}

export interface Replay {
  id: string;
  target: ReplayTarget;
  filter: ReplayFilter;
  status: ReplayStatus;
  /** Events matched when accepted. */
  total: number;
  /** Events delivered so far. */
  done: number;
  /** Position the runner has delivered up to (its resume point). */
  position: number;
  ratePerSecond: number | null;
  error: string | null;
  createdBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

export interface NewReplay {
  id: string;
  target: ReplayTarget;
  filter: ReplayFilter;
  total: number;
  ratePerSecond: number | null;
  createdBy: string;
  /** Scoped Idempotency-Key and request fingerprint, when the client sent a key. */
  idempotency?: { key: string; fingerprint: string };
}

export type CreateReplayOutcome =
  | { status: "created"; replay: Replay }
  /** The idempotency key was used before with the same fingerprint: that replay. */
  | { status: "replayed"; replay: Replay }
  | { status: "idempotency_mismatch" };

export interface ReplayStore {
  create(replay: NewReplay): Promise<CreateReplayOutcome>;
  get(id: string): Promise<Replay | undefined>;
  /** Newest first. */
  list(limit: number): Promise<Replay[]>;
  /** queued -> running. False if it is not queued any more (cancelled meanwhile). */
  start(id: string): Promise<boolean>;
  /** Records progress (and that the runner is alive); returns the stored status, so the runner sees a cancel. */
  progress(id: string, done: number, position: number): Promise<ReplayStatus | undefined>;
  /** running -> done | failed (a cancelled replay stays cancelled). */
  finish(id: string, outcome: { status: "done" } | { status: "failed"; error: string }): Promise<void>;
  /** queued | running -> cancelled. The replay as stored afterwards, or undefined if unknown. */
  cancel(id: string): Promise<Replay | undefined>;
  /**
   * Marks as failed the queued or running replays whose runner has not reported for `staleAfterMs`
   * (its process died): they would otherwise read "running" forever.
   */
  failStale(staleAfterMs: number): Promise<number>;
}

/** The log read of a replay's filter, after `after`. */
export function replayReadFilter(filter: ReplayFilter, after: number, limit: number): ReadAllFilter {
  return {
    after,
    toPosition: filter.toPosition,
    types: filter.types && filter.types.length > 0 ? filter.types : undefined,
    subject: filter.subject,
    from: filter.from,
    to: filter.to,
    limit,
  };
}

/**
 * Counts the events a replay filter matches, reading the log page by page; stops at `max + 1`
 * (the caller refuses a replay larger than it allows).
 */
export async function countReplayEvents(store: Pick<EventStore, "readAll">, filter: ReplayFilter, max: number): Promise<number> {
  let count = 0;
  let after = filter.afterPosition;
  while (after < filter.toPosition && count <= max) {
    const page = await store.readAll(replayReadFilter(filter, after, 1000));
    count += page.events.filter((event) => event.position <= filter.toPosition).length;
    const reached = Math.max(page.lastPosition, page.events.at(-1)?.position ?? 0);
    if (reached <= after) break;
    after = reached;
  }
  return count;
}

/** The wire message of a replayed event: the original, plus the replay's id. */
export function replayedWireMessage(event: StoredEvent, replayId: string) {
  const message = toWireMessage(event);
  message.headers[REPLAY_ID_HEADER] = replayId;
  return message;
}

export interface RunReplayOptions {
  store: Pick<EventStore, "readAll">;
  driver: Pick<TransportDriver, "redeliver">;
  topic: string;
  replays: ReplayStore;
  replay: Pick<Replay, "id" | "target" | "filter" | "ratePerSecond">;
  /** Events read and delivered per batch (the status is checked between batches). Default 200. */
  batchSize?: number;
  /** Stops the runner between deliveries (the process is shutting down). */
  signal?: AbortSignal;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export type ReplayRunOutcome = "done" | "failed" | "cancelled" | "interrupted" | "not_started";

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs one replay to its end: marks it running, delivers the matching events of its range in log
 * order with `driver.redeliver` (paced at `ratePerSecond` when set), records progress after every
 * batch and stops when the stored status says cancelled. Never throws: a failure is stored.
 */
export async function runReplay(options: RunReplayOptions): Promise<ReplayRunOutcome> {
  const { store, driver, topic, replays, replay, signal } = options;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const rate = replay.ratePerSecond ?? undefined;
  // A batch is about a second of deliveries when paced, so a cancel takes effect within a second.
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 200, rate === undefined ? Number.POSITIVE_INFINITY : Math.ceil(rate)));
  const gapMs = rate === undefined ? 0 : 1000 / rate;
  const { filter } = replay;

  if (!(await replays.start(replay.id))) return "not_started";
  let done = 0;
  let after = filter.afterPosition;
  const startedAt = now();
  try {
    while (after < filter.toPosition) {
      const page = await store.readAll(replayReadFilter(filter, after, batchSize));
      for (const event of page.events) {
        if (event.position > filter.toPosition) break;
        if (signal?.aborted) {
          await replays.progress(replay.id, done, after);
          return "interrupted";
        }
        if (gapMs > 0) {
          const due = startedAt + done * gapMs;
          const wait = due - now();
          if (wait > 0) await sleep(wait);
        }
        await driver.redeliver(topic, replay.target.subscription, replayedWireMessage(event, replay.id));
        done += 1;
        after = event.position;
      }
      const reached = Math.max(page.lastPosition, page.events.at(-1)?.position ?? 0);
      const moved = reached > after;
      if (moved) after = Math.min(reached, filter.toPosition);
      const status = await replays.progress(replay.id, done, after);
      if (status === "cancelled") return "cancelled";
      if (signal?.aborted) return "interrupted";
      if (!moved && page.events.length === 0) break;
    }
    await replays.finish(replay.id, { status: "done" });
    return "done";
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await replays.finish(replay.id, { status: "failed", error: message }).catch(() => undefined);
    return "failed";
  }
}
