import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKafkaDriver } from "@/server/adapters/kafka";
import { migrate, openDatabase, type Database } from "@/server/adapters/postgres/database";
import { createTestDatabase, type TestDatabase } from "@/server/adapters/postgres/test-database";
import { createPostgresDriver } from "@/server/adapters/postgres/transport/postgres-driver";
import { createRabbitmqDriver } from "@/server/adapters/rabbitmq";
import { createRedisDriver } from "@/server/adapters/redis";
import { TaskQueue } from "@/server/engine/tasks/task-queue";
import { outcomeTaskTypes } from "@/server/engine/tasks/task-queue.fixtures";
import { InMemoryTaskStore } from "@/server/engine/tasks/task-store";
import type { TransportDriver } from "@/server/engine/transport/driver";
import { InMemoryDeadLetterStore, MemoryDriver } from "@/server/engine/transport/memory-driver";
import { eventually } from "@/server/engine/transport/transport.contract";

/**
 * The task queue rides on the transport, so priorities, retries and dead tasks must behave the
 * same on every broker: the same backlog on each, one worker, the same outcome.
 */

let testDatabase: TestDatabase;
let database: Database;

beforeAll(async () => {
  testDatabase = await createTestDatabase("eventloom_task_brokers");
  database = await openDatabase({ databaseUrl: testDatabase.url, poolSize: 4 });
  await migrate(database);
});

afterAll(async () => {
  await database?.close();
  await testDatabase?.drop();
});

const brokers: Array<[string, () => TransportDriver]> = [
  ["memory", () => new MemoryDriver()],
  ["postgres", () => createPostgresDriver({ database, pollIntervalMs: 20 })],
  ["redis", () => createRedisDriver({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", onError: () => undefined })],
  ["rabbitmq", () => createRabbitmqDriver({ url: process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672" })],
  ["kafka", () => createKafkaDriver({ brokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",") })],
];

describe.each(brokers)("the task queue on the %s transport", (_name, makeDriver) => {
  it("runs a backlog by priority, retries on the schedule and dead-letters a non-retryable task", async () => {
    const driver = makeDriver();
    const order: string[] = [];
    const deadLetters = new InMemoryDeadLetterStore();
    const suffix = randomBytes(4).toString("hex");
    const queue = new TaskQueue({
      driver,
      store: new InMemoryTaskStore(),
      events: { publish: async () => undefined },
      deadLetters,
      topic: `tasks-it-${suffix}`,
      subscription: `task-workers-${suffix}`,
      concurrency: 1,
      retry: { scheduleMs: [100, 200] },
      types: outcomeTaskTypes(order),
    });
    try {
      await driver.connect();
      const backlog = [["low-1", "low"], ["normal-1", "normal"], ["high-1", "high"], ["low-2", "low"], ["high-2", "high"], ["normal-2", "normal"]] as const;
      for (const [name, priority] of backlog) await queue.submit({ type: "note", input: { name }, priority });
      const flaky = await queue.submit({ type: "flaky", input: { name: "f" }, priority: "low" });
      const doomed = await queue.submit({ type: "doomed", input: { name: "d" }, priority: "low" });
      await queue.start();

      await eventually(async () => expect((await queue.counts()).byStatus).toMatchObject({ succeeded: 7, dead: 1 }), 30_000);
      // Priority order on every broker; FIFO across keys (each task is its own key here) is not
      // promised by every one (Kafka spreads keys over partitions).
      expect(order.map((name) => name.split("-")[0])).toEqual(["high", "high", "normal", "normal", "low", "low"]);
      expect(await queue.get(flaky.id)).toMatchObject({ status: "succeeded", attempts: 3, result: { tries: 3 } });
      expect(await queue.get(doomed.id)).toMatchObject({ status: "dead", attempts: 1, error: { type: "NonRetryableError", message: "never" } });
      const letters = await deadLetters.list({ limit: 10 });
      expect(letters.items.map((letter) => [letter.message.id, letter.attempts])).toEqual([[doomed.id, 1]]);
    } finally {
      await queue.stop({ graceMs: 1_000 });
      await driver.close();
    }
  });
});
