"use client";

import { useQuery } from "@tanstack/react-query";
import { Eraser, Pause, Play, Radio } from "lucide-react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { Card } from "../ui/card";
import { cn } from "../ui/cn";
import { EmptyState } from "../ui/empty-state";
import { Alert } from "../ui/error-state";
import { Spinner } from "../ui/spinner";
import { useEventStream, type StreamStatus } from "./event-stream";
import { EventTable } from "./event-table";
import { FilterInput } from "./filter-input";
import { isValidPattern, patternSuggestions } from "./type-patterns";
import type { TailEvent } from "./types";

/** Rows kept on screen; older ones scroll off. */
export const TAIL_CAP = 500;
/** Events held while paused (the count keeps going past it). */
const BUFFER_CAP = 5_000;
/** Recent history shown when the tail opens, so the page is not blank. */
const BACKFILL = 50;

function useDebounced<T>(value: T, delay: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return debounced;
}

function StatusPill({ status, paused }: { status: StreamStatus; paused: boolean }) {
  const label = paused ? "Paused" : status === "live" ? "Live" : status === "connecting" ? "Connecting" : status === "reconnecting" ? "Reconnecting" : "Disconnected";
  const dot = paused ? "bg-amber-500" : status === "live" ? "bg-emerald-500" : status === "error" ? "bg-red-500" : "bg-muted-foreground";
  return (
    <span
      data-testid="tail-status"
      data-status={paused ? "paused" : status}
      className="inline-flex items-center gap-2 rounded-full border border-border bg-card px-2.5 py-1 text-xs font-medium"
    >
      <span className="relative flex size-2">
        {status === "live" && !paused ? <span className="absolute inline-flex size-full animate-ping rounded-full bg-emerald-400 opacity-60" /> : null}
        <span className={cn("relative inline-flex size-2 rounded-full", dot)} />
      </span>
      {label}
    </span>
  );
}

export function LiveTail({ onSelect, selectedId }: { onSelect(event: TailEvent): void; selectedId: string | null }) {
  const trpc = useTRPC();
  const types = useQuery(trpc.eventTypes.list.queryOptions());
  const knownTypes = useMemo(() => (types.data ?? []).map((item) => item.type), [types.data]);
  const suggestions = useMemo(() => patternSuggestions(knownTypes), [knownTypes]);

  const [typeInput, setTypeInput] = useState("");
  const [subjectInput, setSubjectInput] = useState("");
  const typeFilter = useDebounced(typeInput.trim(), 400);
  const subjectFilter = useDebounced(subjectInput.trim(), 400);
  const typeInvalid = typeFilter !== "" && !typeFilter.split(",").every((part) => isValidPattern(part.trim()));

  // Where the tail starts: a little before the head, fetched again whenever the filters change.
  const [start, setStart] = useState<number | undefined>(undefined);
  const [startError, setStartError] = useState<unknown>(null);
  const head = useQuery({ ...trpc.events.head.queryOptions(), enabled: false });
  const refetchHead = head.refetch;

  const [events, setEvents] = useState<TailEvent[]>([]);
  const [buffer, setBuffer] = useState<TailEvent[]>([]);
  const [bufferedCount, setBufferedCount] = useState(0);
  const [paused, setPaused] = useState(false);
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const pausedRef = useRef(paused);
  /** Head position when the tail opened: events up to it are recent history, not arrivals. */
  const openedAtRef = useRef(Number.POSITIVE_INFINITY);
  useEffect(() => {
    pausedRef.current = paused;
  }, [paused]);

  useEffect(() => {
    let cancelled = false;
    setStart(undefined);
    setStartError(null);
    openedAtRef.current = Number.POSITIVE_INFINITY;
    setEvents([]);
    setBuffer([]);
    setBufferedCount(0);
    refetchHead().then(
      (result) => {
        if (cancelled) return;
        if (result.data) {
          openedAtRef.current = result.data.position;
          setStart(Math.max(0, result.data.position - BACKFILL));
        } else setStartError(result.error ?? new Error("Could not read the head position"));
      },
      (error: unknown) => !cancelled && setStartError(error),
    );
    return () => {
      cancelled = true;
    };
  }, [typeFilter, subjectFilter, refetchHead]);

  const onEvents = useCallback((batch: TailEvent[]) => {
    const newestFirst = [...batch].reverse();
    if (pausedRef.current) {
      setBuffer((current) => [...newestFirst, ...current].slice(0, BUFFER_CAP));
      setBufferedCount((count) => count + batch.length);
      return;
    }
    setEvents((current) => [...newestFirst, ...current].slice(0, TAIL_CAP));
    // The first fill (recent history) appears as is; later arrivals are tinted briefly.
    setFresh(new Set(batch.filter((event) => event.position > openedAtRef.current).map((event) => event.id)));
  }, []);

  const stream = useEventStream({
    type: typeInvalid ? "" : typeFilter,
    subject: subjectFilter,
    after: typeInvalid ? undefined : start,
    onEvents,
    enabled: !typeInvalid,
  });

  function resume() {
    setEvents((current) => [...buffer, ...current].slice(0, TAIL_CAP));
    setFresh(new Set(buffer.slice(0, 50).map((event) => event.id)));
    setBuffer([]);
    setBufferedCount(0);
    setPaused(false);
  }

  function clear() {
    setEvents([]);
    setBuffer([]);
    setBufferedCount(0);
  }

  const waiting = start === undefined || !types.isSuccess;

  return (
    <Card className="overflow-hidden" data-testid="live-tail">
      <div className="flex flex-wrap items-center gap-2 border-b border-border px-4 py-3">
        <FilterInput
          className="w-full sm:w-72"
          value={typeInput}
          onValueChange={setTypeInput}
          suggestions={suggestions}
          placeholder="Type or pattern, e.g. exam.*"
          aria-label="Filter by type"
          aria-invalid={typeInvalid || undefined}
          spellCheck={false}
        />
        <FilterInput
          className="w-full sm:w-56"
          value={subjectInput}
          onValueChange={setSubjectInput}
          placeholder="Subject"
          aria-label="Filter by subject"
          spellCheck={false}
        />
        <div className="ml-auto flex items-center gap-2">
          <StatusPill status={stream.status} paused={paused} />
          {paused ? (
            <Button size="sm" onClick={resume} data-testid="tail-resume">
              <Play aria-hidden />
              Resume
              {bufferedCount > 0 ? (
                <span className="ml-0.5 rounded-full bg-white/20 px-1.5 text-xs tabular-nums" data-testid="tail-buffered">
                  {bufferedCount > BUFFER_CAP ? `${BUFFER_CAP.toLocaleString()}+` : bufferedCount.toLocaleString()} new
                </span>
              ) : null}
            </Button>
          ) : (
            <Button size="sm" variant="outline" onClick={() => setPaused(true)} data-testid="tail-pause">
              <Pause aria-hidden />
              Pause
            </Button>
          )}
          <Button size="sm" variant="ghost" onClick={clear} disabled={events.length === 0 && bufferedCount === 0} title="Clear the list">
            <Eraser aria-hidden />
            <span className="sr-only sm:not-sr-only">Clear</span>
          </Button>
        </div>
      </div>

      {typeInvalid ? (
        <Alert tone="warning" className="m-4">
          “{typeFilter}” is not a type pattern. Use a type such as <code className="font-mono">exam.created</code>, a family such as{" "}
          <code className="font-mono">exam.*</code>, or several separated by commas.
        </Alert>
      ) : null}
      {stream.error ? <Alert tone="warning" className="m-4">{stream.error}</Alert> : null}
      {startError ? <Alert className="m-4">Could not start the live tail: {startError instanceof Error ? startError.message : String(startError)}</Alert> : null}

      {events.length > 0 ? (
        <>
          <EventTable events={events} onSelect={onSelect} selectedId={selectedId} highlightIds={fresh} />
          <div className="flex items-center justify-between border-t border-border px-5 py-2.5 text-xs text-muted-foreground">
            <span>
              {events.length.toLocaleString()} event{events.length === 1 ? "" : "s"}
              {events.length >= TAIL_CAP ? ` · only the latest ${TAIL_CAP} are kept here; use History for older ones` : ""}
            </span>
            <span>Newest first</span>
          </div>
        </>
      ) : waiting && !startError ? (
        <div className="flex justify-center py-16">
          <Spinner label="Connecting to the live stream…" />
        </div>
      ) : (
        <EmptyState icon={Radio} title={paused ? "Paused" : "Waiting for events"}>
          {paused
            ? "New events are held until you resume."
            : typeFilter || subjectFilter
              ? "Nothing matching these filters has arrived yet. Events appear here the moment they are committed."
              : "Events appear here the moment they are committed to the log. Publish one to see it arrive."}
        </EmptyState>
      )}
    </Card>
  );
}
