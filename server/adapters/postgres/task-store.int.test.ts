import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventBus } from "@/server/engine/bus";
import { EventTypeRegistry } from "@/server/engine/core/registry";
import { InMemoryEventStore } from "@/server/engine/store/memory-event-store";
import { EventPublisher } from "@/server/engine/store/publisher";
import { registerTaskEventTypes } from "@/server/engine/tasks/events";
import { TaskQueue } from "@/server/engine/tasks/task-queue";
import { outcomeTaskTypes } from "@/server/engine/tasks/task-queue.fixtures";
import { describeTaskStoreContract, taskRecord } from "@/server/engine/tasks/task-store.contract";
import { eventually } from "@/server/engine/transport/transport.contract";
import { migrate, openDatabase, type Database } from "./database";
import { PostgresTaskStore } from "./task-store";
import { createTestDatabase, type TestDatabase } from "./test-database";
import { PostgresDeadLetterStore } from "./transport/postgres-dead-letter-store";
import { createPostgresDriver } from "./transport/postgres-driver";

let testDatabase: TestDatabase;
let database: Database;

beforeAll(async () => {
  testDatabase = await createTestDatabase("eventloom_tasks");
  database = await openDatabase({ databaseUrl: testDatabase.url, poolSize: 6 });
  await migrate(database);
});

afterAll(async () => {
  await database?.close();
  await testDatabase?.drop();
});

describeTaskStoreContract("postgres", async () => {
  await database.db.execute(sql`truncate eventloom_tasks`);
  return new PostgresTaskStore(database);
});

describe("PostgresTaskStore", () => {
  it("keeps times to the millisecond and JSON exactly as given", async () => {
    await database.db.execute(sql`truncate eventloom_tasks`);
    const store = new PostgresTaskStore(database);
    const id = "0190f5e2-7c1a-7000-8000-000000000001";
    const at = "2026-03-01T08:00:00.123Z";
    const input = { text: "naïve ✓ \"quoted\" \\ back", n: 1.5, list: [null, true, { deep: "x" }] };
    await store.create(taskRecord(at, { id, type: "t", priority: "normal", input }));
    expect(await store.get(id)).toMatchObject({ input, createdAt: at, updatedAt: at, startedAt: null });
    expect(await store.get("not-a-uuid")).toBeUndefined();
    expect(await store.update("not-a-uuid", { status: "dead" })).toBeUndefined();
    expect(await store.list({ limit: 5, cursor: "nope" })).toEqual({ items: [], next: null });
    // The status check refuses what the queue never writes.
    await expect(store.update(id, { status: "paused" as never })).rejects.toThrow();
  });

  it("runs a task queue end to end on the Postgres transport: priorities, retries on the schedule, dead", async () => {
    await database.db.execute(sql`truncate eventloom_tasks`);
    const registry = new EventTypeRegistry();
    registerTaskEventTypes(registry);
    const driver = createPostgresDriver({ database, pollIntervalMs: 20 });
    const order: string[] = [];
    const queue = new TaskQueue({
      driver,
      store: new PostgresTaskStore(database),
      events: new EventPublisher(new InMemoryEventStore(), registry, new EventBus(), () => undefined),
      deadLetters: new PostgresDeadLetterStore(database),
      topic: `tasks-${randomBytes(4).toString("hex")}`,
      concurrency: 1,
      retry: { scheduleMs: [50, 100] },
      types: outcomeTaskTypes(order),
    });
    await driver.connect();
    try {
      for (const [name, priority] of [["low", "low"], ["normal", "normal"], ["high", "high"]] as const) {
        await queue.submit({ type: "note", input: { name }, priority });
      }
      const flaky = await queue.submit({ type: "flaky", input: { name: "f" } });
      const doomed = await queue.submit({ type: "doomed", input: { name: "d" } });
      await queue.start();
      await eventually(async () => expect((await queue.get(flaky.id))?.status).toBe("succeeded"), 20_000);
      await eventually(async () => expect((await queue.get(doomed.id))?.status).toBe("dead"), 20_000);
      expect(order).toEqual(["high", "normal", "low"]);
      expect(await queue.get(flaky.id)).toMatchObject({ attempts: 3, result: { tries: 3 }, error: null });
      expect(await queue.get(doomed.id)).toMatchObject({ attempts: 1, error: { type: "NonRetryableError", message: "never" } });
      const letters = await new PostgresDeadLetterStore(database).list({ subscription: "task-workers", limit: 10 });
      expect(letters.items.map((letter) => letter.message.id)).toContain(doomed.id);
      expect((await queue.counts()).byStatus).toMatchObject({ succeeded: 4, dead: 1 });
    } finally {
      await queue.stop();
      await driver.close();
    }
  });
});
