import type { StoredEvent } from "@/server/engine/core/envelope";
import { toEventResource } from "@/server/engine/core/event-resource";
import { logger } from "@/server/runtime/logger";
import { HttpProblem } from "./problem";
import { json, type RestContext } from "./route";
import { pollEventsQuery, streamEventsQuery } from "./schemas";

/**
 * Live delivery over HTTP: Server-Sent Events and long polling, both reading the log through the
 * container's LogTail, so a client resuming from a position gets every later event exactly once.
 */

const encoder = new TextEncoder();

/** Browsers wait this long before reconnecting after a drop. */
const RECONNECT_MS = 3_000;
/**
 * Bytes queued for a client that does not read. Past this the stream is closed rather than left to
 * grow without bound; the client reconnects with Last-Event-ID and loses nothing.
 */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

function lastEventIdOf(request: Request): number | undefined {
  const header = request.headers.get("last-event-id");
  if (header === null || header.trim() === "") return undefined;
  if (!/^\d{1,15}$/.test(header.trim())) {
    throw new HttpProblem("bad_request", "Last-Event-ID must be a position (a non-negative integer)", {
      errors: [{ path: "Last-Event-ID", message: "must be a non-negative integer" }],
    });
  }
  return Number(header.trim());
}

export function sseFrame(event: { position: number; type: string }, data: unknown): string {
  // JSON.stringify never emits a raw newline, so `data` is one line; type names cannot hold one either.
  return `id: ${event.position}\nevent: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** `GET /api/v1/events/stream`. */
export async function streamEvents(context: RestContext<unknown>): Promise<Response> {
  const query = context.query(streamEventsQuery, { lists: ["type"] });
  const { tail, store, registry, env } = context.container;
  const signal = context.request.signal;
  // A reconnecting browser sends Last-Event-ID and repeats the original URL: the header wins.
  const after = lastEventIdOf(context.request) ?? query.after ?? (await store.headPosition());

  let cleanup = () => {};
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let open = true;
        const send = (text: string) => {
          if (!open) return;
          controller.enqueue(encoder.encode(text));
          if ((controller.desiredSize ?? 0) < -MAX_BUFFERED_BYTES) {
            logger.warn("SSE client too slow; closing its stream", { after });
            cleanup();
          }
        };
        const subscription = tail.subscribe({ after, types: query.type, subject: query.subject }, (event: StoredEvent) => {
          let frame: string;
          try {
            frame = sseFrame(event, toEventResource(event, registry));
          } catch (error) {
            // Skipping the event would be a silent gap; ending the stream makes the failure visible.
            logger.error("could not render an event for SSE; closing the stream", { eventId: event.id, error });
            cleanup();
            return;
          }
          send(frame);
        });
        const heartbeat = setInterval(() => send(": keepalive\n\n"), env.SSE_HEARTBEAT_SECONDS * 1000);
        cleanup = () => {
          if (!open) return;
          open = false;
          clearInterval(heartbeat);
          subscription.close();
          signal.removeEventListener("abort", cleanup);
          try {
            controller.close();
          } catch {
            // Already closed or errored by the consumer's cancel.
          }
        };
        // A disconnecting client aborts the request; the tail subscription must not outlive it.
        signal.addEventListener("abort", cleanup, { once: true });
        // The first bytes flush the headers, so clients know at once that the stream is open.
        send(`retry: ${RECONNECT_MS}\n: streaming after position ${after}\n\n`);
        if (signal.aborted) cleanup();
      },
      cancel() {
        cleanup();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
  );

  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      // Reverse proxies (nginx) would otherwise buffer the stream and deliver events in lumps.
      "x-accel-buffering": "no",
    },
  });
}

/** `GET /api/v1/events/poll`. */
export async function pollEvents(context: RestContext<unknown>): Promise<Response> {
  const query = context.query(pollEventsQuery, { lists: ["type"] });
  const { tail, store, registry } = context.container;
  const after = query.after ?? (await store.headPosition());
  const signal = context.request.signal;
  let result: { events: StoredEvent[]; next: number };
  try {
    result = await tail.waitFor({
      after,
      types: query.type,
      subject: query.subject,
      limit: query.limit,
      timeoutMs: Math.round(query.timeout * 1000),
      signal,
    });
  } catch (error) {
    // The client hung up: nobody reads this answer, and a disconnect is not a server error.
    if (signal.aborted) return json({ items: [], next: String(after) });
    throw error;
  }
  return json({ items: result.events.map((event) => toEventResource(event, registry)), next: String(result.next) });
}
