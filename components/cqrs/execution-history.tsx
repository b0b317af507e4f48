"use client";

import { ArrowUpRight, History, RotateCcw, Trash2 } from "lucide-react";
import Link from "next/link";
import { useCallback, useEffect, useState } from "react";
import { Badge, type BadgeTone } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardHeader } from "../ui/card";
import { EmptyState } from "../ui/empty-state";
import { RelativeTime } from "../ui/relative-time";
import { Table, Td, Th, THead } from "../ui/table";
import type { CommandResult } from "./command-outcome";
import type { Rejection } from "./rejection";

/** One run of a command from this browser tab, kept for the tab's session. */
export interface Execution {
  idempotencyKey: string;
  at: number;
  command: string;
  input: unknown;
  expectedVersion: number | undefined;
  outcome: { ok: true; result: CommandResult } | { ok: false; kind: Rejection["kind"]; summary: string };
}

const STORAGE_KEY = "eventloom.commands.history";
const KEEP = 50;

/** This tab's executions, newest first; in sessionStorage, so they survive a visit to an event's page. */
export function useExecutionHistory(): { items: Execution[]; add(execution: Execution): void; clear(): void } {
  const [items, setItems] = useState<Execution[]>([]);
  useEffect(() => {
    // Read after hydration: the server render has no session storage.
    try {
      const stored = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) ?? "[]") as unknown;
      if (Array.isArray(stored)) setItems(stored as Execution[]);
    } catch {
      window.sessionStorage.removeItem(STORAGE_KEY);
    }
  }, []);
  const save = useCallback((update: (items: Execution[]) => Execution[]) => {
    setItems((previous) => {
      const next = update(previous);
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
      return next;
    });
  }, []);
  return {
    items,
    add: useCallback((execution: Execution) => save((previous) => [execution, ...previous.filter((item) => item.idempotencyKey !== execution.idempotencyKey)].slice(0, KEEP)), [save]),
    clear: useCallback(() => save(() => []), [save]),
  };
}

const rejectionTone: Record<Rejection["kind"], BadgeTone> = {
  invalid: "danger",
  rule: "danger",
  conflict: "warning",
  forbidden: "danger",
  not_found: "neutral",
  unavailable: "warning",
  other: "danger",
};

const rejectionLabel: Record<Rejection["kind"], string> = {
  invalid: "invalid",
  rule: "rule",
  conflict: "conflict",
  forbidden: "forbidden",
  not_found: "not found",
  unavailable: "unavailable",
  other: "failed",
};

export function ExecutionHistory({ items, onClear, onLoad }: { items: readonly Execution[]; onClear(): void; onLoad(execution: Execution): void }) {
  return (
    <Card className="overflow-hidden" data-testid="execution-history">
      <CardHeader
        title="This session"
        description="Commands run from this tab, newest first."
        actions={
          items.length > 0 ? (
            <Button variant="ghost" size="xs" onClick={onClear}>
              <Trash2 aria-hidden /> Clear
            </Button>
          ) : null
        }
      />
      {items.length === 0 ? (
        <EmptyState icon={History} title="Nothing run yet" className="py-10">
          Each command you run appears here with its outcome, so you can load its input again.
        </EmptyState>
      ) : (
        <Table>
          <THead>
            <tr>
              <Th>When</Th>
              <Th>Command</Th>
              <Th>Outcome</Th>
              <Th className="text-right">Version</Th>
              <Th className="text-right">Events</Th>
              <Th>
                <span className="sr-only">Actions</span>
              </Th>
            </tr>
          </THead>
          <tbody>
            {items.map((execution) => {
              const { outcome } = execution;
              const first = outcome.ok ? outcome.result.events[0] : undefined;
              return (
                <tr key={execution.idempotencyKey} className="border-b border-border last:border-b-0" data-testid="execution-row" data-command={execution.command} data-ok={outcome.ok}>
                  <Td className="text-xs whitespace-nowrap text-muted-foreground">
                    <RelativeTime time={execution.at} />
                  </Td>
                  <Td className="font-mono text-xs whitespace-nowrap">{execution.command}</Td>
                  <Td className="max-w-80">
                    {outcome.ok ? (
                      <Badge tone="success">{outcome.result.replayed ? "replayed" : "applied"}</Badge>
                    ) : (
                      <span className="flex min-w-0 items-center gap-2">
                        <Badge tone={rejectionTone[outcome.kind]}>{rejectionLabel[outcome.kind]}</Badge>
                        <span className="truncate text-xs text-muted-foreground" title={outcome.summary}>
                          {outcome.summary}
                        </span>
                      </span>
                    )}
                  </Td>
                  <Td className="text-right font-mono text-xs font-semibold tabular-nums" title={outcome.ok ? `Stream ${outcome.result.streamId}` : undefined}>
                    {outcome.ok ? outcome.result.version : <span className="font-normal text-muted-foreground">—</span>}
                  </Td>
                  <Td className="text-right font-mono text-xs tabular-nums">
                    {first ? (
                      <Link href={`/events/${first.id}`} className="inline-flex items-center gap-0.5 text-primary hover:underline" title={`Open ${first.type}`}>
                        {outcome.ok ? outcome.result.events.length : 0}
                        <ArrowUpRight className="size-3" aria-hidden />
                      </Link>
                    ) : (
                      <span className="text-muted-foreground">0</span>
                    )}
                  </Td>
                  <Td className="text-right">
                    <Button variant="ghost" size="xs" onClick={() => onLoad(execution)} title="Open this command with this input in the form">
                      <RotateCcw aria-hidden /> Load
                    </Button>
                  </Td>
                </tr>
              );
            })}
          </tbody>
        </Table>
      )}
    </Card>
  );
}
