import { afterEach, describe, expect, it, vi } from "vitest";
import { buildEnvelope, type StoredEvent } from "../core/envelope";
import { NotFoundError } from "../core/errors";
import { InMemoryEventStore } from "../store/memory-event-store";
import { InMemoryLease, type Lease } from "../transport/lease";
import { InMemoryReadModelStore } from "./memory-read-model-store";
import { applyEventsToRows, ProjectionRunner, type ProjectionRunnerOptions } from "./projection-runner";
import {
  defineTable,
  defineTableProjection,
  type LoadRows,
  type ProjectionDefinition,
  type ProjectionTarget,
  type ReadModelRow,
  type TableChanges,
} from "./read-model";

// The test projection: accounts with their balance, and how many open accounts each owner has.

type AccountRow = { id: string; owner: string; balance: number; deposits: number; openedAt: Date };
type OwnerRow = { id: string; open: number };
const accounts = defineTable<AccountRow>("accounts", "id");
const owners = defineTable<OwnerRow>("owners", "id");

/** Latest shape of each event's data; `account.deposited` v1 said `value` where v2 says `amount`. */
type AccountData = { accountId: string; owner: string; amount: number };
const dataOf = (event: StoredEvent) => event.data as AccountData;

function accountsProjection(options: { version?: number; scale?: number; fails?: (event: StoredEvent) => boolean } = {}): ProjectionDefinition {
  const { version = 1, scale = 1, fails = () => false } = options;
  return {
    name: "accounts",
    description: "Account balances and owners",
    version,
    eventTypes: ["account.*"],
    tables: [
      defineTableProjection({
        table: accounts,
        keysOf: (event) => [dataOf(event).accountId],
        evolve: (row, event, key) => {
          if (fails(event)) throw new Error(`cannot project event ${event.position}`);
          const data = dataOf(event);
          if (event.type === "account.opened") return { id: key, owner: data.owner, balance: 0, deposits: 0, openedAt: new Date(event.time) };
          if (event.type === "account.closed") return undefined;
          // A zero deposit changes nothing: the same row back, which is not written.
          if (!row || data.amount === 0) return row;
          return { ...row, balance: row.balance + data.amount * scale, deposits: row.deposits + 1 };
        },
      }),
      defineTableProjection({
        table: owners,
        keysOf: (event) => (event.type === "account.deposited" ? [] : [dataOf(event).owner]),
        evolve: (row, event, key) => {
          const open = (row?.open ?? 0) + (event.type === "account.opened" ? 1 : -1);
          return open === 0 ? undefined : { id: key, open };
        },
      }),
    ],
  };
}

const upcast = (event: StoredEvent): StoredEvent => {
  if (event.type !== "account.deposited" || event.schemaversion !== 1) return event;
  const { value, ...rest } = event.data as { value: number };
  return { ...event, schemaversion: 2, data: { ...rest, amount: value } };
};

type Draft = { type: string; data: Record<string, unknown>; schemaversion?: number };

const opened = (accountId: string, owner: string): Draft => ({ type: "account.opened", data: { accountId, owner } });
const deposited = (accountId: string, amount: number): Draft => ({ type: "account.deposited", data: { accountId, amount }, schemaversion: 2 });
const closed = (accountId: string, owner: string): Draft => ({ type: "account.closed", data: { accountId, owner } });
const noise = (n: number): Draft => ({ type: "audit.noted", data: { n } });

/** Five accounts, `deposits` deposits among them with other types' events mixed in, one old-version deposit, one account closed. */
function history(deposits: number): Draft[] {
  const drafts: Draft[] = [opened("a0", "ann"), opened("a1", "ann"), opened("a2", "bob"), opened("a3", "cy"), opened("a4", "cy")];
  for (let n = 0; n < deposits; n++) {
    drafts.push(deposited(`a${n % 5}`, n % 6 === 5 ? 0 : n + 1));
    if (n % 4 === 0) drafts.push(noise(n));
  }
  drafts.push({ type: "account.deposited", data: { accountId: "a1", value: 50 }, schemaversion: 1 }, closed("a3", "cy"));
  return drafts;
}

async function append(store: InMemoryEventStore, drafts: Draft[]): Promise<void> {
  const events = drafts.map((draft) => buildEnvelope({ ...draft, schemaversion: draft.schemaversion ?? 1 }));
  const outcome = await store.append([{ streamId: "accounts", expectedVersion: "any", events }]);
  if (outcome.status !== "appended") throw new Error(`append failed: ${outcome.status}`);
}

/** The read model worked out from the whole log directly, without the runner's fold. */
async function expectedRows(store: InMemoryEventStore, scale = 1): Promise<{ accounts: AccountRow[]; owners: OwnerRow[] }> {
  const accountRows = new Map<string, AccountRow>();
  const openPerOwner = new Map<string, number>();
  for (const event of (await store.readAll({ limit: 10_000 })).events) {
    const data = event.data as { accountId: string; owner: string; amount?: number; value?: number };
    if (event.type === "account.opened") {
      accountRows.set(data.accountId, { id: data.accountId, owner: data.owner, balance: 0, deposits: 0, openedAt: new Date(event.time) });
      openPerOwner.set(data.owner, (openPerOwner.get(data.owner) ?? 0) + 1);
    } else if (event.type === "account.deposited") {
      const amount = data.amount ?? data.value ?? 0;
      const row = accountRows.get(data.accountId);
      if (row && amount !== 0) accountRows.set(data.accountId, { ...row, balance: row.balance + amount * scale, deposits: row.deposits + 1 });
    } else if (event.type === "account.closed") {
      accountRows.delete(data.accountId);
      const open = (openPerOwner.get(data.owner) ?? 0) - 1;
      if (open === 0) openPerOwner.delete(data.owner);
      else openPerOwner.set(data.owner, open);
    }
  }
  const byId = <T extends { id: string }>(rows: Iterable<T>) => [...rows].sort((a, b) => (a.id < b.id ? -1 : 1));
  return { accounts: byId(accountRows.values()), owners: byId([...openPerOwner].map(([id, open]) => ({ id, open }))) };
}

/** A read-model store whose batches for one generation can be held at a gate, and that counts batches. */
class GatedReadModelStore extends InMemoryReadModelStore {
  readonly applied = new Map<number, number>();
  held: { generation: number; afterBatches: number; gate: Promise<void> } | undefined;
  waiting = 0;
  release: () => void = () => {};

  /** Holds the generation's batches once `afterBatches` of them were applied, until `release`. */
  hold(generation: number, afterBatches: number): () => void {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.held = { generation, afterBatches, gate };
    this.release = () => {
      this.held = undefined;
      open();
    };
    return this.release;
  }

  override async applyBatch(
    target: ProjectionTarget,
    positions: { expected: number; next: number },
    compute: (load: LoadRows) => Promise<TableChanges[]>,
  ): Promise<"applied" | "moved"> {
    const held = this.held;
    if (held && held.generation === target.generation && (this.applied.get(target.generation) ?? 0) >= held.afterBatches) {
      this.waiting += 1;
      await held.gate;
      this.waiting -= 1;
    }
    const outcome = await super.applyBatch(target, positions, compute);
    if (outcome === "applied") this.applied.set(target.generation, (this.applied.get(target.generation) ?? 0) + 1);
    return outcome;
  }
}

async function readRows(readModels: InMemoryReadModelStore) {
  const active = await readModels.open("accounts");
  if (!active) throw new Error("no active generation");
  const all = { orderBy: { column: "id", direction: "asc" }, limit: 1000 } as const;
  return {
    accounts: (await active.reader.find(accounts, all)).items,
    owners: (await active.reader.find(owners, all)).items,
  };
}

async function generationsOf(readModels: InMemoryReadModelStore) {
  return (await readModels.generations("accounts")).map(({ generation, status, version }) => ({ generation, status, version }));
}

const waitFor = <T>(check: () => T | Promise<T>) => vi.waitFor(check, { timeout: 3_000, interval: 5 });

describe("ProjectionRunner", () => {
  let runners: ProjectionRunner[] = [];
  let gated: GatedReadModelStore | undefined;

  afterEach(async () => {
    gated?.release();
    await Promise.all(runners.map((runner) => runner.stop()));
    runners = [];
  });

  function setUp() {
    const store = new InMemoryEventStore();
    const readModels = new GatedReadModelStore();
    gated = readModels;
    /** Waits until the active generation has applied the whole log. */
    const caughtUp = () => waitFor(async () => expect((await readModels.open("accounts"))?.position).toBe(await store.headPosition()));
    /** Position of the `count`th event the projection reads. */
    const positionOfProjected = async (count: number) => (await store.readAll({ types: ["account.*"], limit: count })).lastPosition;
    const lease = new InMemoryLease();
    const errors: Array<{ message: string; attempt: number }> = [];
    const runner = (overrides: Partial<ProjectionRunnerOptions> = {}) => {
      const created = new ProjectionRunner({
        store,
        readModels,
        lease,
        owner: "process-a",
        projections: [accountsProjection()],
        upcast,
        batchSize: 10,
        pollIntervalMs: 20,
        leaseTtlMs: 150,
        retry: { initialDelayMs: 5, maxDelayMs: 20 },
        onError: (error, { attempt }) => errors.push({ message: (error as Error).message, attempt }),
        ...overrides,
      });
      runners.push(created);
      return created;
    };
    return { store, readModels, lease, errors, runner, caughtUp, positionOfProjected };
  }

  describe("applyEventsToRows", () => {
    async function storedEvents(drafts: Draft[]): Promise<StoredEvent[]> {
      const store = new InMemoryEventStore();
      await append(store, drafts);
      return (await store.readAll({ limit: 100 })).events;
    }

    function mapLoader(rows: Record<string, ReadModelRow[]>) {
      const calls: Array<{ table: string; keys: string[] }> = [];
      const load: LoadRows = async (table, keys) => {
        calls.push({ table: table.name, keys: [...keys] });
        const existing = new Map((rows[table.name] ?? []).map((row) => [row[table.key] as string, row]));
        return new Map(keys.flatMap((key) => (existing.has(key) ? [[key, existing.get(key)!] as const] : [])));
      };
      return { calls, load };
    }

    it("loads each table's touched rows once and answers only the rows that changed or went away", async () => {
      const openedAt = new Date("2026-01-01T00:00:00.000Z");
      const events = await storedEvents([
        deposited("a1", 5),
        opened("b1", "bob"),
        deposited("b1", 2),
        deposited("a1", 1),
        deposited("a2", 0),
        opened("t1", "tia"),
        closed("t1", "tia"),
        closed("a3", "ann"),
      ]);
      const { calls, load } = mapLoader({
        accounts: [
          { id: "a1", owner: "ann", balance: 10, deposits: 1, openedAt },
          { id: "a2", owner: "ann", balance: 3, deposits: 1, openedAt },
          { id: "a3", owner: "ann", balance: 0, deposits: 0, openedAt },
        ],
        owners: [{ id: "ann", open: 3 }],
      });

      const changes = await applyEventsToRows(accountsProjection(), events, load);

      expect(calls).toEqual([
        { table: "accounts", keys: ["a1", "b1", "a2", "t1", "a3"] },
        { table: "owners", keys: ["bob", "tia", "ann"] },
      ]);
      expect(changes).toEqual([
        {
          table: "accounts",
          upserts: [
            { id: "a1", owner: "ann", balance: 16, deposits: 3, openedAt },
            { id: "b1", owner: "bob", balance: 2, deposits: 1, openedAt: new Date(events[1]!.time) },
          ],
          // t1 came and went inside the page: nothing to write for it.
          deletes: ["a3"],
        },
        { table: "owners", upserts: [{ id: "bob", open: 1 }, { id: "ann", open: 2 }], deletes: [] },
      ]);
    });

    it("loads no table the page does not touch, and writes no row evolve handed back unchanged", async () => {
      const openedAt = new Date("2026-01-01T00:00:00.000Z");
      const { calls, load } = mapLoader({ accounts: [{ id: "a1", owner: "ann", balance: 10, deposits: 1, openedAt }] });

      const changes = await applyEventsToRows(accountsProjection(), await storedEvents([deposited("a1", 0), deposited("a1", 0)]), load);

      expect(calls).toEqual([{ table: "accounts", keys: ["a1"] }]);
      expect(changes).toEqual([]);
    });

    it("refuses a row whose key is not the key it was evolved for", async () => {
      const projection = accountsProjection();
      const broken: ProjectionDefinition = {
        ...projection,
        tables: [defineTableProjection({ table: owners, keysOf: () => ["x"], evolve: () => ({ id: "y", open: 1 }) })],
      };
      await expect(applyEventsToRows(broken, await storedEvents([opened("a", "ann")]), mapLoader({}).load)).rejects.toThrow(
        "evolve of account.opened for owners key x returned a row whose id is y",
      );
    });
  });

  it("catches up from the start in batches, then follows appends live", async () => {
    const { store, readModels, runner } = setUp();
    await append(store, history(40));

    runner().start();
    const head = await store.headPosition();
    await waitFor(async () => expect((await readModels.open("accounts"))?.position).toBe(head));
    expect(await readRows(readModels)).toEqual(await expectedRows(store));
    expect(readModels.applied.get(1)).toBeGreaterThanOrEqual(5);
    expect(await generationsOf(readModels)).toEqual([{ generation: 1, status: "active", version: 1 }]);

    await append(store, [deposited("a2", 1000), opened("a9", "dee"), noise(99)]);
    await waitFor(async () => expect((await readModels.open("accounts"))?.position).toBe(head + 3));
    expect(await readRows(readModels)).toEqual(await expectedRows(store));
  });

  it("moves the position over events of other types without rescanning them", async () => {
    const { store, readModels, runner } = setUp();
    await append(store, Array.from({ length: 30 }, (_, n) => noise(n)));
    const readAll = vi.spyOn(store, "readAll");

    runner().start();
    await waitFor(async () => expect((await readModels.open("accounts"))?.position).toBe(30));
    // Idle polls go on reading from the head, never from 0 again.
    await waitFor(() => expect(readAll.mock.calls.length).toBeGreaterThanOrEqual(4));
    expect(readAll.mock.calls.slice(1).every(([filter]) => filter.after === 30)).toBe(true);
    expect(await readRows(readModels)).toEqual({ accounts: [], owners: [] });
  });

  it("writes nothing of a batch whose evolve throws, retries it with lastError set, and recovers", async () => {
    const { store, readModels, errors, runner, caughtUp } = setUp();
    let poisoned = true;
    const projection = accountsProjection({ fails: (event) => poisoned && (event.data as { amount?: number }).amount === 666 });
    await append(store, history(3));
    const running = runner({ projections: [projection], batchSize: 100 });
    running.start();
    await caughtUp();
    const before = await readRows(readModels);
    const head = await store.headPosition();

    await append(store, [deposited("a0", 1), deposited("a0", 666), deposited("a1", 2)]);
    const failure = `cannot project event ${head + 2}`;
    await waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(3));
    expect(errors.slice(0, 3)).toEqual([1, 2, 3].map((attempt) => ({ message: failure, attempt })));
    // Not even the page's first event, which evolved fine, was written.
    expect((await readModels.open("accounts"))?.position).toBe(head);
    expect(await readRows(readModels)).toEqual(before);
    const [failing] = await running.status();
    expect(failing).toMatchObject({ state: "failing", lastError: { message: failure, at: expect.any(String) }, runningHere: true });

    poisoned = false;
    await caughtUp();
    expect(await readRows(readModels)).toEqual(await expectedRows(store));
    const [recovered] = await running.status();
    expect(recovered).toMatchObject({ state: "live", lag: 0, lastError: { message: failure } });
  });

  it("runs a projection in one process of those sharing the lease; another takes over when it stops", async () => {
    const { store, readModels, runner } = setUp();
    await append(store, history(20));
    const first = runner({ owner: "process-a" });
    const second = runner({ owner: "process-b" });
    first.start();
    second.start();

    const head = await store.headPosition();
    await waitFor(async () => expect((await readModels.open("accounts"))?.position).toBe(head));
    const [a] = await first.status();
    const [b] = await second.status();
    expect([a?.runningHere, b?.runningHere].sort()).toEqual([false, true]);
    // Both report the same figures: they come from the read-model store and the log.
    const { runningHere: _a, eventsPerSecond: _ar, ...figuresA } = a!;
    const { runningHere: _b, eventsPerSecond: _br, ...figuresB } = b!;
    expect(figuresA).toEqual(figuresB);
    expect(await generationsOf(readModels)).toEqual([{ generation: 1, status: "active", version: 1 }]);

    const [holder, standby] = a?.runningHere ? [first, second] : [second, first];
    await holder.stop();
    await append(store, [deposited("a0", 7)]);
    await waitFor(async () => expect((await standby.status())[0]).toMatchObject({ runningHere: true, position: head + 1, lag: 0 }));
    expect(await readRows(readModels)).toEqual(await expectedRows(store));
  });

  it("applies every event once when two runners work one generation at the same time (a lapsed lease)", async () => {
    const { store, readModels, runner } = setUp();
    await append(store, history(60));
    const leases: Lease[] = [new InMemoryLease(), new InMemoryLease()];
    runner({ owner: "process-a", lease: leases[0]! }).start();
    runner({ owner: "process-b", lease: leases[1]!, batchSize: 7 }).start();

    const head = await store.headPosition();
    await waitFor(async () => expect((await readModels.open("accounts"))?.position).toBe(head));
    await append(store, [deposited("a0", 5), deposited("a4", 6)]);
    await waitFor(async () => expect((await readModels.open("accounts"))?.position).toBe(head + 2));
    expect(await readRows(readModels)).toEqual(await expectedRows(store));
  });

  it("rebuilds into a new generation while queries read the old one, then switches over", async () => {
    const { store, readModels, runner, caughtUp, positionOfProjected } = setUp();
    await append(store, history(40));
    const running = runner();
    running.start();
    const head = await store.headPosition();
    await caughtUp();
    const release = readModels.hold(2, 1);
    const firstPage = await positionOfProjected(10);

    expect(await running.rebuild("accounts")).toEqual({ generation: 2 });
    await waitFor(() => expect(readModels.waiting).toBe(1));
    const [rebuilding] = await running.status();
    expect(rebuilding).toMatchObject({ state: "rebuilding", generation: 1, position: head, lag: 0, rebuild: { generation: 2, position: firstPage } });
    expect(rebuilding?.rebuild?.progress).toBeCloseTo(firstPage / head);
    expect(Date.parse(rebuilding?.rebuild?.startedAt ?? "")).not.toBeNaN();
    // Queries keep reading the complete old generation meanwhile.
    expect((await readModels.open("accounts"))?.generation).toBe(1);
    expect(await readRows(readModels)).toEqual(await expectedRows(store));
    // Asking again while it runs answers the rebuild under way.
    expect(await running.rebuild("accounts")).toEqual({ generation: 2 });

    release();
    await waitFor(async () => expect((await readModels.open("accounts"))?.generation).toBe(2));
    expect(await generationsOf(readModels)).toEqual([
      { generation: 1, status: "retired", version: 1 },
      { generation: 2, status: "active", version: 1 },
    ]);
    expect(await readRows(readModels)).toEqual(await expectedRows(store));
    await append(store, [deposited("a0", 3)]);
    await waitFor(async () => expect((await readModels.open("accounts"))?.position).toBe(head + 1));
    expect(await readRows(readModels)).toEqual(await expectedRows(store));
    expect((await readModels.generations("accounts"))[0]?.position).toBe(head);
    expect((await running.status())[0]).toMatchObject({ state: "live", generation: 2, rebuild: null });
  });

  it("builds a rebuild asked for in a process that does not hold the lease", async () => {
    const { store, readModels, runner, caughtUp } = setUp();
    await append(store, history(10));
    runner({ owner: "process-a" }).start();
    await caughtUp();

    const elsewhere = runner({ owner: "process-b" });
    expect(await elsewhere.rebuild("accounts")).toEqual({ generation: 2 });
    await waitFor(async () => expect((await readModels.open("accounts"))?.generation).toBe(2));
    expect(await readRows(readModels)).toEqual(await expectedRows(store));
    await expect(elsewhere.rebuild("nope")).rejects.toThrow(NotFoundError);
  });

  it("rebuilds on start when the projection's version changed, the old version serving until the new one caught up", async () => {
    const { store, readModels, runner } = setUp();
    await append(store, history(30));
    const head = await store.headPosition();
    const v1 = runner();
    v1.start();
    await waitFor(async () => expect((await readModels.open("accounts"))?.position).toBe(head));
    await v1.stop();
    const release = readModels.hold(2, 1);

    runner({ projections: [accountsProjection({ version: 2, scale: 100 })] }).start();
    await waitFor(() => expect(readModels.waiting).toBe(1));
    expect(await generationsOf(readModels)).toEqual([
      { generation: 1, status: "active", version: 1 },
      { generation: 2, status: "building", version: 2 },
    ]);
    expect(await readRows(readModels)).toEqual(await expectedRows(store));

    release();
    await waitFor(async () => expect((await readModels.open("accounts"))?.generation).toBe(2));
    expect(await readRows(readModels)).toEqual(await expectedRows(store, 100));
    expect(await generationsOf(readModels)).toEqual([
      { generation: 1, status: "retired", version: 1 },
      { generation: 2, status: "active", version: 2 },
    ]);
  });

  it("drops a rebuild left by an older version and rebuilds with the current one", async () => {
    const { store, readModels, runner, caughtUp } = setUp();
    await append(store, history(10));
    const v1 = runner();
    v1.start();
    await caughtUp();
    await v1.rebuild("accounts");
    await v1.stop();
    // Stopped before it could be built: still building, by version 1 (it may have advanced).
    expect((await generationsOf(readModels)).map(({ generation, version }) => ({ generation, version }))).toEqual([
      { generation: 1, version: 1 },
      { generation: 2, version: 1 },
    ]);

    runner({ projections: [accountsProjection({ version: 2, scale: 100 })] }).start();
    await waitFor(async () => expect((await readModels.open("accounts"))?.generation).toBe(3));
    expect(await generationsOf(readModels)).toEqual([
      { generation: 1, status: "retired", version: 1 },
      { generation: 3, status: "active", version: 2 },
    ]);
    expect(await readRows(readModels)).toEqual(await expectedRows(store, 100));
  });

  it("leaves a projection built by a newer version alone, and its lease free", async () => {
    const { store, readModels, lease, runner, caughtUp } = setUp();
    await append(store, history(5));
    const v2 = runner({ projections: [accountsProjection({ version: 2 })] });
    v2.start();
    await caughtUp();
    await v2.stop();

    const v1 = runner();
    v1.start();
    await waitFor(async () => expect((await v1.status())[0]?.lastError?.message).toBe("a generation was built by a version above 1, which this process runs"));
    await append(store, [deposited("a0", 1)]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect((await v1.status())[0]).toMatchObject({ runningHere: false, lag: 1 });
    expect(await generationsOf(readModels)).toEqual([{ generation: 1, status: "active", version: 2 }]);
    expect(await lease.tryAcquire("projection:accounts", "process-c", 1_000)).toBe(true);
  });

  it("reports position, lag, state and rate the same way before, during and after catch-up", async () => {
    const { store, readModels, runner, positionOfProjected } = setUp();
    // More than the 1,000 events behind at which a projection counts as catching up, not live.
    await append(store, history(1_100));
    const head = await store.headPosition();
    const firstPage = await positionOfProjected(10);
    const running = runner();

    expect(await running.status()).toEqual([
      {
        name: "accounts",
        description: "Account balances and owners",
        version: 1,
        state: "stopped",
        generation: null,
        position: 0,
        headPosition: head,
        lag: head,
        rebuild: null,
        eventsPerSecond: 0,
        lastError: null,
        runningHere: false,
      },
    ]);

    const release = readModels.hold(1, 1);
    running.start();
    await waitFor(() => expect(readModels.waiting).toBe(1));
    // Active at once, so queries answer (with the position) while it catches up.
    expect((await readModels.open("accounts"))?.position).toBe(firstPage);
    expect((await running.status())[0]).toMatchObject({ state: "catching_up", generation: 1, position: firstPage, lag: head - firstPage, runningHere: true });

    release();
    await waitFor(async () => expect((await running.status())[0]).toMatchObject({ state: "live", position: head, lag: 0 }));
    const projected = (await store.readAll({ types: ["account.*"], limit: 5_000 })).events.length;
    expect((await running.status())[0]?.eventsPerSecond).toBe(projected / 5);
  });

  it("stops after the batch in progress, and frees the lease", async () => {
    const { store, readModels, lease, runner, positionOfProjected } = setUp();
    await append(store, history(10));
    const release = readModels.hold(1, 0);
    const running = runner();
    running.start();
    await waitFor(() => expect(readModels.waiting).toBe(1));

    let stopped = false;
    const stopping = running.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(stopped).toBe(false);
    release();
    await stopping;

    const firstPage = await positionOfProjected(10);
    expect((await readModels.open("accounts"))?.position).toBe(firstPage);
    expect((await running.status())[0]).toMatchObject({ runningHere: false, position: firstPage, lag: (await store.headPosition()) - firstPage });
    expect(await lease.tryAcquire("projection:accounts", "process-c", 1_000)).toBe(true);
  });
});
