import { priorities, type Priority } from "@/server/engine/core/envelope";
import { ValidationError } from "@/server/engine/core/errors";
import type { WireMessage } from "@/server/engine/transport/driver";

/**
 * A message as stream entry fields: every header under its own name (`ce_type`, `ce_id`, ... so
 * `XRANGE` or any plain client shows them), then the driver's own fields. `attempt` appears only
 * on the group's retry streams, where it is the attempt of the entry's first delivery.
 */
const ID = "id";
const KEY = "key";
const ATTEMPT = "attempt";
const BODY = "body";
const RESERVED = new Set([ID, KEY, ATTEMPT, BODY]);

export function toFields(message: WireMessage, attempt?: number): string[] {
  const fields: string[] = [];
  for (const name in message.headers) {
    if (RESERVED.has(name)) {
      throw new ValidationError(`Header "${name}" is reserved by the Redis transport`, [{ path: `headers.${name}`, message: "reserved field name" }]);
    }
    fields.push(name, message.headers[name] as string);
  }
  fields.push(ID, message.id, KEY, message.key);
  if (attempt !== undefined) fields.push(ATTEMPT, String(attempt));
  fields.push(BODY, message.body);
  return fields;
}

/**
 * A message waiting for a delayed retry, as one sorted-set member the promoter script can take
 * apart without a JSON parser (any byte may occur in a value): the priority's place (1-3), then
 * every field as `<UTF-8 length>:<bytes>`.
 */
export function toDelayedMember(message: WireMessage, attempt: number): string {
  const fields = toFields(message, attempt);
  let member = String(priorities.indexOf(message.priority) + 1);
  for (const field of fields) member += `${Buffer.byteLength(field)}:${field}`;
  return member;
}

export interface DecodedEntry {
  message: WireMessage;
  /** Attempt of the entry's first delivery: 1 on topic streams, the carried value on retry streams. */
  firstAttempt: number;
}

export function fromFields(fields: readonly string[], priority: Priority): DecodedEntry {
  const headers: Record<string, string> = {};
  let id = "";
  let key = "";
  let body = "";
  let firstAttempt = 1;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i] as string;
    const value = fields[i + 1] as string;
    if (name === ID) id = value;
    else if (name === KEY) key = value;
    else if (name === BODY) body = value;
    else if (name === ATTEMPT) firstAttempt = Number(value);
    else headers[name] = value;
  }
  return { message: { id, key, priority, headers, body }, firstAttempt };
}
