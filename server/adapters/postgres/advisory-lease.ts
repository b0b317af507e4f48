import postgres from "postgres";
import type { Lease } from "@/server/engine/transport/lease";

/** First key of every Eventloom advisory lock ("EVL"), so they never collide with other users'. */
const LOCK_NAMESPACE = 0x45564c;

/**
 * A lease held as a Postgres session advisory lock on a connection of its own. Postgres frees the
 * lock the moment the holder's session ends (crash, SIGKILL, network loss), so a successor does
 * not wait out a TTL; `ttlMs` is not needed and ignored. A renewal asks `pg_locks` whether this
 * session still holds the lock, because the driver silently reconnects with a NEW session after a
 * connection loss, and that session holds nothing.
 */
export class PostgresAdvisoryLease implements Lease {
  private session: postgres.Sql;

  constructor(private readonly databaseUrl: string) {
    this.session = this.connect();
  }

  async tryAcquire(name: string, _owner: string, _ttlMs: number): Promise<boolean> {
    // A session that died under us may report it on the next query or two (the server's
    // termination notice, then the closed socket), and the driver has been seen to leave a query
    // on such a connection waiting forever. Either way the session is replaced by a new one,
    // which holds no lock, so asking again on it gives the true answer.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.withinDeadline(this.acquireOrConfirm(name));
      } catch (error) {
        if (!(error instanceof SessionStalled) && !isConnectionLoss(error)) throw error;
        this.replaceSession();
        if (attempt === 3) throw error;
      }
    }
  }

  private async acquireOrConfirm(name: string): Promise<boolean> {
    const [state] = await this.session<{ held: boolean }[]>`
      select exists (
        select 1 from pg_locks
         where locktype = 'advisory' and pid = pg_backend_pid() and objsubid = 2
           and classid = ${LOCK_NAMESPACE} and objid::bigint = (hashtext(${name})::bigint & 4294967295)
      ) as held`;
    if (state?.held) return true;
    const [taken] = await this.session<{ acquired: boolean }[]>`
      select pg_try_advisory_lock(${LOCK_NAMESPACE}, hashtext(${name})) as acquired`;
    return taken?.acquired === true;
  }

  async release(name: string, _owner: string): Promise<void> {
    await this.withinDeadline(this.session`select pg_advisory_unlock(${LOCK_NAMESPACE}, hashtext(${name}))`);
  }

  async close(): Promise<void> {
    await this.session.end({ timeout: 5 });
  }

  private connect(): postgres.Sql {
    return postgres(this.databaseUrl, { max: 1, onnotice: () => {}, idle_timeout: 0 });
  }

  /** Drops the session (and every lock it may still hold) for a new one. */
  private replaceSession(): void {
    const lost = this.session;
    this.session = this.connect();
    lost.end({ timeout: 0 }).catch(() => {});
  }

  private async withinDeadline<T>(query: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SessionStalled()), SESSION_DEADLINE_MS);
    });
    try {
      return await Promise.race([query, stalled]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A lease query that has not answered in this long is on a dead connection (they take milliseconds). */
const SESSION_DEADLINE_MS = 5_000;

class SessionStalled extends Error {
  override name = "SessionStalled";
  constructor() {
    super(`advisory lease query did not answer within ${SESSION_DEADLINE_MS} ms`);
  }
}

function isConnectionLoss(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "CONNECTION_CLOSED" || code === "CONNECTION_ENDED" || code === "CONNECTION_DESTROYED" || code === "ECONNRESET" || code === "57P01";
}
