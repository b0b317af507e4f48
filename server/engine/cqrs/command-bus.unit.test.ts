import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { EventBus } from "../bus";
import { buildEnvelope, type StoredEvent } from "../core/envelope";
import { EngineError, NotFoundError, RuleViolationError, ValidationError, VersionConflictError } from "../core/errors";
import { newId } from "../core/ids";
import { systemPrincipal, type Principal } from "../core/principal";
import { EventTypeRegistry } from "../core/registry";
import { parseTraceparent } from "../core/traceparent";
import { InMemoryEventStore } from "../store/memory-event-store";
import { allow, defineCommand, deny } from "./command";
import { CommandBus } from "./command-bus";
import type { DecidedEvent, Decider } from "./decider";
import { InMemorySnapshotStore } from "./memory-snapshot-store";
import type { SnapshotStore } from "./snapshot-store";

// A toy bank account: open (optionally with a first deposit), deposit, withdraw.

type AccountEvent =
  | DecidedEvent<"account.opened", { accountId: string; owner: string; currency: string }>
  | DecidedEvent<"account.deposited", { amount: number; depositId: string }>
  | DecidedEvent<"account.withdrawn", { amount: number }>;

type AccountCommand =
  | { type: "open"; accountId: string; owner: string; currency: string; initialDeposit: number; depositId: string }
  | { type: "deposit"; accountId: string; amount: number; depositId: string }
  | { type: "withdraw"; accountId: string; amount: number };

interface AccountState {
  owner: string | null;
  balance: number;
}

const accountDecider: Decider<AccountCommand, AccountState, AccountEvent> = {
  name: "account",
  initialState: () => ({ owner: null, balance: 0 }),
  evolve(state, event) {
    switch (event.type) {
      case "account.opened":
        return { ...state, owner: event.data.owner };
      case "account.deposited":
        return { ...state, balance: state.balance + event.data.amount };
      case "account.withdrawn":
        return { ...state, balance: state.balance - event.data.amount };
    }
  },
  decide(command, state) {
    if (command.type === "open") {
      if (state.owner !== null) throw new RuleViolationError("account_exists", `Account ${command.accountId} exists`);
      const opened: AccountEvent = { type: "account.opened", data: { accountId: command.accountId, owner: command.owner, currency: command.currency } };
      if (command.initialDeposit === 0) return [opened];
      return [opened, { type: "account.deposited", data: { amount: command.initialDeposit, depositId: command.depositId } }];
    }
    if (state.owner === null) throw new RuleViolationError("account_not_found", `No account ${command.accountId}`);
    if (command.type === "deposit") {
      return command.amount === 0 ? [] : [{ type: "account.deposited", data: { amount: command.amount, depositId: command.depositId } }];
    }
    if (command.amount > state.balance) throw new RuleViolationError("insufficient_funds", `Balance ${state.balance} < ${command.amount}`);
    return [{ type: "account.withdrawn", data: { amount: command.amount } }];
  },
  snapshot: { every: 3, schemaVersion: 2 },
};

const streamOf = (accountId: string) => `account-${accountId}`;

const openAccount = defineCommand({
  name: "account.open",
  description: "Opens an account",
  schema: z.strictObject({
    accountId: z.uuid(),
    owner: z.string().min(1),
    currency: z.enum(["EUR", "USD"]),
    initialDeposit: z.number().int().nonnegative().default(0),
  }),
  scope: "admin",
  priority: "high",
  decider: accountDecider,
  streamId: (command) => streamOf(command.accountId),
  prepare: (input, context): AccountCommand => ({ type: "open", ...input, depositId: context.newId("deposit") }),
});

const deposit = defineCommand({
  name: "account.deposit",
  description: "Deposits money",
  schema: z.strictObject({ accountId: z.uuid(), amount: z.number().int().nonnegative(), note: z.string().optional() }),
  decider: accountDecider,
  streamId: (command) => streamOf(command.accountId),
  prepare: (input, context): AccountCommand => ({ type: "deposit", accountId: input.accountId, amount: input.amount, depositId: context.newId("deposit") }),
});

const withdraw = defineCommand({
  name: "account.withdraw",
  description: "Withdraws money; only the owner may",
  schema: z.strictObject({ accountId: z.uuid(), amount: z.number().int().positive() }),
  decider: accountDecider,
  streamId: (command) => streamOf(command.accountId),
  prepare: (input): AccountCommand => ({ type: "withdraw", ...input }),
  authorize: ({ principal, state }) =>
    principal.kind === "system" || principal.name === state.owner ? allow : deny("only the account's owner may withdraw"),
});

const NOW = Date.parse("2026-05-01T09:30:00.000Z");
const bank = systemPrincipal("bank");
const alice: Principal = { kind: "api_key", id: "key-alice", name: "alice", scopes: ["commands:execute"] };
const bob: Principal = { kind: "api_key", id: "key-bob", name: "bob", scopes: ["commands:execute"] };

function setup(options: { snapshots?: SnapshotStore } = {}) {
  const registry = new EventTypeRegistry();
  registry.define({
    type: "account.opened",
    version: 1,
    description: "opened",
    schema: z.object({ accountId: z.uuid(), owner: z.string(), currency: z.string() }),
  });
  registry.define({ type: "account.deposited", version: 1, description: "in cents", schema: z.object({ cents: z.number().int() }) });
  registry.define({
    type: "account.deposited",
    version: 2,
    description: "in units, with the deposit's id",
    schema: z.object({ amount: z.number().int(), depositId: z.string() }),
    upcasters: [{ fromVersion: 1, upcast: (data) => ({ amount: (data as { cents: number }).cents / 100, depositId: "legacy" }) }],
  });
  registry.define({ type: "account.withdrawn", version: 1, description: "out", schema: z.object({ amount: z.number().int().positive() }) });

  const store = new InMemoryEventStore();
  const bus = new EventBus();
  const snapshots = options.snapshots ?? new InMemorySnapshotStore();
  const handlerErrors: Array<{ subscription: string; error: unknown }> = [];
  const snapshotErrors: unknown[] = [];
  const commands = new CommandBus({
    store,
    validator: registry,
    sink: bus,
    snapshots,
    now: () => NOW,
    onHandlerError: (failure) => handlerErrors.push(failure),
    onSnapshotError: (error) => snapshotErrors.push(error),
  });
  commands.register(openAccount);
  commands.register(deposit);
  commands.register(withdraw);

  const accountId = newId();
  const stream = streamOf(accountId);
  const open = (initialDeposit = 0) => commands.execute("account.open", { accountId, owner: "alice", currency: "EUR", initialDeposit }, { principal: bank });
  return { registry, store, bus, snapshots, handlerErrors, snapshotErrors, commands, accountId, stream, open };
}

/** Makes another writer append to `streamId` right before each of the next `times` appends. */
function interleaveWriter(store: InMemoryEventStore, streamId: string, times: number) {
  const append = store.append.bind(store);
  let left = times;
  return vi.spyOn(store, "append").mockImplementation(async (appends, options) => {
    if (left > 0) {
      left -= 1;
      const other = buildEnvelope({ type: "account.deposited", data: { amount: 1, depositId: "other-writer" }, schemaversion: 2 });
      await append([{ streamId, expectedVersion: "any", events: [other] }]);
    }
    return append(appends, options);
  });
}

const typesOf = (events: StoredEvent[]) => events.map((event) => event.type);

describe("CommandBus: validation, scopes and policies", () => {
  it("rejects an unknown command with NotFoundError", async () => {
    const { commands } = setup();
    await expect(commands.execute("account.close", {}, { principal: bank })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("reports every failing field and appends nothing", async () => {
    const { commands, store } = setup();
    const failure = await commands
      .execute("account.deposit", { accountId: "not-a-uuid", amount: -5, memo: "x" }, { principal: alice })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ValidationError);
    expect((failure as ValidationError).issues.map((issue) => issue.path).sort()).toEqual(["accountId", "amount", "memo"]);
    expect((failure as ValidationError).issues.find((issue) => issue.path === "memo")?.message).toBe("is not allowed");

    const missing = await commands.execute("account.open", { currency: "GBP" }, { principal: bank }).catch((error: unknown) => error);
    expect((missing as ValidationError).issues).toEqual([
      { path: "accountId", message: "is required" },
      { path: "owner", message: "is required" },
      { path: "currency", message: expect.stringContaining("EUR") },
    ]);
    expect(await store.headPosition()).toBe(0);
  });

  it("needs commands:execute and the command's own scope", async () => {
    const { commands, accountId, store, open } = setup();
    const reader: Principal = { kind: "user", id: "u-1", name: "ana", scopes: ["queries:read"], role: "analyst" };
    const admin: Principal = { kind: "user", id: "u-2", name: "root", scopes: ["admin"], role: "admin" };

    await expect(
      commands.execute("account.open", { accountId, owner: "alice", currency: "EUR" }, { principal: alice }),
    ).rejects.toMatchObject({ code: "forbidden", message: expect.stringContaining("admin") });
    await open();
    await expect(commands.execute("account.deposit", { accountId, amount: 5 }, { principal: reader })).rejects.toMatchObject({
      code: "forbidden",
      message: expect.stringContaining("commands:execute"),
    });
    expect(await store.headPosition()).toBe(1);
    await expect(commands.execute("account.deposit", { accountId, amount: 5 }, { principal: admin })).resolves.toMatchObject({ version: 2 });
  });

  it("runs the command's policy against the loaded state", async () => {
    const { commands, accountId, store, open } = setup();
    await open(50);
    await expect(commands.execute("account.withdraw", { accountId, amount: 10 }, { principal: bob })).rejects.toMatchObject({
      code: "forbidden",
      message: "only the account's owner may withdraw",
    });
    expect(await store.headPosition()).toBe(2);
    await expect(commands.execute("account.withdraw", { accountId, amount: 10 }, { principal: alice })).resolves.toMatchObject({ version: 3 });
  });
});

describe("CommandBus: deciding and appending", () => {
  it("appends the decided events with the command's metadata and hands them to the bus", async () => {
    const { commands, bus, store, accountId, stream } = setup();
    const seen: string[] = [];
    bus.subscribe("account.*", (event) => void seen.push(event.id), { mode: "sync" });
    const caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    const result = await commands.execute(
      "account.open",
      { accountId, owner: "alice", currency: "EUR", initialDeposit: 20 },
      { principal: bank, correlationid: "corr-1", causationid: "cause-1", traceparent: caller },
    );

    const stored = await store.readStream(stream);
    expect(result).toEqual({
      command: "account.open",
      streamId: stream,
      version: 2,
      events: stored.map(({ id, type, position }) => ({ id, type, position })),
      replayed: false,
    });
    expect(typesOf(stored)).toEqual(["account.opened", "account.deposited"]);
    expect(seen).toEqual(stored.map((event) => event.id));
    for (const event of stored) {
      expect(event).toMatchObject({
        subject: stream,
        partitionkey: stream,
        source: "urn:eventloom:commands:account.open",
        priority: "high",
        time: new Date(NOW).toISOString(),
        correlationid: "corr-1",
        causationid: "cause-1",
      });
      const trace = parseTraceparent(event.traceparent);
      expect(trace?.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
      expect(trace?.spanId).not.toBe("b7ad6b7169203331");
    }
    expect(stored[1]?.schemaversion).toBe(2);
  });

  it("correlates the events of a command without a correlation with its first event, in one trace", async () => {
    const { store, stream, open } = setup();
    await open(20);
    const [opened, deposited] = await store.readStream(stream);
    expect(deposited?.correlationid).toBe(opened?.id);
    expect(opened?.correlationid).toBe(opened?.id);
    expect(opened).not.toHaveProperty("causationid");
    expect(parseTraceparent(deposited!.traceparent)?.traceId).toBe(parseTraceparent(opened!.traceparent)?.traceId);
  });

  it("propagates a rule violation and appends nothing", async () => {
    const { commands, store, accountId, open } = setup();
    await open(10);
    const failure = await commands.execute("account.withdraw", { accountId, amount: 11 }, { principal: alice }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RuleViolationError);
    expect(failure).toMatchObject({ rule: "insufficient_funds", code: "validation" });
    await expect(open()).rejects.toMatchObject({ rule: "account_exists" });
    expect(await store.headPosition()).toBe(2);
  });

  it("answers a command that decides nothing with the current version and no events", async () => {
    const { commands, store, accountId, stream, open } = setup();
    await open(10);
    expect(await commands.execute("account.deposit", { accountId, amount: 0 }, { principal: alice })).toEqual({
      command: "account.deposit",
      streamId: stream,
      version: 2,
      events: [],
      replayed: false,
    });
    expect(await store.headPosition()).toBe(2);
  });

  it("reports sync handler errors without failing the command", async () => {
    const { bus, handlerErrors, store, open } = setup();
    const boom = new Error("handler broke");
    bus.subscribe("account.opened", () => {
      throw boom;
    }, { mode: "sync", name: "breaks" });
    await expect(open()).resolves.toMatchObject({ version: 1 });
    expect(handlerErrors).toMatchObject([{ subscription: "breaks", error: boom }]);
    expect(await store.headPosition()).toBe(1);
  });

  it("reads stored events upcast to their latest version", async () => {
    const { commands, store, accountId, stream, open } = setup();
    await open();
    const legacy = buildEnvelope({ type: "account.deposited", data: { cents: 2500 }, schemaversion: 1 });
    await store.append([{ streamId: stream, expectedVersion: 1, events: [legacy] }]);
    await expect(commands.execute("account.withdraw", { accountId, amount: 26 }, { principal: alice })).rejects.toMatchObject({
      rule: "insufficient_funds",
    });
    await expect(commands.execute("account.withdraw", { accountId, amount: 25 }, { principal: alice })).resolves.toMatchObject({ version: 3 });
  });

  it("lets prepare load another aggregate", async () => {
    const { commands, accountId, open } = setup();
    await open(30);
    const target = newId();
    await commands.execute("account.open", { accountId: target, owner: "bob", currency: "EUR" }, { principal: bank });
    const loads: Array<{ version: number; balance: number }> = [];
    commands.register(
      defineCommand({
        name: "account.match_balance",
        description: "Deposits as much as another account holds",
        decider: accountDecider,
        streamId: (command) => streamOf(command.accountId),
        schema: z.strictObject({ accountId: z.uuid(), fromAccountId: z.uuid() }),
        async prepare(input, context): Promise<AccountCommand> {
          const from = await context.load(accountDecider, streamOf(input.fromAccountId));
          loads.push({ version: from.version, balance: from.state.balance });
          return { type: "deposit", accountId: input.accountId, amount: from.state.balance, depositId: context.newId("deposit") };
        },
      }),
    );
    const result = await commands.execute("account.match_balance", { accountId: target, fromAccountId: accountId }, { principal: bob });
    expect(loads).toEqual([{ version: 2, balance: 30 }]);
    expect(result).toMatchObject({ streamId: streamOf(target), version: 2 });
  });

  it("validates decided events against the registry like published ones", async () => {
    const { commands, store, accountId } = setup();
    commands.register(
      defineCommand({
        ...openAccount,
        name: "account.open_badly",
        decider: { ...accountDecider, decide: (): AccountEvent[] => [{ type: "account.opened", data: { accountId: "nope", owner: "x", currency: "EUR" } }] },
      }),
    );
    const failure = await commands
      .execute("account.open_badly", { accountId, owner: "x", currency: "EUR" }, { principal: bank })
      .catch((error: unknown) => error);
    expect((failure as ValidationError).issues.map((issue) => issue.path)).toEqual(["events[0].data.accountId"]);
    expect(await store.headPosition()).toBe(0);
  });
});

describe("CommandBus: versions and conflicts", () => {
  it("refuses a stale If-Match with expected and actual versions, without deciding", async () => {
    const { commands, store, accountId, stream, open } = setup();
    await open(10);
    const decide = vi.spyOn(accountDecider, "decide");
    try {
      const failure = await commands
        .execute("account.deposit", { accountId, amount: 5 }, { principal: alice, expectedVersion: 1 })
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(VersionConflictError);
      expect(failure).toMatchObject({ code: "conflict", streamId: stream, expected: 1, actual: 2 });
      expect(decide).not.toHaveBeenCalled();
    } finally {
      decide.mockRestore();
    }
    expect(await store.headPosition()).toBe(2);
    await expect(commands.execute("account.deposit", { accountId, amount: 5 }, { principal: alice, expectedVersion: 2 })).resolves.toMatchObject({
      version: 3,
    });
  });

  it("never retries a conflict when the caller sent If-Match", async () => {
    const { commands, store, accountId, stream, open } = setup();
    commands.register({ ...deposit, name: "account.deposit_retrying", retryOnConflict: 5 });
    await open();
    interleaveWriter(store, stream, 1);
    const readStream = vi.spyOn(store, "readStream");
    await expect(
      commands.execute("account.deposit_retrying", { accountId, amount: 5 }, { principal: alice, expectedVersion: 1 }),
    ).rejects.toMatchObject({ expected: 1, actual: 2 });
    expect(readStream).toHaveBeenCalledTimes(1);
    expect(typesOf(await store.readStream(stream))).toEqual(["account.opened", "account.deposited"]);
  });

  it("answers a lost race with a conflict when the command does not retry", async () => {
    const { commands, store, accountId, stream, open } = setup();
    await open();
    interleaveWriter(store, stream, 1);
    const failure = await commands.execute("account.deposit", { accountId, amount: 5 }, { principal: alice }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(VersionConflictError);
    expect(failure).toMatchObject({ expected: 1, actual: 2 });
    expect(await store.streamVersion(stream)).toBe(2);
  });

  it("retries a conflict a bounded number of times, re-deciding with the same prepared ids", async () => {
    const { commands, store, accountId, stream, open } = setup();
    const depositIds: string[] = [];
    commands.register({
      ...deposit,
      name: "account.deposit_retrying",
      retryOnConflict: 2,
      prepare(input, context) {
        depositIds.push(context.newId("deposit"));
        return deposit.prepare(input, context);
      },
    });
    await open();

    const append = interleaveWriter(store, stream, 2);
    const result = await commands.execute("account.deposit_retrying", { accountId, amount: 5 }, { principal: alice });
    expect(result.version).toBe(4);
    expect(append).toHaveBeenCalledTimes(3);
    expect(depositIds).toHaveLength(3);
    expect(new Set(depositIds).size).toBe(1);
    expect((await store.readStream(stream, { fromVersion: 4 }))[0]?.data).toEqual({ amount: 5, depositId: depositIds[0] });
    append.mockRestore();

    interleaveWriter(store, stream, 3);
    await expect(commands.execute("account.deposit_retrying", { accountId, amount: 5 }, { principal: alice })).rejects.toMatchObject({
      expected: 6,
      actual: 7,
    });
    expect((await store.readStream(stream)).filter((event) => (event.data as { amount?: number }).amount === 5)).toHaveLength(1);
  });
});

describe("CommandBus: idempotency", () => {
  it("replays the first result for the same key and input, even after the state moved on", async () => {
    const { commands, store, accountId, stream } = setup();
    const input = { accountId, owner: "alice", currency: "EUR", initialDeposit: 5 };
    const first = await commands.execute("account.open", input, { principal: bank, idempotencyKey: "k-1" });
    await commands.execute("account.deposit", { accountId, amount: 1 }, { principal: alice });

    const again = await commands.execute("account.open", { ...input }, { principal: bank, idempotencyKey: "k-1" });
    expect(again).toEqual({ ...first, replayed: true });
    expect(first).toMatchObject({ streamId: stream, version: 2, replayed: false });
    expect(await store.headPosition()).toBe(3);
    await expect(commands.execute("account.open", input, { principal: bank })).rejects.toMatchObject({ rule: "account_exists" });
  });

  it("refuses the same key with another input or command", async () => {
    const { commands, store, accountId, open } = setup();
    await open();
    await commands.execute("account.deposit", { accountId, amount: 1 }, { principal: alice, idempotencyKey: "k-1" });
    for (const [name, input] of [
      ["account.deposit", { accountId, amount: 2 }],
      ["account.withdraw", { accountId, amount: 1 }],
    ] as const) {
      const failure = await commands.execute(name, input, { principal: alice, idempotencyKey: "k-1" }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(EngineError);
      expect(failure).toMatchObject({ code: "conflict" });
      expect(failure).not.toBeInstanceOf(VersionConflictError);
    }
    expect(await store.headPosition()).toBe(2);
  });

  it("keeps each caller's keys apart", async () => {
    const { commands, store, accountId, open } = setup();
    await open();
    const input = { accountId, amount: 1 };
    await commands.execute("account.deposit", input, { principal: alice, idempotencyKey: "k-1" });
    const bobs = await commands.execute("account.deposit", input, { principal: bob, idempotencyKey: "k-1" });
    expect(bobs).toMatchObject({ version: 3, replayed: false });
    expect(await store.headPosition()).toBe(3);
  });

  it("appends once when two executions with one key race", async () => {
    const { commands, store, accountId, open } = setup();
    await open();
    const input = { accountId, amount: 7 };
    const results = await Promise.all([1, 2].map(() => commands.execute("account.deposit", input, { principal: alice, idempotencyKey: "k-race" })));
    expect(await store.headPosition()).toBe(2);
    expect(results.map((result) => result.replayed).sort()).toEqual([false, true]);
    expect(results[0]!.events).toEqual(results[1]!.events);
  });
});

describe("CommandBus: snapshots", () => {
  const deposits = async (commands: CommandBus, accountId: string, count: number) => {
    for (let i = 0; i < count; i += 1) await commands.execute("account.deposit", { accountId, amount: 10 }, { principal: alice });
  };

  it("saves a snapshot every N events and loads from it", async () => {
    const snapshots = new InMemorySnapshotStore();
    const save = vi.spyOn(snapshots, "save");
    const { commands, store, accountId, stream, open } = setup({ snapshots });
    await open();
    await deposits(commands, accountId, 5);
    expect(save.mock.calls.map(([snapshot]) => snapshot.version)).toEqual([3, 6]);
    expect(await snapshots.load(stream, "account", 2)).toEqual({
      streamId: stream,
      aggregate: "account",
      schemaVersion: 2,
      version: 6,
      state: { owner: "alice", balance: 50 },
    });

    const readStream = vi.spyOn(store, "readStream");
    await expect(commands.execute("account.withdraw", { accountId, amount: 60 }, { principal: alice })).rejects.toMatchObject({
      rule: "insufficient_funds",
    });
    await commands.execute("account.withdraw", { accountId, amount: 60 - 10 }, { principal: alice });
    expect(readStream.mock.calls).toEqual([
      [stream, { fromVersion: 7 }],
      [stream, { fromVersion: 7 }],
    ]);
  });

  it("ignores a snapshot of another schema version and replaces it", async () => {
    const snapshots = new InMemorySnapshotStore();
    const { commands, store, accountId, stream, open } = setup({ snapshots });
    await open();
    await deposits(commands, accountId, 3);
    await snapshots.save({ streamId: stream, aggregate: "account", schemaVersion: 1, version: 4, state: { owner: "alice", balance: 1_000_000 } });

    const readStream = vi.spyOn(store, "readStream");
    await expect(commands.execute("account.withdraw", { accountId, amount: 31 }, { principal: alice })).rejects.toMatchObject({
      rule: "insufficient_funds",
    });
    expect(readStream).toHaveBeenLastCalledWith(stream, { fromVersion: 1 });
    await commands.execute("account.withdraw", { accountId, amount: 30 }, { principal: alice });
    expect(await snapshots.load(stream, "account", 2)).toMatchObject({ version: 5, state: { balance: 0 } });
  });

  it("keeps the command's success when the snapshot cannot be saved", async () => {
    const failing: SnapshotStore = {
      load: async () => undefined,
      save: async () => {
        throw new Error("disk full");
      },
    };
    const { commands, store, snapshotErrors, accountId, open } = setup({ snapshots: failing });
    await open();
    await deposits(commands, accountId, 2);
    expect(snapshotErrors).toEqual([new Error("disk full")]);
    expect(await store.headPosition()).toBe(3);
  });
});

describe("CommandBus: catalog", () => {
  it("lists each command with the JSON Schema of its input", () => {
    const { commands } = setup();
    expect(commands.list().map((descriptor) => [descriptor.name, descriptor.scope])).toEqual([
      ["account.open", "admin"],
      ["account.deposit", "commands:execute"],
      ["account.withdraw", "commands:execute"],
    ]);
    const open = commands.list()[0]!;
    expect(open.description).toBe("Opens an account");
    expect(open.schema).toMatchObject({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      additionalProperties: false,
      required: ["accountId", "owner", "currency"],
      properties: {
        accountId: { type: "string", format: "uuid" },
        currency: { enum: ["EUR", "USD"] },
        initialDeposit: { type: "integer", default: 0 },
      },
    });
    expect(commands.list()[1]!.schema).toMatchObject({ required: ["accountId", "amount"], properties: { note: { type: "string" } } });
    expect(commands.get("account.deposit")).toBe(deposit);
    expect(commands.get("account.close")).toBeUndefined();
  });

  it("refuses a second command of the same name", () => {
    const { commands } = setup();
    expect(() => commands.register({ ...deposit })).toThrow(/already registered/);
  });
});
