import { describe, expect, it } from "vitest";
import { duplicateHeaderNames, formatLatency, formatPercent, fromLocalInput, headersOf, healthOf, parseBody, patternProblem, placeIssues, toLocalInput, typesMatching } from "./webhook-model";

const registry = ["exam.created", "exam.updated", "exam.results_published", "grading.completed", "webhook.test"];

describe("type patterns in the picker", () => {
  it("counts the registered types a pattern covers", () => {
    expect(typesMatching("exam.*", registry)).toEqual(["exam.created", "exam.updated", "exam.results_published"]);
    expect(typesMatching("*", registry)).toHaveLength(registry.length);
    expect(typesMatching("grading.completed", registry)).toEqual(["grading.completed"]);
    expect(typesMatching("exam", registry)).toEqual([]);
  });

  it("says why a typed pattern cannot be added", () => {
    expect(patternProblem("exam.*", registry, [])).toBeNull();
    expect(patternProblem("exam.*", registry, ["exam.*"])).toBe("is already chosen");
    expect(patternProblem("billing.*", registry, [])).toBe("matches no registered event type");
    expect(patternProblem("exam.*.x", registry, [])).toMatch(/must be a type/);
  });
});

describe("health", () => {
  const enabled = { status: "enabled" as const, failingSince: null };
  it("reads an endpoint's state from its status, failing run and success rate", () => {
    expect(healthOf({ status: "disabled", failingSince: null }, { successRate: 1, attempts: 10 })).toBe("disabled");
    expect(healthOf(enabled, { successRate: null, attempts: 0 })).toBe("idle");
    expect(healthOf(enabled, { successRate: 1, attempts: 40 })).toBe("healthy");
    expect(healthOf(enabled, { successRate: 0.9, attempts: 40 })).toBe("degraded");
    expect(healthOf(enabled, { successRate: 0.3, attempts: 40 })).toBe("failing");
    expect(healthOf({ status: "enabled", failingSince: "2026-01-01T00:00:00Z" }, { successRate: 0.99, attempts: 40 })).toBe("failing");
  });

  it("formats rates and latencies without rounding a failure away", () => {
    expect(formatPercent(null)).toBe("—");
    expect(formatPercent(1)).toBe("100%");
    expect(formatPercent(0.9995)).toBe("99.9%");
    expect(formatPercent(0.5)).toBe("50%");
    expect(formatLatency(null)).toBe("—");
    expect(formatLatency(3.21)).toBe("3.2 ms");
    expect(formatLatency(245.6)).toBe("246 ms");
    expect(formatLatency(1_530)).toBe("1.53 s");
  });
});

describe("the server's issues under their fields", () => {
  it("places create and update paths, per pattern and per header", () => {
    const placed = placeIssues([
      { path: "url", message: "resolves to a blocked address 10.0.0.1" },
      { path: "eventTypes[1]", message: "matches no registered event type" },
      { path: "changes.filter", message: "unexpected end at 14" },
      { path: "headers.x-api-key", message: "too long" },
      { path: 'headers["webhook-id"]', message: "is reserved" },
      { path: "", message: "the endpoint was changed by someone else" },
    ]);
    expect(placed.byField.url).toEqual(["resolves to a blocked address 10.0.0.1"]);
    expect(placed.byPattern.get(1)).toEqual(["matches no registered event type"]);
    expect(placed.byField.filter).toEqual(["unexpected end at 14"]);
    expect(placed.byField.headers).toEqual(["x-api-key: too long", "webhook-id: is reserved"]);
    expect(placed.byField.form).toEqual(["the endpoint was changed by someone else"]);
  });
});

describe("form values", () => {
  it("turns header rows into the API's map and finds names given twice", () => {
    const rows = [
      { name: "X-Team", value: "grading" },
      { name: "", value: "ignored" },
      { name: "x-team", value: "again" },
    ];
    expect(headersOf(rows)).toEqual({ "x-team": "again" });
    expect(duplicateHeaderNames(rows)).toEqual(["x-team"]);
    expect(duplicateHeaderNames(rows.slice(0, 2))).toEqual([]);
  });

  it("shows JSON bodies pretty and anything else as text", () => {
    expect(parseBody('{"ok":true}')).toEqual({ json: true, value: { ok: true } });
    expect(parseBody("<html>")).toEqual({ json: false, text: "<html>" });
    expect(parseBody("")).toEqual({ json: false, text: "" });
  });

  it("round-trips a local datetime input", () => {
    const time = new Date(2026, 10, 23, 9, 5);
    expect(toLocalInput(time)).toBe("2026-11-23T09:05");
    expect(fromLocalInput(toLocalInput(time))).toBe(time.toISOString());
    expect(fromLocalInput("yesterday")).toBeNull();
  });
});
