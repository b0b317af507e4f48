/**
 * A named, expiring lock across processes: the holder renews it well before it expires, and a
 * crashed holder's lease passes to another process after `ttlMs`. Used where exactly one process
 * must do a job at a time (the outbox relay). Postgres implements it for deployments; the
 * in-memory one serves a single process and tests.
 */
export interface Lease {
  /** Takes the lease if free or expired, or renews it if `owner` holds it. True if `owner` holds it now. */
  tryAcquire(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives it up at once, if `owner` holds it. */
  release(name: string, owner: string): Promise<void>;
}

export class InMemoryLease implements Lease {
  private readonly holders = new Map<string, { owner: string; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async tryAcquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const current = this.holders.get(name);
    if (current && current.owner !== owner && current.expiresAt > this.now()) return false;
    this.holders.set(name, { owner, expiresAt: this.now() + ttlMs });
    return true;
  }

  async release(name: string, owner: string): Promise<void> {
    if (this.holders.get(name)?.owner === owner) this.holders.delete(name);
  }
}
