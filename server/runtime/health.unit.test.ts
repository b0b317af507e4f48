import { describe, expect, it, vi } from "vitest";
import { EventBus } from "@/server/engine/bus";
import { InMemoryEventStore } from "@/server/engine/store/memory-event-store";
import type { ProjectionStatus } from "@/server/engine/cqrs/projection-runner-types";
import type { SagaCounts } from "@/server/engine/sagas/saga-store";
import { probeHealth, type HealthReport } from "./health";

describe("probeHealth", () => {
  it("is healthy when the database answers and the bus keeps up", async () => {
    const report = await probeHealth({ store: new InMemoryEventStore(), bus: new EventBus() });
    expect(report.status).toBe("healthy");
    expect(report.components.map((component) => [component.name, component.status])).toEqual([
      ["database", "up"],
      ["event-bus", "up"],
    ]);
  });

  it("is unhealthy, with a reason that names no host, when the database fails", async () => {
    const store = new InMemoryEventStore();
    vi.spyOn(store, "ping").mockRejectedValue(new Error("connect ECONNREFUSED db.internal:5432"));
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const report = await probeHealth({ store, bus: new EventBus() });
    expect(report.status).toBe("unhealthy");
    expect(report.components[0]).toMatchObject({ name: "database", status: "down", reason: "unreachable" });
    vi.restoreAllMocks();
  });

  it("is degraded when async handlers fall behind", async () => {
    const bus = new EventBus({ concurrency: 1 });
    bus.subscribe("*", () => new Promise<void>(() => {}));
    const event = { specversion: "1.0", id: "x", type: "a.b", source: "s", time: new Date().toISOString(), datacontenttype: "application/json", data: {}, correlationid: "x", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", priority: "normal", schemaversion: 1 } as const;
    for (let n = 0; n < 10_002; n++) bus.publish(event);
    const report = await probeHealth({ store: new InMemoryEventStore(), bus });
    expect(report.status).toBe("degraded");
    expect(report.components[1]).toMatchObject({ name: "event-bus", status: "degraded" });
  });

  it("is degraded, naming them, when projections are failing, and up otherwise", async () => {
    const base = { description: "", version: 1, generation: 1, position: 5, headPosition: 5, lag: 0, rebuild: null, eventsPerSecond: 0, lastError: null, runningHere: true };
    const statuses: ProjectionStatus[] = [
      { ...base, name: "exams", state: "live" },
      { ...base, name: "exam_sheets", state: "failing", lastError: { message: "relation rm_exam_sheets__g1 does not exist", at: new Date().toISOString() } },
      { ...base, name: "grading_stats", state: "catching_up" },
    ];
    const probe = (status: () => Promise<ProjectionStatus[]>) => probeHealth({ store: new InMemoryEventStore(), bus: new EventBus(), cqrs: { projections: { status } } });

    const failing = await probe(async () => statuses);
    expect(failing.status).toBe("degraded");
    expect(failing.components[2]).toEqual({ name: "projections", status: "degraded", latencyMs: null, reason: "failing: exam_sheets" });
    // The error text stays in the status API (authenticated) and the log, not in a health reason.
    expect(JSON.stringify(failing)).not.toContain("rm_exam_sheets");

    const healthy = await probe(async () => statuses.filter((projection) => projection.state !== "failing"));
    expect(healthy.status).toBe("healthy");
    expect(healthy.components[2]).toEqual({ name: "projections", status: "up", latencyMs: null });

    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const unreadable = await probe(() => Promise.reject(new Error("connection lost")));
    expect(unreadable.components[2]).toMatchObject({ name: "projections", status: "degraded" });
    vi.restoreAllMocks();
  });

  it("degrades on failed sagas (naming their types) and on saga workers that should run and do not", async () => {
    const stats = (running: boolean) => ({ owner: "test", running, active: 0, transitions: 0, leaseLost: 0 });
    const probe = (counts: () => Promise<SagaCounts>, running: boolean, WORKERS: "on" | "off") =>
      probeHealth({ store: new InMemoryEventStore(), bus: new EventBus(), env: { WORKERS }, sagas: { orchestrator: { counts, stats: () => stats(running) } } });
    const sagasOf = (report: HealthReport) => report.components.find((component) => component.name === "sagas");

    const healthy = await probe(async () => ({ byType: { sheet_grading: { completed: 4, compensated: 1 } } }), true, "on");
    expect(healthy.status).toBe("healthy");
    expect(sagasOf(healthy)).toEqual({ name: "sagas", status: "up", latencyMs: null });
    // A web process without workers leaves sagas to the worker processes: not a problem.
    expect(sagasOf(await probe(async () => ({ byType: {} }), false, "off"))?.status).toBe("up");

    const failed = await probe(async () => ({ byType: { sheet_grading: { failed: 2, completed: 1 }, exam_batch: { failed: 1 } } }), true, "on");
    expect(failed.status).toBe("degraded");
    expect(sagasOf(failed)?.reason).toBe("3 failed sagas wait for an operator to retry (sheet_grading: 2, exam_batch: 1)");

    const stopped = await probe(async () => ({ byType: { exam_batch: { failed: 1 } } }), false, "on");
    expect(sagasOf(stopped)).toEqual({
      name: "sagas",
      status: "degraded",
      latencyMs: null,
      reason: "saga workers are not running; 1 failed saga waits for an operator to retry (exam_batch: 1)",
    });

    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const unreadable = await probe(() => Promise.reject(new Error("connection lost")), true, "on");
    expect(sagasOf(unreadable)).toMatchObject({ status: "degraded", reason: "their state could not be read" });
    vi.restoreAllMocks();
  });

  it("degrades when the webhook dispatcher should poll here and does not, never because of a receiver", async () => {
    const probe = (running: boolean, WORKERS: "on" | "off") =>
      probeHealth({ store: new InMemoryEventStore(), bus: new EventBus(), env: { WORKERS }, webhooks: { dispatcher: { stats: () => ({ running }) } } });
    const webhooksOf = (report: HealthReport) => report.components.find((component) => component.name === "webhooks");
    expect(webhooksOf(await probe(true, "on"))).toEqual({ name: "webhooks", status: "up", latencyMs: null });
    // A web process without workers leaves retries to the worker processes.
    expect(webhooksOf(await probe(false, "off"))?.status).toBe("up");
    const stopped = await probe(false, "on");
    expect(stopped.status).toBe("degraded");
    expect(webhooksOf(stopped)).toEqual({ name: "webhooks", status: "degraded", latencyMs: null, reason: "the webhook dispatcher is not running: retries wait" });
  });
});
