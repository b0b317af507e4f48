"use client";

import { Braces, Table2 } from "lucide-react";
import { useState } from "react";
import { Badge } from "../ui/badge";
import { JsonView } from "../ui/json-view";
import { RelativeTime } from "../ui/relative-time";
import { ShortId } from "../ui/short-id";
import { Table, Td, Th, THead } from "../ui/table";
import { Tabs } from "../ui/tabs";

type Row = Record<string, unknown>;

const MAX_ROWS = 200;
const MAX_COLUMNS = 12;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d/;

const isRow = (value: unknown): value is Row => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The rows of an answer that reads as a table: a list of records, or a record whose one list of
 * records (`items`, `sheets`...) sits beside a few summary values. Anything else is JSON only.
 */
export function tableOf(result: unknown): { rows: Row[]; summary: Array<[string, unknown]> } | null {
  if (Array.isArray(result)) return result.length > 0 && result.every(isRow) ? { rows: result, summary: [] } : null;
  if (!isRow(result)) return null;
  const lists = Object.entries(result).filter(([, value]) => Array.isArray(value) && value.length > 0 && value.every(isRow));
  if (lists.length !== 1) return null;
  const [listKey, rows] = lists[0]!;
  const summary = Object.entries(result).filter(([key, value]) => key !== listKey && (value === null || typeof value !== "object"));
  return { rows: rows as Row[], summary };
}

function columnsOf(rows: readonly Row[]): string[] {
  const columns: string[] = [];
  for (const row of rows.slice(0, 50)) {
    for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  }
  return columns.slice(0, MAX_COLUMNS);
}

function Cell({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span className="text-muted-foreground/60">—</span>;
  if (typeof value === "number") return <span className="font-mono tabular-nums">{value.toLocaleString()}</span>;
  if (typeof value === "boolean") return <span className="font-mono text-violet-700 dark:text-violet-300">{String(value)}</span>;
  if (value instanceof Date) return <RelativeTime time={value} className="text-xs whitespace-nowrap" />;
  if (typeof value === "string") {
    if (UUID.test(value)) return <ShortId id={value} />;
    if (ISO_TIME.test(value)) return <RelativeTime time={value} className="text-xs whitespace-nowrap" />;
    return <span title={value}>{value.length > 80 ? `${value.slice(0, 80)}…` : value}</span>;
  }
  const text = JSON.stringify(value);
  return (
    <span className="font-mono text-xs text-muted-foreground" title={text}>
      {text.length > 60 ? `${text.slice(0, 60)}…` : text}
    </span>
  );
}

/** A query's answer as a table when it reads as one, and always as JSON. */
export function QueryResultView({ result }: { result: unknown }) {
  const table = tableOf(result);
  const [view, setView] = useState<"table" | "json">(table ? "table" : "json");
  const shown = table ? view : "json";
  const columns = table ? columnsOf(table.rows) : [];
  return (
    <div className="space-y-3">
      {table ? (
        <div className="flex flex-wrap items-end justify-between gap-3">
          <Tabs<"table" | "json">
            items={[
              { value: "table" as const, label: "Table", icon: <Table2 aria-hidden /> },
              { value: "json" as const, label: "JSON", icon: <Braces aria-hidden /> },
            ]}
            value={shown}
            onChange={setView}
            className="border-b-0"
          />
          {table.summary.length > 0 ? (
            <div className="flex flex-wrap gap-1.5">
              {table.summary.map(([key, value]) => (
                <Badge key={key} tone="neutral" className="font-mono">
                  {key}: {String(value)}
                </Badge>
              ))}
            </div>
          ) : null}
        </div>
      ) : null}
      {shown === "table" && table ? (
        <div className="overflow-hidden rounded-lg border border-border" data-testid="query-table">
          <Table>
            <THead>
              <tr>
                {columns.map((column) => (
                  <Th key={column} className="normal-case">
                    {column}
                  </Th>
                ))}
              </tr>
            </THead>
            <tbody>
              {table.rows.slice(0, MAX_ROWS).map((row, index) => (
                <tr key={index} className="border-b border-border last:border-b-0">
                  {columns.map((column) => (
                    <Td key={column} className="max-w-64 truncate text-sm">
                      <Cell value={row[column]} />
                    </Td>
                  ))}
                </tr>
              ))}
            </tbody>
          </Table>
          {table.rows.length > MAX_ROWS ? (
            <p className="border-t border-border bg-muted/40 px-5 py-2 text-xs text-muted-foreground">
              The first {MAX_ROWS} of {table.rows.length.toLocaleString()} rows; the JSON view has them all.
            </p>
          ) : null}
        </div>
      ) : (
        <div data-testid="query-json">
          <JsonView value={result} />
        </div>
      )}
    </div>
  );
}
