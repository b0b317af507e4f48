import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresAdvisoryLease } from "./advisory-lease";
import { createTestDatabase, type TestDatabase } from "./test-database";

let database: TestDatabase;
const leases: PostgresAdvisoryLease[] = [];
const lease = () => {
  const created = new PostgresAdvisoryLease(database.url);
  leases.push(created);
  return created;
};

beforeAll(async () => {
  database = await createTestDatabase("eventloom_lease");
});
afterAll(async () => {
  await Promise.all(leases.map((held) => held.close()));
  await database.drop();
});

describe("PostgresAdvisoryLease", () => {
  it("lets one session hold a name at a time, renews for the holder, and passes on release", async () => {
    const first = lease();
    const second = lease();
    expect(await first.tryAcquire("relay", "a", 1000)).toBe(true);
    expect(await first.tryAcquire("relay", "a", 1000)).toBe(true);
    expect(await second.tryAcquire("relay", "b", 1000)).toBe(false);
    expect(await second.tryAcquire("other", "b", 1000)).toBe(true);

    await first.release("relay", "a");
    expect(await second.tryAcquire("relay", "b", 1000)).toBe(true);
    expect(await first.tryAcquire("relay", "a", 1000)).toBe(false);
  });

  it("frees the lock when the holder's session dies, and the holder notices it lost it", async () => {
    const holder = lease();
    const successor = lease();
    expect(await holder.tryAcquire("crash", "a", 1000)).toBe(true);
    expect(await successor.tryAcquire("crash", "b", 1000)).toBe(false);

    await database.terminateSessions();
    // The successor's own session was cut too: it reconnects on its next query.
    expect(await successor.tryAcquire("crash", "b", 1000)).toBe(true);
    expect(await holder.tryAcquire("crash", "a", 1000)).toBe(false);
  });
});
