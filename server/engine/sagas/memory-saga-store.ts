import { decodeListCursor, encodeListCursor, isAfter, newestFirst, type ListPosition } from "../core/list-cursor";
import { activeSagaStatuses, SagaLeaseLostError, type ClaimArgs, type SagaCounts, type SagaListQuery, type SagaPage, type SagaRecord, type SagaSignalOutcome, type SagaStore } from "./saga-store";

/**
 * Sagas in a map: for unit tests and running without a database. Records are copied on the way in
 * and out, so a caller mutating what it holds never changes the stored state (as with a database).
 */
export class InMemorySagaStore implements SagaStore {
  readonly #sagas = new Map<string, SagaRecord>();

  async create(saga: SagaRecord, lease?: ClaimArgs): Promise<{ created: boolean; saga: SagaRecord }> {
    const existing = this.#sagas.get(saga.id);
    if (existing) return { created: false, saga: structuredClone(existing) };
    const stored: SagaRecord = {
      ...structuredClone(saga),
      revision: 1,
      leaseOwner: lease ? lease.owner : null,
      leaseUntil: lease ? leaseEnd(lease) : null,
    };
    this.#sagas.set(stored.id, stored);
    return { created: true, saga: structuredClone(stored) };
  }

  async get(id: string): Promise<SagaRecord | undefined> {
    const saga = this.#sagas.get(id);
    return saga && structuredClone(saga);
  }

  async list(query: SagaListQuery): Promise<SagaPage> {
    const after = query.cursor === undefined ? undefined : decodeListCursor(query.cursor);
    const matching = [...this.#sagas.values()]
      .filter(
        (saga) =>
          (query.type === undefined || saga.type === query.type) &&
          (query.status === undefined || saga.status === query.status) &&
          (query.correlationid === undefined || saga.correlationid === query.correlationid) &&
          (query.kind === undefined || saga.kind === query.kind) &&
          (query.parentId === undefined || saga.parentId === query.parentId),
      )
      .sort((a, b) => newestFirst(listPosition(a), listPosition(b)))
      .filter((saga) => isAfter(listPosition(saga), after));
    const items = matching.slice(0, query.limit);
    const last = items.at(-1);
    return {
      items: items.map((saga) => structuredClone(saga)),
      nextCursor: matching.length > query.limit && last ? encodeListCursor(listPosition(last)) : null,
    };
  }

  async counts(): Promise<SagaCounts> {
    const byType: SagaCounts["byType"] = {};
    for (const { type, status } of this.#sagas.values()) {
      const perStatus = (byType[type] ??= {});
      perStatus[status] = (perStatus[status] ?? 0) + 1;
    }
    return { byType };
  }

  async claimDue(args: ClaimArgs & { limit: number }): Promise<SagaRecord[]> {
    const now = Date.parse(args.now);
    const due = [...this.#sagas.values()]
      .filter((saga) => activeSagaStatuses.includes(saga.status) && saga.wakeAt !== null && Date.parse(saga.wakeAt) <= now && leaseFree(saga, now))
      .sort((a, b) => Date.parse(a.wakeAt ?? "") - Date.parse(b.wakeAt ?? ""))
      .slice(0, Math.max(0, args.limit));
    return due.map((saga) => this.#take(saga, args));
  }

  async claim(id: string, args: ClaimArgs): Promise<SagaRecord | undefined> {
    const saga = this.#sagas.get(id);
    if (!saga || !leaseFree(saga, Date.parse(args.now))) return undefined;
    return this.#take(saga, args);
  }

  async save(next: SagaRecord, args: ClaimArgs & { release: boolean }): Promise<SagaRecord> {
    const stored = this.#sagas.get(next.id);
    if (!stored) throw new SagaLeaseLostError(next.id, `saga ${next.id} does not exist`);
    if (stored.revision !== next.revision) {
      throw new SagaLeaseLostError(next.id, `saga ${next.id} is at revision ${stored.revision}, not ${next.revision}`);
    }
    if (stored.leaseOwner !== args.owner || stored.leaseUntil === null || Date.parse(stored.leaseUntil) <= Date.parse(args.now)) {
      throw new SagaLeaseLostError(next.id, `${args.owner} does not hold the lease on saga ${next.id}`);
    }
    const { type, kind, parentId, input, startedAt } = stored;
    const saved: SagaRecord = {
      ...structuredClone(next),
      // Identity is fixed at create.
      type,
      kind,
      parentId,
      input,
      startedAt,
      revision: stored.revision + 1,
      leaseOwner: args.release ? null : args.owner,
      leaseUntil: args.release ? null : leaseEnd(args),
    };
    this.#sagas.set(saved.id, saved);
    return structuredClone(saved);
  }

  async signal(key: string, outcome: SagaSignalOutcome, now: string): Promise<string[]> {
    const reached: string[] = [];
    for (const saga of this.#sagas.values()) {
      if (!activeSagaStatuses.includes(saga.status) || !saga.awaiting.includes(key) || key in saga.signals) continue;
      saga.signals[key] = structuredClone(outcome);
      saga.wakeAt = now;
      this.#nudged(saga);
      reached.push(saga.id);
    }
    return reached;
  }

  async update(
    id: string,
    expectedRevision: number,
    patch: Partial<Pick<SagaRecord, "status" | "cancelRequested" | "wakeAt" | "cursor" | "compensations" | "error">>,
    now: string,
  ): Promise<SagaRecord | undefined> {
    const stored = this.#sagas.get(id);
    if (!stored || stored.revision !== expectedRevision) return undefined;
    const updated: SagaRecord = { ...stored, wakeAt: now, ...structuredClone(patch), updatedAt: now };
    this.#nudged(updated);
    this.#sagas.set(id, updated);
    return structuredClone(updated);
  }

  async put(saga: SagaRecord): Promise<void> {
    const stored = this.#sagas.get(saga.id);
    if (stored && stored.revision > saga.revision) return;
    this.#sagas.set(saga.id, structuredClone(saga));
  }

  /** A write by someone other than the lease holder: the holder's copy goes stale and the saga is free to claim at once. */
  #nudged(saga: SagaRecord): void {
    saga.revision += 1;
    saga.leaseOwner = null;
    saga.leaseUntil = null;
  }

  #take(saga: SagaRecord, args: ClaimArgs): SagaRecord {
    saga.leaseOwner = args.owner;
    saga.leaseUntil = leaseEnd(args);
    return structuredClone(saga);
  }
}

function leaseEnd(args: ClaimArgs): string {
  return new Date(Date.parse(args.now) + args.leaseMs).toISOString();
}

function leaseFree(saga: SagaRecord, now: number): boolean {
  return saga.leaseOwner === null || saga.leaseUntil === null || Date.parse(saga.leaseUntil) <= now;
}

/** Newest start first; the id breaks ties so pages never skip or repeat a saga. */
/** A saga's place in the newest-first list: its start. */
const listPosition = (saga: Pick<SagaRecord, "startedAt" | "id">): ListPosition => ({ createdAt: saga.startedAt, id: saga.id });
