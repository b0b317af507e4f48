import { describe, expect, it } from "vitest";
import { ValidationError } from "../core/errors";
import { decodeCursor, encodeCursor } from "./read-model-cursor";

describe("read-model cursor", () => {
  it("round-trips every kind of order value with its key", () => {
    const values = ["text ✓", "", 0, -1.25, 1e300, true, false, null, new Date("2026-02-03T04:05:06.789Z")];
    for (const value of values) {
      const cursor = encodeCursor(value, "key/with \"odd\" chars");
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(cursor)).toEqual({ value, key: "key/with \"odd\" chars" });
    }
  });

  it("keeps a Date apart from its ISO text", () => {
    const iso = "2026-02-03T04:05:06.789Z";
    expect(decodeCursor(encodeCursor(new Date(iso), "k")).value).toBeInstanceOf(Date);
    expect(decodeCursor(encodeCursor(iso, "k")).value).toBe(iso);
  });

  it("refuses JSON values and infinities as order values", () => {
    expect(() => encodeCursor(["a"], "k")).toThrow(TypeError);
    expect(() => encodeCursor({ a: 1 }, "k")).toThrow(TypeError);
    expect(() => encodeCursor(Number.NaN, "k")).toThrow(TypeError);
  });

  it("answers a ValidationError on after for anything it did not make", () => {
    const encode = (json: string) => Buffer.from(json, "utf8").toString("base64url");
    const malformed = ["", "a b", "%%%", encode("[1, 2]"), encode("[1, \"k\", 3]"), encode("[{\"$date\": \"2026-02-03\", \"x\": 1}, \"k\"]"), encode("[[1], \"k\"]"), encode("nope")];
    for (const cursor of malformed) {
      let caught: unknown;
      try {
        decodeCursor(cursor);
      } catch (error) {
        caught = error;
      }
      expect(caught, cursor).toBeInstanceOf(ValidationError);
      expect((caught as ValidationError).issues).toEqual([{ path: "after", message: "is not a cursor this list returned" }]);
    }
  });
});
