import type { ConsumeMessage, Options } from "amqplib";
import { orderKeyOf } from "@/server/engine/transport/codec";
import type { WireMessage } from "@/server/engine/transport/driver";
import { AMQP_PRIORITY, priorityOf } from "./topology";

/**
 * A WireMessage as an AMQP message: the `ce_*` attributes and `content-type` travel as AMQP
 * headers (strings, readable by any AMQP client), the body is the JSON text, and the standard
 * properties carry what the broker itself uses: `messageId` (the event id), `priority`,
 * `contentType` and `deliveryMode` 2 (persistent). The driver's own bookkeeping travels in `x-`
 * headers, the namespace RabbitMQ also uses (x-death...); none of them reach the WireMessage:
 *
 * - `x-eventloom-key`: the order key, only when it is not the one the codec derives from the
 *   `ce_` headers (partition key, else subject, else id): a dead-lettered or redelivered copy has
 *   lost its routing key, so the key must be recoverable from the message itself.
 * - `x-eventloom-attempt`: deliveries made before this copy was published (absent = 0): set by
 *   `retry` to the attempt that failed, so the next delivery is that + 1.
 * - `x-eventloom-not-before`: epoch ms before which the copy must not be handed out (retry delay).
 */

export const KEY_HEADER = "x-eventloom-key";
export const ATTEMPT_HEADER = "x-eventloom-attempt";
export const NOT_BEFORE_HEADER = "x-eventloom-not-before";

/** What a copy carries besides the message itself. */
export interface CopyState {
  /** Deliveries made before this copy; 0 for a fresh publish or a redrive. */
  attemptsBefore: number;
  /** Epoch ms; 0 = due at once. */
  notBefore: number;
}

export const FRESH: Readonly<CopyState> = Object.freeze({ attemptsBefore: 0, notBefore: 0 });

export interface Outgoing {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
}

/** `mandatory`: the broker returns the message if no queue takes it (for copies aimed at one queue). */
export function toOutgoing(exchange: string, routingKey: string, message: WireMessage, state: Readonly<CopyState>, mandatory: boolean): Outgoing {
  const keyDiffers = message.key !== derivedKey(message.id, message.headers);
  // The message's own headers object, unless the driver has something to add (the common publish adds nothing).
  let headers: Record<string, string | number> = message.headers;
  if (keyDiffers || state.attemptsBefore > 0 || state.notBefore > 0) {
    headers = { ...message.headers };
    if (keyDiffers) headers[KEY_HEADER] = message.key;
    if (state.attemptsBefore > 0) headers[ATTEMPT_HEADER] = state.attemptsBefore;
    if (state.notBefore > 0) headers[NOT_BEFORE_HEADER] = state.notBefore;
  }
  return {
    exchange,
    routingKey,
    content: Buffer.from(message.body, "utf8"),
    options: {
      persistent: true,
      mandatory,
      messageId: message.id,
      priority: AMQP_PRIORITY[message.priority] ?? AMQP_PRIORITY.normal,
      contentType: message.headers["content-type"] ?? "application/json",
      headers,
    },
  };
}

/** The key the codec gives a message with these headers. */
function derivedKey(id: string, headers: Readonly<Record<string, string>>): string {
  return orderKeyOf({ id, subject: headers.ce_subject, partitionkey: headers.ce_partitionkey });
}

function numberHeader(value: unknown): number {
  const parsed = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  return Number.isFinite(parsed) && parsed > 0 ? parsed : 0;
}

/** The message and driver state of a received AMQP message. */
export function fromDelivery(delivery: ConsumeMessage): { message: WireMessage; state: CopyState } {
  const raw: Record<string, unknown> = delivery.properties.headers ?? {};
  const headers: Record<string, string> = {};
  for (const name of Object.keys(raw)) {
    const value = raw[name];
    // Only string headers belong to the message (ce_*, content-type); x- headers are the broker's and ours.
    if (typeof value === "string" && !name.startsWith("x-")) headers[name] = value;
  }
  const key = raw[KEY_HEADER];
  const messageId: unknown = delivery.properties.messageId;
  const id = typeof messageId === "string" ? messageId : (headers.ce_id ?? "");
  return {
    message: {
      id,
      key: typeof key === "string" ? key : derivedKey(id, headers),
      priority: priorityOf(delivery.properties.priority as number | undefined),
      headers,
      body: delivery.content.toString("utf8"),
    },
    state: { attemptsBefore: numberHeader(raw[ATTEMPT_HEADER]), notBefore: numberHeader(raw[NOT_BEFORE_HEADER]) },
  };
}
