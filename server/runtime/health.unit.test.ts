import { describe, expect, it, vi } from "vitest";
import { EventBus } from "@/server/engine/bus";
import { InMemoryEventStore } from "@/server/engine/store/memory-event-store";
import { probeHealth } from "./health";

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
});
