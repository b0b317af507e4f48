import { describe, expect, it } from "vitest";
import { buildEnvelope, type StoredEvent } from "../core/envelope";
import { DecodeError, fromWireMessage, isDecodeError, toWireMessage } from "./codec";
import type { WireMessage } from "./driver";

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

function stored(): StoredEvent {
  return {
    ...buildEnvelope({
      type: "exam.created",
      source: "urn:test",
      subject: "exam/1",
      dataschema: "https://example.test/exam.created/2.json",
      data: { title: "Algebra \u2013 \u00e9t\u00e9", marks: [1, 2.5], nested: { ok: true, none: null } },
      causationid: "c-1",
      correlationid: "corr-1",
      traceparent,
      tracestate: "a=1,b=2",
      priority: "high",
      partitionkey: "exam-1",
      schemaversion: 2,
    }),
    position: 0,
    streamid: "exam-1",
    streamversion: 1,
  };
}

function decodeError(wire: WireMessage): DecodeError {
  try {
    fromWireMessage(wire);
  } catch (error) {
    expect(isDecodeError(error)).toBe(true);
    expect((error as Error).name).toBe("DecodeError");
    return error as DecodeError;
  }
  throw new Error("expected a DecodeError");
}

describe("codec (CloudEvents binary content mode)", () => {
  it("puts every attribute in a ce_ header, datacontenttype in content-type and data as JSON in the body", () => {
    const event = stored();
    const wire = toWireMessage(event);
    expect(wire).toEqual({
      id: event.id,
      key: "exam-1",
      priority: "high",
      body: JSON.stringify(event.data),
      headers: {
        ce_id: event.id,
        ce_type: "exam.created",
        ce_source: "urn:test",
        ce_specversion: "1.0",
        ce_time: event.time,
        ce_subject: "exam/1",
        ce_dataschema: "https://example.test/exam.created/2.json",
        ce_correlationid: "corr-1",
        ce_causationid: "c-1",
        ce_traceparent: event.traceparent,
        ce_tracestate: "a=1,b=2",
        ce_priority: "high",
        ce_partitionkey: "exam-1",
        ce_schemaversion: "2",
        ce_position: "0",
        ce_streamid: "exam-1",
        ce_streamversion: "1",
        "content-type": "application/json",
      },
    });
    expect(Object.values(wire.headers).every((value) => typeof value === "string")).toBe(true);
  });

  it("round-trips a stored event and a plain envelope exactly, omitting absent attributes", () => {
    const event = stored();
    expect(fromWireMessage(toWireMessage(event))).toEqual(event);

    const plain = buildEnvelope({ type: "exam.deleted", data: "just text" });
    const wire = toWireMessage(plain);
    expect(Object.keys(wire.headers).sort()).toEqual(
      ["ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "ce_correlationid", "ce_traceparent", "ce_priority", "ce_schemaversion", "content-type"].sort(),
    );
    const decoded = fromWireMessage(wire);
    expect(decoded).toEqual(plain);
    expect(Object.keys(decoded).sort()).toEqual(Object.keys(plain).sort());
  });

  it("keys by partitionkey, else subject, else id", () => {
    expect(toWireMessage(buildEnvelope({ type: "t", data: 1, partitionkey: "p", subject: "s" })).key).toBe("p");
    expect(toWireMessage(buildEnvelope({ type: "t", data: 1, subject: "s" })).key).toBe("s");
    const bare = buildEnvelope({ type: "t", data: 1 });
    expect(toWireMessage(bare).key).toBe(bare.id);
  });

  it("round-trips data of every JSON shape; undefined data travels as null", () => {
    for (const data of [null, 0, -1.5, "", "x", true, [], {}, [{ a: [null] }], { "\u2603": "\ud83d\ude00" }]) {
      const event = buildEnvelope({ type: "t", data });
      expect(fromWireMessage(toWireMessage(event)).data).toEqual(data);
    }
    const wire = toWireMessage(buildEnvelope({ type: "t", data: undefined }));
    expect(wire.body).toBe("null");
  });

  it("applies defaults for the optional Eventloom attributes of a foreign producer", () => {
    const decoded = fromWireMessage({
      id: "m1",
      key: "m1",
      priority: "normal",
      headers: { ce_id: "m1", ce_type: "x.y", ce_source: "urn:other", ce_specversion: "1.0", ce_time: "2026-01-01T00:00:00Z", ce_traceparent: traceparent },
      body: "{\"a\":1}",
    });
    expect(decoded).toEqual({
      specversion: "1.0",
      id: "m1",
      type: "x.y",
      source: "urn:other",
      time: "2026-01-01T00:00:00Z",
      datacontenttype: "application/json",
      data: { a: 1 },
      correlationid: "m1",
      traceparent,
      priority: "normal",
      schemaversion: 1,
    });
  });

  it("throws a DecodeError naming what is wrong", () => {
    const good = toWireMessage(stored());
    const without = (header: string): WireMessage => {
      const headers = { ...good.headers };
      delete headers[header];
      return { ...good, headers };
    };
    const withHeader = (header: string, value: string): WireMessage => ({ ...good, headers: { ...good.headers, [header]: value } });
    for (const header of ["ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "ce_traceparent"]) {
      expect(decodeError(without(header)).message).toContain(`${header} is missing`);
    }
    expect(decodeError(withHeader("ce_specversion", "0.3")).message).toContain("ce_specversion");
    expect(decodeError(withHeader("ce_time", "yesterday")).message).toContain("ce_time");
    expect(decodeError(withHeader("ce_traceparent", "00-0-0-01")).message).toContain("ce_traceparent");
    expect(decodeError(withHeader("ce_priority", "urgent")).message).toContain("ce_priority");
    expect(decodeError(withHeader("ce_schemaversion", "two")).message).toContain("ce_schemaversion");
    expect(decodeError(withHeader("ce_position", "-1")).message).toContain("ce_position");
    expect(decodeError(withHeader("ce_streamversion", "1.5")).message).toContain("ce_streamversion");
    expect(decodeError(without("ce_streamid")).message).toContain("must come together");
    expect(decodeError({ ...good, body: "{not json" }).message).toContain("body is not JSON");
    const error = decodeError(without("ce_type"));
    expect(error.message).toContain(good.id);
    expect(error.messageId).toBe(good.id);
    expect(decodeError({ ...good, headers: undefined as unknown as Record<string, string> }).message).toContain("no headers");
  });
});
