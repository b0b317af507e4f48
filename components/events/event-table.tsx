"use client";

import { ChevronRight } from "lucide-react";
import { cn } from "../ui/cn";
import { RelativeTime } from "../ui/relative-time";
import { ShortId } from "../ui/short-id";
import { Table, Td, Th, THead } from "../ui/table";
import { TypeBadge } from "../ui/type-badge";
import type { TailEvent } from "./types";

export function EventTable({
  events,
  onSelect,
  selectedId,
  highlightIds,
}: {
  events: readonly TailEvent[];
  onSelect(event: TailEvent): void;
  selectedId?: string | null;
  /** Rows that just arrived (briefly tinted). */
  highlightIds?: ReadonlySet<string>;
}) {
  return (
    <Table className="table-fixed">
      <colgroup>
        <col className="w-24" />
        <col className="w-60" />
        <col />
        <col className="w-36" />
        <col className="w-36" />
        <col className="w-28" />
        <col className="w-10" />
      </colgroup>
      <THead>
        <tr>
          <Th className="text-right">Position</Th>
          <Th>Type</Th>
          <Th>Subject</Th>
          <Th>Event id</Th>
          <Th>Correlation</Th>
          <Th>Time</Th>
          <Th>
            <span className="sr-only">Open</span>
          </Th>
        </tr>
      </THead>
      <tbody>
        {events.map((event) => (
          <tr
            key={event.id}
            data-testid="event-row"
            data-event-id={event.id}
            data-event-type={event.type}
            tabIndex={0}
            onClick={() => onSelect(event)}
            onKeyDown={(keyboard) => {
              if (keyboard.key === "Enter" || keyboard.key === " ") {
                keyboard.preventDefault();
                onSelect(event);
              }
            }}
            aria-selected={selectedId === event.id}
            className={cn(
              "group cursor-pointer border-b border-border transition-colors last:border-b-0 hover:bg-muted/60 focus-visible:bg-muted/60 focus-visible:outline-none",
              selectedId === event.id && "bg-accent/60 hover:bg-accent/70",
              highlightIds?.has(event.id) && "animate-arrive",
            )}
          >
            <Td className="text-right font-mono text-xs text-muted-foreground tabular-nums">{event.position.toLocaleString()}</Td>
            <Td>
              <TypeBadge type={event.type} />
            </Td>
            <Td className="truncate">
              {event.subject ? (
                <span className="font-mono text-xs" title={event.subject}>
                  {event.subject}
                </span>
              ) : (
                <span className="text-xs text-muted-foreground/70">—</span>
              )}
            </Td>
            <Td>
              <ShortId id={event.id} />
            </Td>
            <Td>
              <ShortId id={event.correlationid} />
            </Td>
            <Td className="text-xs whitespace-nowrap text-muted-foreground">
              <RelativeTime time={event.time} />
            </Td>
            <Td className="text-muted-foreground/60">
              <ChevronRight className="size-4 transition-transform group-hover:translate-x-0.5 group-hover:text-foreground" aria-hidden />
            </Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}
