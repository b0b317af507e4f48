import type { IHeaders, KafkaMessage, Message } from "kafkajs";
import { priorities, type Priority } from "@/server/engine/core/envelope";
import type { WireMessage } from "@/server/engine/transport/driver";

/**
 * A WireMessage as a Kafka record: key = `key` (so one key lands on one partition), value = body,
 * headers = the message's headers as they are (`ce_type`, `ce_id`, `ce_traceparent`... readable by
 * any Kafka client). The id and priority ride in `ce_id` / the topic's priority level; the driver
 * adds a header of its own only where those cannot carry them.
 */
export const HEADER = {
  /** The message id, when `ce_id` is absent or differs from it. */
  id: "eventloom-id",
  /** Retry topic only: the priority (the retry topic holds every level). */
  priority: "eventloom-priority",
  /** Retry topic only: the attempt number of the delivery this record will make. */
  attempt: "eventloom-attempt",
  /** Retry topic only: epoch milliseconds before which the record is not handed out. */
  dueAt: "eventloom-due-at",
} as const;

const driverHeaders = new Set<string>(Object.values(HEADER));

export function toKafkaMessage(message: WireMessage, extra: Record<string, string> = {}): Message {
  const headers: Record<string, string> = { ...message.headers, ...extra };
  if (message.headers.ce_id !== message.id) headers[HEADER.id] = message.id;
  return { key: message.key, value: message.body, headers };
}

/** The retry topic's copy of a message: its priority, attempt and due time as headers. */
export function toRetryMessage(message: WireMessage, attempt: number, dueAt: number): Message {
  return toKafkaMessage(message, {
    [HEADER.priority]: message.priority,
    [HEADER.attempt]: String(attempt),
    [HEADER.dueAt]: String(dueAt),
  });
}

export interface ReceivedRecord {
  message: WireMessage;
  /** Retry topic: the attempt the header names; 1 for records of a priority topic. */
  attempt: number;
  /** Retry topic: when it is due; 0 (at once) for records of a priority topic. */
  dueAt: number;
}

/**
 * Reads a record. Records written by plain Kafka clients (no Eventloom headers) still make a
 * message: id from `ce_id`, else the record's coordinates; key from the record key, else the id.
 */
export function fromKafkaRecord(record: KafkaMessage, coordinates: { topic: string; partition: number }, topicPriority: Priority | undefined): ReceivedRecord {
  const headers = readHeaders(record.headers);
  const id = headers[HEADER.id] ?? headers.ce_id ?? `${coordinates.topic}/${coordinates.partition}/${record.offset}`;
  const priority = topicPriority ?? asPriority(headers[HEADER.priority]) ?? asPriority(headers.ce_priority) ?? "normal";
  const attempt = topicPriority ? 1 : positiveInt(headers[HEADER.attempt]) ?? 1;
  const dueAt = topicPriority ? 0 : positiveInt(headers[HEADER.dueAt]) ?? 0;
  for (const name of driverHeaders) delete headers[name];
  return {
    message: { id, key: record.key?.toString() ?? id, priority, headers, body: record.value?.toString() ?? "" },
    attempt,
    dueAt,
  };
}

function readHeaders(raw: IHeaders | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!raw) return headers;
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    // A header repeated by a plain client: the last value wins, as in most HTTP-style readers.
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) headers[name] = last.toString();
  }
  return headers;
}

function asPriority(value: string | undefined): Priority | undefined {
  return priorities.find((priority) => priority === value);
}

function positiveInt(value: string | undefined): number | undefined {
  const parsed = Number(value);
  return value !== undefined && Number.isSafeInteger(parsed) && parsed > 0 ? parsed : undefined;
}
