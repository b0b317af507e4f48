import { describe, expect, it } from "vitest";
import { buildTimeline, formatDuration, ticksFor, type TimelineStep } from "./timeline-model";

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, 0) + ms).toISOString();
const T0 = Date.parse(at(0));
/** Offsets to a thousandth: the geometry is floating point. */
const r = (value: number) => Math.round(value * 1_000) / 1_000;

function step(name: string, status: TimelineStep["status"], history: Array<[number, number | null, string?]>, extra: Partial<TimelineStep> = {}): TimelineStep {
  const attempts = history.map(([start, end, error], index) => ({
    attempt: index + 1,
    startedAt: at(start),
    endedAt: end === null ? null : at(end),
    ...(error ? { error: { type: "Error", message: error } } : {}),
  }));
  return {
    name,
    status,
    attempts: attempts.length,
    startedAt: attempts[0]?.startedAt ?? null,
    endedAt: status === "running" || status === "waiting" || attempts.length === 0 ? null : (attempts.at(-1)?.endedAt ?? null),
    history: attempts,
    ...extra,
  };
}

describe("buildTimeline", () => {
  it("places a compensated saga's steps and compensation on one axis from its start to its end", () => {
    const timeline = buildTimeline(
      {
        startedAt: at(0),
        endedAt: at(1_000),
        steps: [step("start_ocr", "completed", [[0, 200]]), step("ocr", "failed", [[200, 600, "scan at 100 dpi"]]), step("record_ocr", "pending", [])],
        compensations: [step("start_ocr", "completed", [[600, 1_000]])],
      },
      T0 + 60_000,
    );
    expect(timeline.endMs - timeline.startMs).toBe(1_000);
    expect(timeline.nowOffset).toBeNull();
    expect(timeline.forward.map((row) => row.spans.map((span) => [r(span.left), r(span.width), span.tone]))).toEqual([
      [[0, 0.2, "completed"]],
      [[0.2, 0.4, "failed"]],
      [],
    ]);
    expect(timeline.forward[1]!.spans[0]!.error).toBe("scan at 100 dpi");
    expect(timeline.compensation).toHaveLength(1);
    expect(timeline.compensation[0]).toMatchObject({ key: "compensation:start_ocr:0", phase: "compensation", durationMs: 400 });
    expect(timeline.compensation[0]!.spans[0]).toMatchObject({ left: r(0.6), tone: "completed", ended: true });
    expect(r(timeline.compensation[0]!.spans[0]!.width)).toBe(0.4);
  });

  it("draws retried attempts apart from the last one, and a running step up to now", () => {
    const timeline = buildTimeline(
      {
        startedAt: at(0),
        endedAt: null,
        steps: [step("ocr", "running", [[0, 100, "timeout"], [300, null]])],
        compensations: [],
      },
      T0 + 1_000,
    );
    const [retried, running] = timeline.forward[0]!.spans;
    expect(retried).toMatchObject({ left: 0, tone: "retried", error: "timeout", attempt: 1 });
    expect(running).toMatchObject({ tone: "running", ended: false, attempt: 2 });
    expect([retried!.width, running!.left, running!.width].map(r)).toEqual([0.1, 0.3, 0.7]);
    expect(timeline.nowOffset).toBe(1);
    expect(timeline.forward[0]!.durationMs).toBe(1_000);
  });

  it("ends an attempt cut short by a crash where the next one started", () => {
    const timeline = buildTimeline({ startedAt: at(0), endedAt: at(1_000), steps: [step("grade", "completed", [[0, null], [400, 1_000]])], compensations: [] }, T0 + 5_000);
    expect(timeline.forward[0]!.spans.map((span) => [r(span.left), r(span.width)])).toEqual([
      [0, 0.4],
      [0.4, 0.6],
    ]);
  });

  it("keeps an instant step visible, and reads a choreographed step without attempts from its own times", () => {
    const timeline = buildTimeline(
      {
        startedAt: at(0),
        endedAt: at(10_000),
        steps: [step("flash", "completed", [[5_000, 5_000]]), { name: "report", status: "completed", attempts: 0, startedAt: at(6_000), endedAt: at(8_000), history: [] }],
        compensations: [],
      },
      T0,
    );
    expect(timeline.forward[0]!.spans[0]!.width).toBeGreaterThan(0);
    expect(timeline.forward[1]!.spans).toEqual([expect.objectContaining({ attempt: null, tone: "completed" })]);
    expect([timeline.forward[1]!.spans[0]!.left, timeline.forward[1]!.spans[0]!.width].map(r)).toEqual([0.6, 0.2]);
  });
});

describe("ticks and durations", () => {
  it("steps the axis by 1-2-5 from zero to the end", () => {
    expect(ticksFor(1_000).map((tick) => tick.elapsed)).toEqual([0, 200, 400, 600, 800, 1_000]);
    expect(ticksFor(1_000).map((tick) => tick.label)).toEqual(["0", "+200 ms", "+400 ms", "+600 ms", "+800 ms", "+1.0 s"]);
    expect(ticksFor(7 * 60_000).length).toBeLessThanOrEqual(9);
    expect(ticksFor(0)).toEqual([{ elapsed: 0, label: "0" }]);
  });

  it("says durations the way people read them", () => {
    expect([0, 850, 1_234, 42_000, 185_000, 300_000, 2 * 3_600_000 + 600_000, 3 * 86_400_000 + 4 * 3_600_000].map(formatDuration)).toEqual([
      "0 ms",
      "850 ms",
      "1.2 s",
      "42 s",
      "3 m 05 s",
      "5 m",
      "2 h 10 m",
      "3 d 4 h",
    ]);
  });
});
