import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { EventBus } from "@/server/engine/bus";
import { VersionConflictError } from "@/server/engine/core/errors";
import { newId } from "@/server/engine/core/ids";
import type { Principal } from "@/server/engine/core/principal";
import { EventTypeRegistry } from "@/server/engine/core/registry";
import { defineCommand } from "@/server/engine/cqrs/command";
import { CommandBus } from "@/server/engine/cqrs/command-bus";
import { foldEvents, type DecidedEvent, type Decider } from "@/server/engine/cqrs/decider";
import { migrate, openDatabase, type Database } from "./database";
import { PostgresEventStore } from "./postgres-event-store";
import { PostgresSnapshotStore } from "./snapshot-store";
import { createTestDatabase, type TestDatabase } from "./test-database";

type Incremented = DecidedEvent<"counter.incremented", { by: number }>;

const counter: Decider<{ by: number }, { total: number }, Incremented> = {
  name: "counter",
  initialState: () => ({ total: 0 }),
  evolve: (state, event) => ({ total: state.total + event.data.by }),
  decide: (command) => [{ type: "counter.incremented", data: { by: command.by } }],
  snapshot: { every: 10, schemaVersion: 1 },
};

const increment = defineCommand({
  name: "counter.increment",
  description: "Adds to a counter",
  schema: z.strictObject({ counterId: z.uuid(), by: z.number().int().positive() }),
  decider: counter,
  streamId: (command: { counterId: string; by: number }) => `counter-${command.counterId}`,
  prepare: (input) => input,
});

const EXECUTIONS = 50;
const caller: Principal = { kind: "api_key", id: "key-load", name: "load", scopes: ["commands:execute"] };

describe("CommandBus on PostgreSQL under concurrency", () => {
  let testDb: TestDatabase;
  let database: Database;
  let store: PostgresEventStore;
  let snapshots: PostgresSnapshotStore;
  let commands: CommandBus;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    database = await openDatabase({ databaseUrl: testDb.url });
    await migrate(database);
    const registry = new EventTypeRegistry();
    registry.define({ type: "counter.incremented", version: 1, description: "added", schema: z.object({ by: z.number().int().positive() }) });
    store = new PostgresEventStore(database);
    snapshots = new PostgresSnapshotStore(database);
    commands = new CommandBus({ store, validator: registry, sink: new EventBus(), snapshots });
    commands.register(increment);
    commands.register({ ...increment, name: "counter.increment_retrying", retryOnConflict: EXECUTIONS });
  });

  afterAll(async () => {
    await store.close();
    await database.close();
    await testDb.drop();
  });

  /** Each execution adds a distinct amount, so every event names the execution that wrote it. */
  const amounts = Array.from({ length: EXECUTIONS }, (_, index) => index + 1);

  it("gives every stream version to exactly one of many concurrent commands; the others get a conflict", async () => {
    const counterId = newId();
    const streamId = `counter-${counterId}`;
    const headBefore = await store.headPosition();

    const settled = await Promise.allSettled(amounts.map((by) => commands.execute("counter.increment", { counterId, by }, { principal: caller })));

    const winners = settled.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
    const losers = settled.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason as unknown] : []));
    expect(losers.length).toBeGreaterThan(0);
    for (const loser of losers) expect(loser).toBeInstanceOf(VersionConflictError);

    const stored = await store.readStream(streamId);
    expect(stored.map((event) => event.streamversion)).toEqual(winners.map((_, index) => index + 1));
    expect(winners.map((winner) => winner.version).sort((a, b) => a - b)).toEqual(stored.map((event) => event.streamversion));
    expect(new Set(winners.flatMap((winner) => winner.events.map((event) => event.id)))).toEqual(new Set(stored.map((event) => event.id)));
    expect(await store.headPosition()).toBe(headBefore + winners.length);
  });

  it("lets all of them through, one version each, when the command retries conflicts", async () => {
    const counterId = newId();
    const streamId = `counter-${counterId}`;
    const headBefore = await store.headPosition();

    const results = await Promise.all(
      amounts.map((by) => commands.execute("counter.increment_retrying", { counterId, by }, { principal: caller })),
    );

    expect(results.map((result) => result.version).sort((a, b) => a - b)).toEqual(amounts);
    const stored = await store.readStream(streamId);
    expect(stored.map((event) => event.streamversion)).toEqual(amounts);
    expect(stored.map((event) => (event.data as { by: number }).by).sort((a, b) => a - b)).toEqual(amounts);
    expect(await store.headPosition()).toBe(headBefore + EXECUTIONS);

    // Snapshots saved by racing executions: whichever is stored matches the events up to its version.
    const snapshot = await snapshots.load(streamId, "counter", 1);
    expect(snapshot?.version).toBeGreaterThanOrEqual(EXECUTIONS - counter.snapshot!.every + 1);
    const upToSnapshot = stored.filter((event) => event.streamversion <= snapshot!.version) as unknown as Incremented[];
    expect(snapshot?.state).toEqual(foldEvents(counter, counter.initialState(), upToSnapshot));
  });

  it("appends once when executions with one idempotency key race", async () => {
    const counterId = newId();
    const headBefore = await store.headPosition();
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        commands.execute("counter.increment", { counterId, by: 3 }, { principal: caller, idempotencyKey: `race-${counterId}` }),
      ),
    );
    expect(await store.headPosition()).toBe(headBefore + 1);
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    for (const result of results) expect(result).toMatchObject({ version: 1, events: results[0]!.events });
  });
});
