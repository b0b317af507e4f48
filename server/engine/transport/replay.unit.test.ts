import { describe, expect, it } from "vitest";
import { buildEnvelope } from "../core/envelope";
import { InMemoryEventStore } from "../store/memory-event-store";
import { CE_HEADERS, REPLAY_ID_HEADER } from "./codec";
import type { WireMessage } from "./driver";
import { countReplayEvents, runReplay, type CreateReplayOutcome, type NewReplay, type Replay, type ReplayStatus, type ReplayStore } from "./replay";

class MemoryReplayStore implements ReplayStore {
  readonly rows = new Map<string, Replay>();
  readonly progressCalls: Array<{ done: number; position: number }> = [];
  /** Called on every progress report (a test can cancel from there). */
  onProgress: ((replay: Replay) => void) | undefined;

  async create(replay: NewReplay): Promise<CreateReplayOutcome> {
    const now = new Date().toISOString();
    const row: Replay = { ...replay, status: "queued", done: 0, position: replay.filter.afterPosition, error: null, createdAt: now, startedAt: null, finishedAt: null, updatedAt: now };
    this.rows.set(replay.id, row);
    return { status: "created", replay: row };
  }
  async get(id: string) {
    return this.rows.get(id);
  }
  async list() {
    return [...this.rows.values()];
  }
  async start(id: string) {
    const row = this.rows.get(id);
    if (row?.status !== "queued") return false;
    row.status = "running";
    return true;
  }
  async progress(id: string, done: number, position: number): Promise<ReplayStatus | undefined> {
    const row = this.rows.get(id);
    if (!row) return undefined;
    Object.assign(row, { done, position });
    this.progressCalls.push({ done, position });
    this.onProgress?.(row);
    return row.status;
  }
  async finish(id: string, outcome: { status: "done" } | { status: "failed"; error: string }) {
    const row = this.rows.get(id);
    if (row?.status !== "running") return;
    row.status = outcome.status;
    row.error = outcome.status === "failed" ? outcome.error : null;
  }
  async cancel(id: string) {
    const row = this.rows.get(id);
    if (row && (row.status === "queued" || row.status === "running")) row.status = "cancelled";
    return row;
  }
  async failStale() {
    return 0;
  }
}

async function storeWith(count: number) {
  const store = new InMemoryEventStore();
  for (let index = 0; index < count; index++) {
    const type = index % 2 === 0 ? "probe.even" : "probe.odd";
    await store.append([{ streamId: `s-${index}`, expectedVersion: "any", events: [buildEnvelope({ type, subject: `s-${index}`, data: { index } })] }]);
  }
  return store;
}

function recordingDriver() {
  const delivered: Array<{ topic: string; group: string; message: WireMessage }> = [];
  return { delivered, redeliver: async (topic: string, group: string, message: WireMessage) => void delivered.push({ topic, group, message }) };
}

async function newReplay(replays: MemoryReplayStore, overrides: Partial<NewReplay> = {}): Promise<Replay> {
  const outcome = await replays.create({ id: "r-1", target: { subscription: "sub" }, filter: { afterPosition: 0, toPosition: 10 }, total: 10, ratePerSecond: null, createdBy: "test", ...overrides });
  if (outcome.status !== "created") throw new Error("not created");
  return outcome.replay;
}

describe("replays", () => {
  it("counts and delivers the matching events of the range, in log order, with the replay id beside the original id", async () => {
    const store = await storeWith(10);
    const filter = { afterPosition: 2, toPosition: 9, types: ["probe.even"] };
    // Event n (from 0) is at position n + 1: probe.even sits at the odd positions.
    expect(await countReplayEvents(store, filter, 100)).toBe(4);
    const replays = new MemoryReplayStore();
    const replay = await newReplay(replays, { filter });
    const driver = recordingDriver();
    expect(await runReplay({ store, driver, topic: "events", replays, replay, batchSize: 2 })).toBe("done");
    const positions = driver.delivered.map((entry) => Number(entry.message.headers[CE_HEADERS.position]));
    expect(positions).toEqual([3, 5, 7, 9]);
    expect(driver.delivered.every((entry) => entry.group === "sub" && entry.topic === "events")).toBe(true);
    expect(driver.delivered.every((entry) => entry.message.headers[REPLAY_ID_HEADER] === "r-1" && entry.message.id === entry.message.headers[CE_HEADERS.id])).toBe(true);
    expect(replays.rows.get("r-1")).toMatchObject({ status: "done", done: 4, position: 9 });
  });

  it("stops at the cap when counting", async () => {
    const store = await storeWith(10);
    expect(await countReplayEvents(store, { afterPosition: 0, toPosition: 10 }, 4)).toBeGreaterThan(4);
    expect(await countReplayEvents(store, { afterPosition: 0, toPosition: 10 }, 100)).toBe(10);
    expect(await countReplayEvents(store, { afterPosition: 10, toPosition: 10 }, 100)).toBe(0);
  });

  it("paces deliveries at ratePerSecond, in batches of about a second", async () => {
    const store = await storeWith(6);
    const replays = new MemoryReplayStore();
    const replay = await newReplay(replays, { filter: { afterPosition: 0, toPosition: 6 }, ratePerSecond: 2 });
    let clock = 0;
    const sleeps: number[] = [];
    const driver = recordingDriver();
    const outcome = await runReplay({
      store,
      driver,
      topic: "events",
      replays,
      replay,
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
    });
    expect(outcome).toBe("done");
    expect(driver.delivered).toHaveLength(6);
    expect(sleeps).toEqual([500, 500, 500, 500, 500]);
    // Batches of ceil(rate) = 2 events: progress after each.
    expect(replays.progressCalls.map((call) => call.done)).toEqual([2, 4, 6]);
  });

  it("stops between batches when cancelled, and stores a failure", async () => {
    const store = await storeWith(6);
    const replays = new MemoryReplayStore();
    const replay = await newReplay(replays, { filter: { afterPosition: 0, toPosition: 6 } });
    replays.onProgress = (row) => {
      if (row.done >= 2) row.status = "cancelled";
    };
    const driver = recordingDriver();
    expect(await runReplay({ store, driver, topic: "events", replays, replay, batchSize: 2 })).toBe("cancelled");
    expect(driver.delivered).toHaveLength(2);
    expect(replays.rows.get("r-1")?.status).toBe("cancelled");

    const failing = new MemoryReplayStore();
    const second = await newReplay(failing, { filter: { afterPosition: 0, toPosition: 6 } });
    const broken = { redeliver: async () => Promise.reject(new Error("broker gone")) };
    expect(await runReplay({ store, driver: broken, topic: "events", replays: failing, replay: second })).toBe("failed");
    expect(failing.rows.get("r-1")).toMatchObject({ status: "failed", error: "broker gone" });

    // A replay cancelled before it started never runs.
    const early = new MemoryReplayStore();
    const third = await newReplay(early);
    await early.cancel(third.id);
    expect(await runReplay({ store, driver, topic: "events", replays: early, replay: third })).toBe("not_started");
  });
});
