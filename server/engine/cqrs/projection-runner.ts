import { systemClock, type Clock } from "../core/clock";
import type { StoredEvent } from "../core/envelope";
import { describeError, NotFoundError } from "../core/errors";
import type { EventStore } from "../store/event-store";
import type { Lease } from "../transport/lease";
import type { ProjectionState, ProjectionStatus } from "./projection-runner-types";
import type {
  LoadRows,
  ProjectedEvent,
  ProjectionDefinition,
  ProjectionGeneration,
  ReadModelRow,
  ReadModelStore,
  TableChanges,
} from "./read-model";

/**
 * Runs projections: keeps each one's read model up to date from the global log, in batches whose
 * rows and position commit together (ReadModelStore.applyBatch), and runs blue/green rebuilds.
 *
 * One process at a time runs a projection: the holder of the lease `projection:<name>`; every
 * other process only reports. Correctness does not rest on the lease: a batch applies only from
 * the position it was read at, so a second runner (a lapsed lease) gets "moved" and rereads, and
 * nothing is applied twice.
 *
 * Per pass the holder reads the projection's generations (so a `rebuild` asked for in any process
 * is seen), then advances each generation it maintains by one page: the active one, and the
 * newest building one, which becomes active once a page comes back short (it reached the head).
 */

export interface ProjectionRunnerOptions {
  store: EventStore;
  readModels: ReadModelStore;
  lease: Lease;
  /** This process's name as lease holder. */
  owner: string;
  projections: readonly ProjectionDefinition[];
  /** Brings a stored event to the latest version of its type (EventTypeRegistry.upcast). */
  upcast(event: StoredEvent): StoredEvent;
  /**
   * Events read per batch, and so per read-model transaction. Default 5000: catch-up over 100,000
   * events ran 1.15-1.5x faster than with 1000 (fewer commits, a row touched by several events of a
   * page written once; docs/performance.md, CQRS), and a live runner reads small pages anyway.
   */
  batchSize?: number;
  /** How often an idle runner looks for appends it was not told about (other processes'). Default 250 ms. */
  pollIntervalMs?: number;
  /** Default 10 s; renewed at a third of it. */
  leaseTtlMs?: number;
  /** Backoff after a failed pass: doubles from `initialDelayMs` up to `maxDelayMs`. Default 100 ms .. 30 s. */
  retry?: { initialDelayMs: number; maxDelayMs: number };
  /** `attempt` counts consecutive failures of the projection's passes. */
  onError?(error: unknown, info: { projection: string; attempt: number }): void;
  clock?: Clock;
}

/**
 * A projection further behind the head than this is reported as catching up rather than live.
 * Fixed rather than the batch size: a batch is a unit of work, not of how stale a reader may be.
 */
const LIVE_LAG_EVENTS = 1_000;

/** The window eventsPerSecond averages over. */
const RATE_WINDOW_MS = 5_000;

/**
 * Folds a page of events (in log order, upcast) into the rows they touch, table by table: loads
 * each table's touched rows once, evolves them in memory and answers the rows that changed (a row
 * `evolve` handed back unchanged is not written) and the rows that went away.
 */
export async function applyEventsToRows(projection: ProjectionDefinition, events: readonly ProjectedEvent[], load: LoadRows): Promise<TableChanges[]> {
  const changes: TableChanges[] = [];
  for (const { table, keysOf, evolve } of projection.tables) {
    const keysPerEvent = events.map((event) => keysOf(event));
    const touched = new Set(keysPerEvent.flat());
    if (touched.size === 0) continue;
    const before = await load(table, [...touched]);
    const after = new Map<string, ReadModelRow>(before);
    events.forEach((event, index) => {
      for (const key of keysPerEvent[index] ?? []) {
        const row: ReadModelRow | undefined = evolve(after.get(key), event, key);
        if (row === undefined) {
          after.delete(key);
        } else {
          if (row[table.key] !== key) {
            throw new Error(`Projection ${projection.name}: evolve of ${event.type} for ${table.name} key ${key} returned a row whose ${table.key} is ${String(row[table.key])}`);
          }
          after.set(key, row);
        }
      }
    });
    const upserts: ReadModelRow[] = [];
    const deletes: string[] = [];
    for (const key of touched) {
      const row = after.get(key);
      if (row === undefined) {
        if (before.has(key)) deletes.push(key);
      } else if (row !== before.get(key)) {
        upserts.push(row);
      }
    }
    if (upserts.length > 0 || deletes.length > 0) changes.push({ table: table.name, upserts, deletes });
  }
  return changes;
}

export class ProjectionRunner {
  readonly projections: readonly ProjectionDefinition[];
  readonly #workers: Map<string, ProjectionWorker>;
  readonly #options: ProjectionRunnerOptions;
  readonly #batchSize: number;

  constructor(options: ProjectionRunnerOptions) {
    const names = options.projections.map((projection) => projection.name);
    const repeated = names.find((name, index) => names.indexOf(name) !== index);
    if (repeated !== undefined) throw new Error(`projection ${repeated} is defined more than once`);
    this.#options = options;
    this.#batchSize = options.batchSize ?? 5000;
    this.projections = options.projections;
    this.#workers = new Map(options.projections.map((projection) => [projection.name, new ProjectionWorker(projection, options, this.#batchSize)]));
  }

  /** Starts a loop per projection (taking the lease where it is free). Calling it again does nothing. */
  start(): void {
    for (const worker of this.#workers.values()) worker.start();
  }

  /** Lets every batch in progress finish, then releases the leases. */
  async stop(): Promise<void> {
    await Promise.all([...this.#workers.values()].map((worker) => worker.stop()));
  }

  /**
   * Starts a blue/green rebuild of the projection: a new generation (status building) that the
   * lease holder, in whichever process, fills from position 0 and then activates. A rebuild already
   * under way is answered instead of starting another.
   */
  async rebuild(name: string): Promise<{ generation: number }> {
    const worker = this.#worker(name);
    const generations = await this.#options.readModels.generations(name);
    const underway = newestBuilding(generations, worker.projection.version);
    if (underway) return { generation: underway.generation };
    const generation = Math.max(0, ...generations.map((g) => g.generation)) + 1;
    await this.#options.readModels.createGeneration({ projection: worker.projection, generation });
    worker.wake();
    return { generation };
  }

  /** Figures come from the read-model store and the log, so every process reports the same; rate and errors are this process's. */
  async status(): Promise<ProjectionStatus[]> {
    const headPosition = await this.#options.store.headPosition();
    return Promise.all(
      [...this.#workers.values()].map(async (worker): Promise<ProjectionStatus> => {
        const { projection } = worker;
        const generations = await this.#options.readModels.generations(projection.name);
        const active = generations.find((g) => g.status === "active");
        const building = newestBuilding(generations, projection.version) ?? generations.findLast((g) => g.status === "building");
        const position = active?.position ?? 0;
        const lag = Math.max(0, headPosition - position);
        const state: ProjectionState = worker.failing
          ? "failing"
          : generations.length === 0
            ? "stopped"
            : building
              ? "rebuilding"
              : lag > LIVE_LAG_EVENTS
                ? "catching_up"
                : "live";
        return {
          name: projection.name,
          description: projection.description,
          version: projection.version,
          state,
          generation: active?.generation ?? null,
          position,
          headPosition,
          lag,
          rebuild: building
            ? {
                generation: building.generation,
                position: building.position,
                progress: headPosition === 0 ? 1 : Math.min(1, building.position / headPosition),
                startedAt: building.createdAt.toISOString(),
              }
            : null,
          eventsPerSecond: worker.eventsPerSecond(),
          lastError: worker.lastError,
          runningHere: worker.runningHere,
        };
      }),
    );
  }

  #worker(name: string): ProjectionWorker {
    const worker = this.#workers.get(name);
    if (!worker) throw new NotFoundError(`Unknown projection ${name}`);
    return worker;
  }
}

/** The rebuild this version of the code fills: the newest building generation it made. */
function newestBuilding(generations: readonly ProjectionGeneration[], version: number): ProjectionGeneration | undefined {
  return generations.findLast((g) => g.status === "building" && g.version === version);
}

/** Waits for both (so neither batch is still running when the pass ends), then rethrows a failure. */
async function settleBoth<A, B>(a: Promise<A> | undefined, b: Promise<B> | undefined): Promise<[A | undefined, B | undefined]> {
  const [first, second] = await Promise.allSettled([a, b]);
  if (first.status === "rejected") throw first.reason;
  if (second.status === "rejected") throw second.reason;
  return [first.value, second.value];
}

/** What one pass found: more to do at once, nothing until the next append, or not this process's to run. */
type PassOutcome = "busy" | "idle" | "standby";

/** The loop of one projection in this process. */
class ProjectionWorker {
  readonly projection: ProjectionDefinition;
  lastError: { message: string; at: string } | null = null;
  #holding = false;
  #leaseRenewedAt = Number.NEGATIVE_INFINITY;
  #failures = 0;
  #running: Promise<void> | undefined;
  #stopping = false;
  /** An append was announced while the loop was busy: do not go idle. */
  #appendPending = false;
  #interrupt: ((cause: "append" | "stop") => void) | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #applied: Array<{ at: number; events: number }> = [];
  readonly #options: ProjectionRunnerOptions;
  readonly #batchSize: number;
  readonly #clock: Clock;
  readonly #leaseName: string;
  readonly #leaseTtlMs: number;

  constructor(projection: ProjectionDefinition, options: ProjectionRunnerOptions, batchSize: number) {
    this.projection = projection;
    this.#options = options;
    this.#batchSize = batchSize;
    this.#clock = options.clock ?? systemClock;
    this.#leaseName = `projection:${projection.name}`;
    this.#leaseTtlMs = options.leaseTtlMs ?? 10_000;
  }

  get runningHere(): boolean {
    return this.#holding && this.#running !== undefined;
  }

  get failing(): boolean {
    return this.runningHere && this.#failures > 0;
  }

  eventsPerSecond(): number {
    this.#forgetOldRates();
    const events = this.#applied.reduce((sum, sample) => sum + sample.events, 0);
    return events / (RATE_WINDOW_MS / 1000);
  }

  start(): void {
    if (this.#running) return;
    this.#stopping = false;
    this.#unsubscribe = this.#options.store.onAppended(() => this.wake());
    this.#running = this.#loop();
  }

  async stop(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    this.#stopping = true;
    this.#interrupt?.("stop");
    await running;
    this.#unsubscribe?.();
    this.#running = undefined;
    if (this.#holding) {
      this.#holding = false;
      await this.#options.lease.release(this.#leaseName, this.#options.owner).catch((error: unknown) => this.#report(error));
    }
  }

  /** Something changed (an append, a rebuild asked for here): run a pass now if idle. */
  wake(): void {
    this.#appendPending = true;
    this.#interrupt?.("append");
  }

  async #loop(): Promise<void> {
    const retry = this.#options.retry ?? { initialDelayMs: 100, maxDelayMs: 30_000 };
    const pollMs = Math.min(this.#options.pollIntervalMs ?? 250, this.#leaseTtlMs / 3);
    while (!this.#stopping) {
      let outcome: PassOutcome;
      try {
        this.#appendPending = false;
        outcome = (await this.#holdLease()) ? await this.#pass() : "standby";
        this.#failures = 0;
      } catch (error) {
        this.#failures += 1;
        this.#report(error);
        await this.#pause(Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (this.#failures - 1)), false);
        continue;
      }
      if (outcome === "standby") await this.#pause(this.#leaseTtlMs / 3, false);
      else if (outcome === "idle") await this.#pause(pollMs, true);
    }
  }

  /** Takes or renews the lease when a third of its TTL has passed since the last renewal. */
  async #holdLease(): Promise<boolean> {
    const now = this.#clock.now();
    if (this.#holding && now - this.#leaseRenewedAt < this.#leaseTtlMs / 3) return true;
    this.#holding = await this.#options.lease.tryAcquire(this.#leaseName, this.#options.owner, this.#leaseTtlMs);
    if (this.#holding) this.#leaseRenewedAt = now;
    return this.#holding;
  }

  async #pass(): Promise<PassOutcome> {
    const { readModels } = this.#options;
    const { projection } = this;
    const generations = await readModels.generations(projection.name);

    if (generations.some((g) => g.version > projection.version)) {
      // Newer code built it (a rolling deploy): leave it to a process running that code.
      this.lastError = { message: `a generation was built by a version above ${projection.version}, which this process runs`, at: this.#nowIso() };
      this.#holding = false;
      await this.#options.lease.release(this.#leaseName, this.#options.owner);
      return "standby";
    }

    const active = generations.find((g) => g.status === "active");
    let building = newestBuilding(generations, projection.version);
    for (const stale of generations) {
      // An older rebuild, superseded by a newer one or by a version change: never to be activated.
      if (stale.status === "building" && stale !== building) await readModels.dropGeneration({ projection, generation: stale.generation });
    }
    const generation = Math.max(0, ...generations.map((g) => g.generation)) + 1;
    if (!active && !building) {
      // First start: serve at once (queries see the position climb) rather than wait for catch-up.
      await readModels.createGeneration({ projection, generation });
      await readModels.activate({ projection, generation });
      return "busy";
    }
    if (!building && active && active.version !== projection.version) {
      building = await readModels.createGeneration({ projection, generation });
    }

    // Side by side, so a rebuild's pages add little to the active read model's delay.
    const [activeProgress, buildingProgress] = await settleBoth(
      active && this.#advance(active),
      building && this.#advance(building),
    );
    if (building && buildingProgress === "caught_up") await readModels.activate({ projection, generation: building.generation });
    const busy = activeProgress === "behind" || buildingProgress === "behind";
    return busy ? "busy" : "idle";
  }

  /**
   * One page for one generation. "behind" when there is more to read at once (a full page, or the
   * position moved under it and must be reread), "caught_up" when the page reached the head.
   */
  async #advance(generation: ProjectionGeneration): Promise<"behind" | "caught_up"> {
    const { projection } = this;
    const page = await this.#options.store.readAll({ after: generation.position, types: projection.eventTypes, limit: this.#batchSize });
    if (page.lastPosition === generation.position) return "caught_up";
    const events = page.events.map((event) => this.#options.upcast(event));
    const outcome = await this.#options.readModels.applyBatch(
      { projection, generation: generation.generation },
      { expected: generation.position, next: page.lastPosition },
      (load) => applyEventsToRows(projection, events, load),
    );
    if (outcome === "moved") return "behind";
    this.#applied.push({ at: this.#clock.now(), events: events.length });
    this.#forgetOldRates();
    return page.events.length < this.#batchSize ? "caught_up" : "behind";
  }

  #forgetOldRates(): void {
    const since = this.#clock.now() - RATE_WINDOW_MS;
    while ((this.#applied[0]?.at ?? Number.POSITIVE_INFINITY) < since) this.#applied.shift();
  }

  #report(error: unknown): void {
    this.lastError = { message: describeError(error).message, at: this.#nowIso() };
    const info = { projection: this.projection.name, attempt: this.#failures };
    if (this.#options.onError) this.#options.onError(error, info);
    else console.error(`projection ${info.projection} failed (attempt ${info.attempt})`, error);
  }

  #nowIso(): string {
    return new Date(this.#clock.now()).toISOString();
  }

  /** Ends early on stop, and on a wake-up when `wakeable` (not during a backoff). */
  #pause(ms: number, wakeable: boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#stopping || (wakeable && this.#appendPending)) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        this.#interrupt = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#interrupt = (cause) => {
        if (cause === "stop" || wakeable) done();
      };
    });
  }
}
