import { ValidationError } from "@/server/engine/core/errors";
import { newId } from "@/server/engine/core/ids";
import type { EventStore } from "@/server/engine/store/event-store";
import type { TransportDriver } from "@/server/engine/transport/driver";
import {
  countReplayEvents,
  runReplay,
  type CreateReplayOutcome,
  type Replay,
  type ReplayFilter,
  type ReplayStore,
} from "@/server/engine/transport/replay";
import { logger } from "./logger";
import type { SubscriptionRegistry } from "./subscriptions";

/** Most events one replay may cover: a larger one must be split (or its range narrowed). */
export const MAX_REPLAY_EVENTS = 100_000;
/** A queued or running replay whose runner has not reported for this long is marked failed. */
const STALE_AFTER_MS = 60_000;

export interface ReplayRequest {
  /** Inclusive position range; the upper bound defaults to the head when the replay is accepted. */
  fromPosition?: number;
  toPosition?: number;
  /** Inclusive event time range, RFC 3339. */
  from?: string;
  to?: string;
  types?: string[];
  subject?: string;
  target: { subscription: string } | { webhookEndpoint: string };
  ratePerSecond?: number;
  dryRun?: boolean;
}

export type CreateReplayResult =
  | { status: "dry_run"; matched: number }
  | { status: "created" | "replayed"; replay: Replay; matched: number }
  | { status: "idempotency_mismatch" };

/**
 * Accepts replays (validated, counted, stored as queued) and runs the ones this process accepted
 * in the background; reports and cancels any replay, whichever process runs it.
 */
export class ReplayService {
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly deps: {
      store: Pick<EventStore, "readAll" | "headPosition">;
      driver: Pick<TransportDriver, "redeliver">;
      topic: string;
      replays: ReplayStore;
      subscriptions: Pick<SubscriptionRegistry, "get">;
    },
  ) {}

  async create(request: ReplayRequest, options: { createdBy: string; idempotency?: { key: string; fingerprint: string } }): Promise<CreateReplayResult> {
    if ("webhookEndpoint" in request.target) {
      throw new ValidationError("Replays to webhook endpoints are not possible: webhook endpoints do not exist yet", [
        { path: "target.webhookEndpoint", message: "webhook endpoints do not exist yet" },
      ]);
    }
    const subscription = request.target.subscription;
    if (!this.deps.subscriptions.get(subscription)) {
      throw new ValidationError(`No subscription named ${subscription}`, [{ path: "target.subscription", message: `no subscription named ${JSON.stringify(subscription)}` }]);
    }
    const filter = await this.resolveFilter(request);
    const matched = await countReplayEvents(this.deps.store, filter, MAX_REPLAY_EVENTS);
    if (matched > MAX_REPLAY_EVENTS) {
      throw new ValidationError(`The replay matches more than ${MAX_REPLAY_EVENTS} events; narrow its range or filters`, [
        { path: "toPosition", message: `matches more than ${MAX_REPLAY_EVENTS} events` },
      ]);
    }
    if (request.dryRun) return { status: "dry_run", matched };

    const outcome: CreateReplayOutcome = await this.deps.replays.create({
      id: newId(),
      target: { subscription },
      filter,
      total: matched,
      ratePerSecond: request.ratePerSecond ?? null,
      createdBy: options.createdBy,
      idempotency: options.idempotency,
    });
    if (outcome.status === "idempotency_mismatch") return outcome;
    if (outcome.status === "created") this.run(outcome.replay);
    return { status: outcome.status, replay: outcome.replay, matched: outcome.replay.total };
  }

  private async resolveFilter(request: ReplayRequest): Promise<ReplayFilter> {
    const head = await this.deps.store.headPosition();
    const fromPosition = request.fromPosition ?? 1;
    const toPosition = Math.min(request.toPosition ?? head, head);
    if (request.toPosition !== undefined && request.toPosition < fromPosition) {
      throw new ValidationError("toPosition must not be below fromPosition", [{ path: "toPosition", message: "must be at least fromPosition" }]);
    }
    if (request.from !== undefined && request.to !== undefined && Date.parse(request.to) < Date.parse(request.from)) {
      throw new ValidationError("to must not be before from", [{ path: "to", message: "must not be before from" }]);
    }
    const filter: ReplayFilter = { afterPosition: Math.max(0, fromPosition - 1), toPosition: Math.max(toPosition, fromPosition - 1) };
    if (request.types && request.types.length > 0) filter.types = request.types;
    if (request.subject !== undefined) filter.subject = request.subject;
    if (request.from !== undefined) filter.from = request.from;
    if (request.to !== undefined) filter.to = request.to;
    return filter;
  }

  private run(replay: Replay): void {
    logger.info("replay started", { replayId: replay.id, subscription: replay.target.subscription, total: replay.total });
    const work = runReplay({
      store: this.deps.store,
      driver: this.deps.driver,
      topic: this.deps.topic,
      replays: this.deps.replays,
      replay,
      signal: this.abort.signal,
    })
      .then(async (outcome) => {
        if (outcome === "interrupted") {
          // This process is stopping: say so rather than leave it "running" until it goes stale.
          await this.deps.replays.finish(replay.id, { status: "failed", error: "interrupted: the process running it stopped" });
        }
        logger.info("replay ended", { replayId: replay.id, outcome });
      })
      .catch((error: unknown) => logger.error("replay runner failed", { replayId: replay.id, error }))
      .finally(() => this.running.delete(replay.id));
    this.running.set(replay.id, work);
  }

  async get(id: string): Promise<Replay | undefined> {
    await this.sweep();
    return this.deps.replays.get(id);
  }

  async list(limit = 20): Promise<Replay[]> {
    await this.sweep();
    return this.deps.replays.list(limit);
  }

  /** Cancels a queued or running replay (the runner stops before its next batch). */
  cancel(id: string): Promise<Replay | undefined> {
    return this.deps.replays.cancel(id);
  }

  private async sweep(): Promise<void> {
    try {
      await this.deps.replays.failStale(STALE_AFTER_MS);
    } catch (error) {
      logger.warn("could not mark stale replays", { error });
    }
  }

  /** Stops this process's runners (their replays are marked failed: interrupted). */
  async close(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.running.values());
  }
}
