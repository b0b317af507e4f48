import type { ScheduleTimer, TimerListQuery, TimerRecord, TimerStore } from "./timer-store";

const bySoonest = (a: TimerRecord, b: TimerRecord): number => Date.parse(a.dueAt) - Date.parse(b.dueAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** When a scheduled timer can next be claimed: when due, or when the claim holding it runs out. */
const claimableAt = (timer: TimerRecord): number => Math.max(Date.parse(timer.dueAt), timer.claimedUntil === null ? 0 : Date.parse(timer.claimedUntil));

/** Timers in a map: for unit tests and running without a database (one process). */
export class InMemoryTimerStore implements TimerStore {
  private readonly timers = new Map<string, TimerRecord>();

  async schedule(timer: ScheduleTimer, now: string): Promise<boolean> {
    if (this.timers.has(timer.id)) return false;
    this.timers.set(timer.id, {
      ...structuredClone(timer),
      // As a database keeps it: an absent payload is JSON null.
      payload: structuredClone(timer.payload ?? null),
      status: "scheduled",
      attempts: 0,
      createdAt: now,
      firedAt: null,
      lastError: null,
      claimedBy: null,
      claimedUntil: null,
    });
    return true;
  }

  async cancel(id: string): Promise<boolean> {
    const timer = this.timers.get(id);
    if (!timer || !isCancellable(timer)) return false;
    timer.status = "cancelled";
    return true;
  }

  async cancelByKey(key: string): Promise<number> {
    let cancelled = 0;
    for (const timer of this.timers.values()) {
      if (timer.key !== key || !isCancellable(timer)) continue;
      timer.status = "cancelled";
      cancelled += 1;
    }
    return cancelled;
  }

  async get(id: string): Promise<TimerRecord | undefined> {
    const timer = this.timers.get(id);
    return timer && structuredClone(timer);
  }

  async list(query: TimerListQuery): Promise<TimerRecord[]> {
    return [...this.timers.values()]
      .filter((timer) => (query.kind === undefined || timer.kind === query.kind) && (query.key === undefined || timer.key === query.key))
      .filter((timer) => query.status === undefined || timer.status === query.status)
      .sort(bySoonest)
      .slice(0, Math.max(0, query.limit))
      .map((timer) => structuredClone(timer));
  }

  async claimDue(args: { owner: string; now: string; leaseMs: number; limit: number; kinds?: string[] }): Promise<TimerRecord[]> {
    const now = Date.parse(args.now);
    const claimedUntil = new Date(now + args.leaseMs).toISOString();
    const due = [...this.timers.values()]
      .filter((timer) => timer.status === "scheduled" && claimableAt(timer) <= now && (args.kinds === undefined || args.kinds.includes(timer.kind)))
      .sort(bySoonest)
      .slice(0, Math.max(0, args.limit));
    for (const timer of due) {
      timer.attempts += 1;
      timer.claimedBy = args.owner;
      timer.claimedUntil = claimedUntil;
    }
    return due.map((timer) => structuredClone(timer));
  }

  async complete(id: string, owner: string, now: string): Promise<boolean> {
    const timer = this.heldBy(id, owner);
    if (!timer) return false;
    Object.assign(timer, { status: "fired", firedAt: now, claimedBy: null, claimedUntil: null });
    return true;
  }

  async release(id: string, owner: string, args: { dueAt: string; error: string }): Promise<boolean> {
    const timer = this.heldBy(id, owner);
    if (!timer) return false;
    Object.assign(timer, { dueAt: args.dueAt, lastError: args.error, claimedBy: null, claimedUntil: null });
    return true;
  }

  async nextDueAt(kinds?: string[]): Promise<string | undefined> {
    let soonest: number | undefined;
    for (const timer of this.timers.values()) {
      if (timer.status !== "scheduled" || (kinds !== undefined && !kinds.includes(timer.kind))) continue;
      const at = claimableAt(timer);
      if (soonest === undefined || at < soonest) soonest = at;
    }
    return soonest === undefined ? undefined : new Date(soonest).toISOString();
  }

  async prune(before: string): Promise<number> {
    const cutoff = Date.parse(before);
    let removed = 0;
    for (const timer of [...this.timers.values()]) {
      if (timer.status === "scheduled" || Date.parse(timer.firedAt ?? timer.dueAt) >= cutoff) continue;
      this.timers.delete(timer.id);
      removed += 1;
    }
    return removed;
  }

  private heldBy(id: string, owner: string): TimerRecord | undefined {
    const timer = this.timers.get(id);
    return timer && timer.status === "scheduled" && timer.claimedBy === owner ? timer : undefined;
  }
}

function isCancellable(timer: TimerRecord): boolean {
  return timer.status === "scheduled" && timer.claimedBy === null;
}
