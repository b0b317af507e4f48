import { describe, expect, it } from "vitest";
import { z } from "zod";
import { fieldPath, requiredFieldOptions, zodIssues } from "./field-issues";

describe("fieldPath", () => {
  it("dots identifiers, brackets indexes and other keys, with or without a base", () => {
    expect(fieldPath("data", ["answers", 2, "odd key", "ok"])).toBe('data.answers[2]["odd key"].ok');
    expect(fieldPath("", ["events", 3, "data"])).toBe("events[3].data");
    expect(fieldPath("input", [])).toBe("input");
  });
});

describe("zodIssues", () => {
  const schema = z.strictObject({ sheetId: z.string(), pages: z.array(z.int()) });

  it("names each field under the base, and each unknown key on its own", () => {
    const parsed = schema.safeParse({ sheetId: 1, pages: [1, "x"], extra: true, more: 1 });
    expect(zodIssues(parsed.error!, "input")).toEqual([
      { path: "input.sheetId", message: expect.stringContaining("expected string") },
      { path: "input.pages[1]", message: expect.stringContaining("expected number") },
      { path: "input.extra", message: "is not allowed" },
      { path: "input.more", message: "is not allowed" },
    ]);
  });

  it("says 'is required' for a missing field only (with requiredFieldOptions), not for a wrong type", () => {
    const parsed = schema.safeParse({ pages: "x" }, requiredFieldOptions);
    expect(zodIssues(parsed.error!)).toEqual([
      { path: "sheetId", message: "is required" },
      { path: "pages", message: expect.stringContaining("expected array") },
    ]);
  });
});
