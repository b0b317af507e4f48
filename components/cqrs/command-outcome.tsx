"use client";

import { ArrowUpRight, CircleCheck, DatabaseZap, Repeat } from "lucide-react";
import Link from "next/link";
import type { RouterOutputs } from "../trpc";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Alert } from "../ui/error-state";
import { ShortId } from "../ui/short-id";
import { Table, Td, Th, THead } from "../ui/table";
import { TypeBadge } from "../ui/type-badge";
import type { Rejection } from "./rejection";

export type CommandResult = RouterOutputs["commands"]["execute"];

/** The events a command appended, the stream's new version, and where to look next. */
export function CommandSuccess({ result }: { result: CommandResult }) {
  const last = result.events.at(-1);
  return (
    <div className="overflow-hidden rounded-lg border border-emerald-200 dark:border-emerald-500/25" data-testid="command-result" data-stream-id={result.streamId} data-version={result.version}>
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1.5 bg-emerald-50 px-4 py-3 text-sm dark:bg-emerald-500/10">
        <CircleCheck className="size-4 shrink-0 text-emerald-600 dark:text-emerald-400" aria-hidden />
        <span className="font-medium text-emerald-900 dark:text-emerald-100">
          {result.events.length === 0 ? "Accepted, nothing to change" : `${result.events.length} event${result.events.length === 1 ? "" : "s"} appended`}
        </span>
        <span className="text-emerald-800/80 dark:text-emerald-200/80">
          stream <code className="rounded bg-white/60 px-1 py-px font-mono text-xs text-emerald-950 dark:bg-black/20 dark:text-emerald-50">{result.streamId}</code>{" "}
          {result.events.length === 0 ? "stays at" : "is now at"} version{" "}
          <span className="font-mono font-semibold text-emerald-950 tabular-nums dark:text-emerald-50" data-testid="command-version">
            {result.version}
          </span>
        </span>
        {result.replayed ? (
          <Badge tone="warning" className="ml-auto" title="The same idempotency key ran before: this is the first run's result; nothing was appended again.">
            <Repeat className="size-3" aria-hidden /> Replayed
          </Badge>
        ) : null}
      </div>
      {result.events.length > 0 ? (
        <Table>
          <THead>
            <tr>
              <Th className="w-28">Position</Th>
              <Th>Type</Th>
              <Th>Event id</Th>
              <Th className="w-20">
                <span className="sr-only">Open</span>
              </Th>
            </tr>
          </THead>
          <tbody>
            {result.events.map((event) => (
              <tr key={event.id} className="border-b border-border last:border-b-0" data-testid="command-event" data-event-id={event.id} data-event-type={event.type}>
                <Td className="font-mono text-xs tabular-nums">{event.position.toLocaleString()}</Td>
                <Td>
                  <TypeBadge type={event.type} />
                </Td>
                <Td>
                  <ShortId id={event.id} length={12} />
                </Td>
                <Td className="text-right">
                  <Link href={`/events/${event.id}`} className="inline-flex items-center gap-0.5 text-xs font-medium text-primary hover:underline" aria-label={`Open event ${event.type} at position ${event.position}`}>
                    Open <ArrowUpRight className="size-3.5" aria-hidden />
                  </Link>
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      ) : null}
      {last ? (
        <div className="flex flex-wrap items-center justify-between gap-2 border-t border-border bg-card px-4 py-2.5 text-xs text-muted-foreground">
          <span>Read models include this once they have applied position {last.position.toLocaleString()}.</span>
          <Link href={`/read-models?minPosition=${last.position}#query-runner`} className="inline-flex items-center gap-1 font-medium text-primary hover:underline" data-testid="query-after-command">
            <DatabaseZap className="size-3.5" aria-hidden /> Query the read models
          </Link>
        </div>
      ) : null}
    </div>
  );
}

/** Why a command (or a query) was refused, in place: the rule, the versions, the reason. */
export function RejectionAlert({ rejection, onUseVersion, subject = "command" }: { rejection: Rejection; onUseVersion?(version: number): void; subject?: "command" | "query" }) {
  switch (rejection.kind) {
    case "invalid":
      return (
        <Alert title={`The ${subject} input is invalid`}>
          <span data-testid="rejection" data-kind="invalid">
            {rejection.issues.length > 0
              ? `${rejection.issues.length} field${rejection.issues.length === 1 ? "" : "s"} failed the server's checks; each is marked above.`
              : rejection.message}
          </span>
        </Alert>
      );
    case "rule":
      return (
        <Alert title="Rejected by a business rule">
          <span className="flex flex-wrap items-baseline gap-x-2 gap-y-1" data-testid="rejection" data-kind="rule" data-rule={rejection.rule}>
            <code className="rounded bg-red-100 px-1.5 py-0.5 font-mono text-xs font-semibold dark:bg-red-500/20">{rejection.rule}</code>
            <span>{rejection.message}</span>
          </span>
          <span className="mt-1 block text-xs opacity-80">Nothing was appended.</span>
        </Alert>
      );
    case "conflict":
      return (
        <Alert tone="warning" title="Version conflict">
          <span className="flex flex-wrap items-center justify-between gap-2" data-testid="rejection" data-kind="conflict">
            <span>
              {rejection.actual !== undefined ? (
                <>
                  {rejection.streamId ? <code className="font-mono text-xs">{rejection.streamId}</code> : "The stream"} is at version{" "}
                  <strong className="font-mono tabular-nums" data-testid="conflict-actual">
                    {rejection.actual}
                  </strong>
                  ; you expected <strong className="font-mono tabular-nums">{String(rejection.expected)}</strong>. Nothing was appended.
                </>
              ) : (
                rejection.message
              )}
            </span>
            {rejection.actual !== undefined && onUseVersion ? (
              <Button variant="outline" size="xs" onClick={() => onUseVersion(rejection.actual!)}>
                Use version {rejection.actual}
              </Button>
            ) : null}
          </span>
        </Alert>
      );
    case "forbidden":
      return (
        <Alert title="Not allowed">
          <span data-testid="rejection" data-kind="forbidden">
            {rejection.message}
          </span>
        </Alert>
      );
    case "not_found":
      return (
        <Alert title={subject === "command" ? "Unknown command" : "Not found"}>
          <span data-testid="rejection" data-kind="not_found">
            {rejection.message}
          </span>
        </Alert>
      );
    case "unavailable":
      return (
        <Alert tone="warning" title="Not ready yet">
          <span data-testid="rejection" data-kind="unavailable">
            {rejection.message}
          </span>
        </Alert>
      );
    default:
      return (
        <Alert title={`The ${subject} failed`}>
          <span data-testid="rejection" data-kind="other">
            {rejection.message}
          </span>
        </Alert>
      );
  }
}
