import { priorities, type EventEnvelope, type Priority, type StoredEvent } from "../core/envelope";
import { parseTraceparent } from "../core/traceparent";
import type { WireMessage } from "./driver";

/**
 * The envelope on the wire: CloudEvents 1.0 binary content mode. Every attribute travels as a
 * string header `ce_<name>` (absent attributes are omitted), `content-type` carries
 * `datacontenttype`, and the body is the JSON text of `data`. Every transport carries these
 * headers natively (Kafka headers, AMQP headers, Redis stream fields, a jsonb column), so a plain
 * broker client sees the same attributes the engine does.
 *
 * Decoding is strict about what the engine needs and names the first problem it finds in a
 * {@link DecodeError}; the Subscriber dead-letters such a message at once (retrying cannot fix it).
 *
 * Required on decode: `ce_id`, `ce_type`, `ce_source`, `ce_specversion` ("1.0"), `ce_time`
 * (RFC 3339) and `ce_traceparent` (W3C). Defaults: `ce_correlationid` = the id (a conversation
 * starts with its first event, as in `buildEnvelope`), `ce_priority` = "normal",
 * `ce_schemaversion` = 1, `content-type` = "application/json". `ce_position`, `ce_streamid` and
 * `ce_streamversion` come together or not at all (a StoredEvent or a plain envelope).
 */

export const CE_HEADERS = {
  id: "ce_id",
  type: "ce_type",
  source: "ce_source",
  specversion: "ce_specversion",
  time: "ce_time",
  subject: "ce_subject",
  dataschema: "ce_dataschema",
  correlationid: "ce_correlationid",
  causationid: "ce_causationid",
  traceparent: "ce_traceparent",
  tracestate: "ce_tracestate",
  priority: "ce_priority",
  partitionkey: "ce_partitionkey",
  schemaversion: "ce_schemaversion",
  position: "ce_position",
  streamid: "ce_streamid",
  streamversion: "ce_streamversion",
} as const;

export const CONTENT_TYPE_HEADER = "content-type";

/**
 * Set on deliveries made by a replay (`POST /api/v1/replays`): the replay's id, beside the event's
 * original `ce_id`. A replay is an explicit request to process events again, so the Subscriber's
 * inbox does not treat a replayed delivery as a duplicate of the original (see subscriber.ts).
 */
export const REPLAY_ID_HEADER = "ce_replayid";

/** A message that is not a well-formed Eventloom event; retrying cannot fix it. */
export class DecodeError extends Error {
  /** The message id, when the wire carried one. */
  readonly messageId: string | undefined;
  constructor(message: string, options: { messageId?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "DecodeError";
    this.messageId = options.messageId;
  }
}

export function isDecodeError(error: unknown): error is DecodeError {
  return error instanceof Error && error.name === "DecodeError";
}

function isStored(event: EventEnvelope | StoredEvent): event is StoredEvent {
  return (event as Partial<StoredEvent>).position !== undefined;
}

/** The order key of an event: its partition key, else its subject, else its id. */
export function orderKeyOf(event: Pick<EventEnvelope, "id" | "subject" | "partitionkey">): string {
  return event.partitionkey ?? event.subject ?? event.id;
}

export function toWireMessage(event: EventEnvelope | StoredEvent): WireMessage {
  const headers: Record<string, string> = {
    [CE_HEADERS.id]: event.id,
    [CE_HEADERS.type]: event.type,
    [CE_HEADERS.source]: event.source,
    [CE_HEADERS.specversion]: event.specversion,
    [CE_HEADERS.time]: event.time,
  };
  const optional = (name: keyof typeof CE_HEADERS, value: string | number | undefined): void => {
    if (value !== undefined && value !== null) headers[CE_HEADERS[name]] = String(value);
  };
  optional("subject", event.subject);
  optional("dataschema", event.dataschema);
  optional("correlationid", event.correlationid);
  optional("causationid", event.causationid);
  optional("traceparent", event.traceparent);
  optional("tracestate", event.tracestate);
  optional("priority", event.priority);
  optional("partitionkey", event.partitionkey);
  optional("schemaversion", event.schemaversion);
  if (isStored(event)) {
    optional("position", event.position);
    optional("streamid", event.streamid);
    optional("streamversion", event.streamversion);
  }
  headers[CONTENT_TYPE_HEADER] = event.datacontenttype;
  // `undefined` has no JSON text: it travels as null.
  const body = JSON.stringify(event.data === undefined ? null : event.data);
  return { id: event.id, key: orderKeyOf(event), priority: event.priority ?? "normal", headers, body };
}

const INTEGER = /^-?\d+$/;

export function fromWireMessage(wire: WireMessage): StoredEvent | EventEnvelope {
  if (typeof wire !== "object" || wire === null) throw new DecodeError("the message is not an object");
  const headers = wire.headers;
  if (typeof headers !== "object" || headers === null) throw new DecodeError("the message has no headers", { messageId: wire.id });
  const messageId = typeof headers[CE_HEADERS.id] === "string" ? headers[CE_HEADERS.id] : wire.id;
  const fail = (problem: string, cause?: unknown): never => {
    throw new DecodeError(`message ${messageId ?? "(no id)"}: ${problem}`, { messageId, cause });
  };
  const text = (name: keyof typeof CE_HEADERS): string | undefined => {
    const value = headers[CE_HEADERS[name]];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string") return fail(`header ${CE_HEADERS[name]} is not a string`);
    return value;
  };
  const required = (name: keyof typeof CE_HEADERS): string => {
    const value = text(name);
    if (value === undefined || value === "") return fail(`header ${CE_HEADERS[name]} is missing`);
    return value;
  };
  const integer = (name: keyof typeof CE_HEADERS, min: number): number | undefined => {
    const value = text(name);
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!INTEGER.test(value) || !Number.isSafeInteger(parsed) || parsed < min) {
      return fail(`header ${CE_HEADERS[name]} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    }
    return parsed;
  };

  const id = required("id");
  const type = required("type");
  const source = required("source");
  const specversion = required("specversion");
  if (specversion !== "1.0") fail(`header ce_specversion must be "1.0", got ${JSON.stringify(specversion)}`);
  const time = required("time");
  if (Number.isNaN(Date.parse(time))) fail(`header ce_time is not an RFC 3339 time: ${JSON.stringify(time)}`);
  const traceparent = required("traceparent");
  if (!parseTraceparent(traceparent)) fail(`header ce_traceparent is not a W3C traceparent: ${JSON.stringify(traceparent)}`);
  const priorityText = text("priority") ?? "normal";
  if (!(priorities as readonly string[]).includes(priorityText)) {
    fail(`header ce_priority must be one of ${priorities.join(", ")}, got ${JSON.stringify(priorityText)}`);
  }
  const schemaversion = integer("schemaversion", 1) ?? 1;
  const contentType = headers[CONTENT_TYPE_HEADER];
  if (contentType !== undefined && typeof contentType !== "string") fail("header content-type is not a string");
  if (typeof wire.body !== "string") fail("the body is not text");
  let data: unknown;
  try {
    data = JSON.parse(wire.body);
  } catch (error) {
    fail(`the body is not JSON (${error instanceof Error ? error.message : String(error)})`, error);
  }

  const envelope: EventEnvelope = {
    specversion: "1.0",
    id,
    type,
    source,
    time,
    datacontenttype: contentType || "application/json",
    data,
    correlationid: text("correlationid") || id,
    traceparent,
    priority: priorityText as Priority,
    schemaversion,
  };
  const subject = text("subject");
  if (subject !== undefined) envelope.subject = subject;
  const dataschema = text("dataschema");
  if (dataschema !== undefined) envelope.dataschema = dataschema;
  const causationid = text("causationid");
  if (causationid !== undefined) envelope.causationid = causationid;
  const tracestate = text("tracestate");
  if (tracestate !== undefined) envelope.tracestate = tracestate;
  const partitionkey = text("partitionkey");
  if (partitionkey !== undefined) envelope.partitionkey = partitionkey;

  const position = integer("position", 0);
  const streamid = text("streamid");
  const streamversion = integer("streamversion", 1);
  const present = [position, streamid, streamversion].filter((value) => value !== undefined).length;
  if (present === 0) return envelope;
  if (present !== 3 || position === undefined || streamid === undefined || streamversion === undefined) {
    return fail("headers ce_position, ce_streamid and ce_streamversion must come together");
  }
  return { ...envelope, position, streamid, streamversion } satisfies StoredEvent;
}
