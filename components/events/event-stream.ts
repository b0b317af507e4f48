"use client";

import { useEffect, useRef, useState } from "react";
import type { TailEvent } from "./types";

export type StreamStatus = "connecting" | "live" | "reconnecting" | "error";

export interface EventStreamOptions {
  /** Type pattern (`exam.*`, `exam.created`); empty for all. */
  type: string;
  subject: string;
  /** Start after this position (exclusive); undefined waits until known. */
  after: number | undefined;
  /** Every registered type: SSE events are named after their type, so each needs a listener. */
  knownTypes: readonly string[];
  onEvents(events: TailEvent[]): void;
  enabled?: boolean;
}

const MAX_BACKOFF_MS = 15_000;

/**
 * Tails `/api/v1/events/stream` with EventSource (same origin: the session cookie authenticates).
 * The browser reconnects by itself with Last-Event-ID; when the stream is closed for good (an
 * error status), this reconnects with backoff from the last position seen. Events at or below the
 * last seen position are dropped, so a resume never repeats one.
 */
export function useEventStream({ type, subject, after, knownTypes, onEvents, enabled = true }: EventStreamOptions) {
  const [status, setStatus] = useState<StreamStatus>("connecting");
  const [error, setError] = useState<string | null>(null);
  const sourceRef = useRef<EventSource | null>(null);
  const listening = useRef(new Set<string>());
  const handlerRef = useRef<(message: MessageEvent<string>) => void>(() => {});
  const onEventsRef = useRef(onEvents);
  const knownTypesRef = useRef(knownTypes);
  useEffect(() => {
    onEventsRef.current = onEvents;
  }, [onEvents]);

  useEffect(() => {
    if (!enabled || after === undefined) return;
    let lastPosition = after;
    let closed = false;
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

    const handle = (message: MessageEvent<string>) => {
      let event: TailEvent;
      try {
        event = JSON.parse(message.data) as TailEvent;
      } catch {
        return;
      }
      const position = typeof event.position === "number" ? event.position : Number(message.lastEventId);
      if (Number.isFinite(position)) {
        if (position <= lastPosition) return;
        lastPosition = position;
      }
      attempt = 0;
      pending.push(event);
      frame ??= requestAnimationFrame(flush);
    };
    handlerRef.current = handle;

    const connect = () => {
      const params = new URLSearchParams();
      if (type.trim()) params.set("type", type.trim());
      if (subject.trim()) params.set("subject", subject.trim());
      params.set("after", String(lastPosition));
      const source = new EventSource(`/api/v1/events/stream?${params}`);
      sourceRef.current = source;
      listening.current = new Set();
      setStatus(attempt === 0 ? "connecting" : "reconnecting");
      source.onopen = () => {
        attempt = 0;
        setStatus("live");
        setError(null);
      };
      source.onmessage = handle;
      for (const name of knownTypesRef.current) {
        source.addEventListener(name, handle);
        listening.current.add(name);
      }
      source.onerror = () => {
        if (closed) return;
        if (source.readyState === EventSource.CONNECTING) {
          setStatus("reconnecting");
          return;
        }
        // CLOSED: the server answered with an error (auth, bad filter) or went away.
        source.close();
        attempt++;
        setStatus(attempt > 3 ? "error" : "reconnecting");
        setError(attempt > 3 ? "The live stream is unavailable. Retrying…" : null);
        const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
        retryTimer = setTimeout(connect, delay);
      };
    };
    connect();

    return () => {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (frame !== undefined) cancelAnimationFrame(frame);
      sourceRef.current?.close();
      sourceRef.current = null;
    };
  }, [type, subject, after, enabled]);

  // New types (registered while tailing) get a listener on the open connection.
  useEffect(() => {
    knownTypesRef.current = knownTypes;
    const source = sourceRef.current;
    if (!source) return;
    for (const name of knownTypes) {
      if (!listening.current.has(name)) {
        source.addEventListener(name, handlerRef.current);
        listening.current.add(name);
      }
    }
  }, [knownTypes]);

  return { status, error };
}
