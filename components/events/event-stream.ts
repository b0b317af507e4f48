"use client";

import { createParser } from "eventsource-parser";
import { useEffect, useRef, useState } from "react";
import type { TailEvent } from "./types";

export type StreamStatus = "connecting" | "live" | "reconnecting" | "error";

export interface EventStreamOptions {
  /** Type pattern (`exam.*`, `exam.created`); empty for all. */
  type: string;
  subject: string;
  /** Start after this position (exclusive); undefined waits until known. */
  after: number | undefined;
  onEvents(events: TailEvent[]): void;
  enabled?: boolean;
}

const MAX_BACKOFF_MS = 15_000;

/**
 * Tails `/api/v1/events/stream` (same origin: the session cookie authenticates). It reads the
 * stream with fetch and an SSE parser rather than EventSource: the server names each SSE event
 * after its type, and EventSource only delivers named events to listeners registered per name.
 * On any disconnect it reconnects with backoff from the last position seen, and drops events at
 * or below it, so a resume never repeats one.
 */
export function useEventStream({ type, subject, after, onEvents, enabled = true }: EventStreamOptions) {
  const [status, setStatus] = useState<StreamStatus>("connecting");
  const [error, setError] = useState<string | null>(null);
  const onEventsRef = useRef(onEvents);
  useEffect(() => {
    onEventsRef.current = onEvents;
  }, [onEvents]);

  useEffect(() => {
    if (!enabled || after === undefined) return;
    const abort = new AbortController();
    let lastPosition = after;
    let attempt = 0;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    // Batch bursts into one state update per animation frame.
    let pending: TailEvent[] = [];
    let frame: number | undefined;
    const flush = () => {
      frame = undefined;
      const batch = pending;
      pending = [];
      if (batch.length > 0) onEventsRef.current(batch);
    };

    const parser = createParser({
      onEvent(message) {
        let event: TailEvent;
        try {
          event = JSON.parse(message.data) as TailEvent;
        } catch {
          return;
        }
        const position = typeof event.position === "number" ? event.position : Number(message.id);
        if (Number.isFinite(position)) {
          if (position <= lastPosition) return;
          lastPosition = position;
        }
        pending.push(event);
        frame ??= requestAnimationFrame(flush);
      },
    });

    const scheduleReconnect = (reason: string | null) => {
      if (abort.signal.aborted) return;
      attempt++;
      setStatus(attempt > 3 ? "error" : "reconnecting");
      setError(attempt > 3 ? (reason ?? "The live stream is unavailable. Retrying…") : null);
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
      retryTimer = setTimeout(() => void connect(), delay);
    };

    const connect = async () => {
      const params = new URLSearchParams();
      if (type.trim()) params.set("type", type.trim());
      if (subject.trim()) params.set("subject", subject.trim());
      params.set("after", String(lastPosition));
      setStatus(attempt === 0 ? "connecting" : "reconnecting");
      parser.reset();
      try {
        const response = await fetch(`/api/v1/events/stream?${params}`, {
          headers: { accept: "text/event-stream" },
          signal: abort.signal,
        });
        if (!response.ok || !response.body) {
          const problem = (await response.json().catch(() => null)) as { detail?: string } | null;
          scheduleReconnect(problem?.detail ?? `The live stream answered ${response.status}.`);
          return;
        }
        attempt = 0;
        setStatus("live");
        setError(null);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
        scheduleReconnect(null);
      } catch {
        scheduleReconnect(null);
      }
    };
    void connect();

    return () => {
      abort.abort();
      if (retryTimer) clearTimeout(retryTimer);
      if (frame !== undefined) cancelAnimationFrame(frame);
    };
  }, [type, subject, after, enabled]);

  return { status, error };
}
