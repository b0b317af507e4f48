"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { DatabaseZap, LoaderCircle, Play, SearchCode } from "lucide-react";
import { useState, type FormEvent } from "react";
import { useTRPC, useTRPCClient, type RouterInputs, type RouterOutputs } from "../trpc";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card } from "../ui/card";
import { EmptyState } from "../ui/empty-state";
import { Alert, ErrorState } from "../ui/error-state";
import { Field, Input, Select } from "../ui/form";
import { Skeleton } from "../ui/spinner";
import { RejectionAlert } from "./command-outcome";
import { QueryResultView } from "./query-result";
import { rejectionOf } from "./rejection";
import { draftIssues, DraftModeToggle, SchemaInput, useSchemaDraft } from "./schema-form";
import { fieldsFor, formLayout, type FormField } from "./schema-model";

type QueryInfo = RouterOutputs["queries"]["list"][number];
type RunInput = RouterInputs["queries"]["run"];

/** What the page's URL asks the runner to start with: `?query=exams.get&examId=…&minPosition=42`. */
export interface QueryPrefill {
  query: string | undefined;
  minPosition: string | undefined;
  params: Record<string, string>;
}

/** URL text as the values the form's controls hold (numbers as numbers, yes/no as booleans). */
function paramsFromText(fields: readonly FormField[], text: Record<string, string>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const field of fields) {
    const raw = text[field.key];
    if (raw === undefined) continue;
    const { kind } = field.control;
    params[field.key] = kind === "number" && Number.isFinite(Number(raw)) ? Number(raw) : kind === "boolean" ? raw === "true" : raw;
  }
  return params;
}

function parsePosition(text: string): number | undefined | "invalid" {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  return /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : "invalid";
}

function QueryForm({ query, prefill }: { query: QueryInfo; prefill: QueryPrefill | undefined }) {
  const client = useTRPCClient();
  const [initialParams] = useState(() => {
    const layout = formLayout(query.schema);
    return prefill && layout.ok ? paramsFromText(fieldsFor(layout.shape, undefined), prefill.params) : undefined;
  });
  const draft = useSchemaDraft(query.schema, initialParams);
  const [minPosition, setMinPosition] = useState(prefill?.minPosition ?? "");
  const [touched, setTouched] = useState(false);
  const [modeRefusal, setModeRefusal] = useState<string | null>(null);
  const run = useMutation({
    mutationFn: async (input: RunInput) => {
      const started = performance.now();
      const answer = await client.queries.run.query(input);
      return { ...answer, input, elapsedMs: Math.round(performance.now() - started) };
    },
  });

  const position = parsePosition(minPosition);
  const clientIssues = touched ? draftIssues(draft) : [];
  const rejection = run.isError ? rejectionOf(run.error) : null;
  const sent = draft.current.ok ? JSON.stringify(draft.current.value) : null;
  const serverIssues = rejection?.kind === "invalid" && run.variables && JSON.stringify(run.variables.params) === sent ? rejection.issues : [];
  const issues = [...clientIssues, ...serverIssues.filter((issue) => !clientIssues.some((own) => own.path === issue.path && own.message === issue.message))];

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    if (!draft.current.ok || draftIssues(draft).length > 0 || position === "invalid") return;
    const params = draft.current.value;
    if (typeof params !== "object" || params === null || Array.isArray(params)) return;
    run.mutate({ name: query.name, params: params as Record<string, unknown>, ...(position === undefined ? {} : { minPosition: position }) });
  }

  return (
    <div className="grid xl:grid-cols-[minmax(0,22rem)_minmax(0,1fr)] 2xl:grid-cols-[minmax(0,26rem)_minmax(0,1fr)]">
      <form onSubmit={onSubmit} noValidate className="space-y-4 border-b border-border p-5 xl:border-r xl:border-b-0" data-testid="query-form" data-query={query.name}>
        <div className="flex flex-wrap items-center gap-x-3 gap-y-1 text-xs text-muted-foreground">
          <span className="inline-flex items-center gap-1.5">
            Reads <Badge tone="neutral" className="font-mono">{query.projection}</Badge>
          </span>
          <span className="inline-flex items-center gap-1.5">
            Needs <Badge tone="primary" className="font-mono">{query.scope}</Badge>
          </span>
        </div>
        <div className="flex items-center justify-between gap-3 border-t border-border pt-4">
          <span className="text-xs font-semibold tracking-wide text-muted-foreground uppercase">Parameters</span>
          <DraftModeToggle draft={draft} onRefused={setModeRefusal} />
        </div>
        {modeRefusal ? <Alert tone="warning">{modeRefusal}</Alert> : null}
        <SchemaInput draft={draft} issues={issues} idPrefix="query" disabled={run.isPending} noInput="This query takes no parameters." narrow />
        <Field
          label={
            <>
              Min position <span className="ml-1.5 rounded bg-muted px-1 py-px text-[10px] font-normal tracking-wide text-muted-foreground uppercase">optional</span>
            </>
          }
          htmlFor="query-min-position"
          hint="Wait (a few seconds at most) until the read model has applied this log position: read your own writes."
          error={position === "invalid" ? "must be a log position: 0, 1, 2…" : undefined}
        >
          <Input
            id="query-min-position"
            inputMode="numeric"
            value={minPosition}
            onChange={(event) => setMinPosition(event.target.value)}
            placeholder="Don't wait"
            className="font-mono"
            aria-invalid={position === "invalid" || undefined}
          />
        </Field>
        <div className="flex justify-end border-t border-border pt-4">
          <Button type="submit" disabled={run.isPending} data-testid="query-submit">
            {run.isPending ? <LoaderCircle className="animate-spin" aria-hidden /> : <Play aria-hidden />}
            {run.isPending ? "Running…" : "Run query"}
          </Button>
        </div>
      </form>

      <div className="min-w-0 p-5" aria-live="polite" data-testid="query-answer">
        {run.isPending ? (
          <div className="space-y-3">
            <Skeleton className="h-6 w-64" />
            <Skeleton className="h-40 w-full" />
          </div>
        ) : rejection ? (
          <RejectionAlert rejection={rejection} subject="query" />
        ) : run.data ? (
          <div className="space-y-3">
            <div className="flex flex-wrap items-center gap-x-3 gap-y-1.5 text-xs text-muted-foreground">
              <Badge tone="primary" className="font-mono" title="How far the read model had caught up when it answered (the X-Read-Model-Position header)">
                X-Read-Model-Position <span data-testid="query-position">{run.data.position}</span>
              </Badge>
              {run.data.input.minPosition !== undefined ? <span>waited for ≥ {run.data.input.minPosition.toLocaleString()}</span> : null}
              <span className="ml-auto tabular-nums">
                <span className="font-mono">{run.data.input.name}</span> answered in {run.data.elapsedMs.toLocaleString()} ms
              </span>
            </div>
            <QueryResultView key={`${run.submittedAt}`} result={run.data.result} />
          </div>
        ) : (
          <EmptyState icon={SearchCode} title="Run a query to see its answer" className="py-12">
            The answer shows as a table when it is a list, and always as JSON, with the position its read model had reached.
          </EmptyState>
        )}
      </div>
    </div>
  );
}

/** The query the runner starts with: the first that runs without parameters (a list), else the first. */
function firstToOffer(queries: readonly QueryInfo[]): string | undefined {
  const open = queries.find((query) => !Array.isArray(query.schema.required) || query.schema.required.length === 0);
  return (open ?? queries[0])?.name;
}

/** Ask a read model, as `GET /api/v1/queries/{name}` does, reusing the schema form of the Commands console. */
export function QueryRunner({ prefill }: { prefill: QueryPrefill }) {
  const trpc = useTRPC();
  const queries = useQuery(trpc.queries.list.queryOptions(undefined, { staleTime: 60_000 }));
  const [picked, setPicked] = useState<string | undefined>(undefined);
  const name = picked ?? (prefill.query && queries.data?.some((query) => query.name === prefill.query) ? prefill.query : firstToOffer(queries.data ?? []));
  const query = queries.data?.find((item) => item.name === name);

  const byProjection = new Map<string, QueryInfo[]>();
  for (const item of queries.data ?? []) byProjection.set(item.projection, [...(byProjection.get(item.projection) ?? []), item]);

  return (
    <Card id="query-runner" className="scroll-mt-6 overflow-hidden" data-testid="query-runner">
      <div className="flex flex-wrap items-start gap-x-4 gap-y-3 border-b border-border px-5 py-4">
        <div className="min-w-0 flex-1">
          <h2 className="text-sm font-semibold">Query runner</h2>
          <p className="mt-0.5 text-sm text-muted-foreground">Ask a read model a question, as GET /api/v1/queries/{"{name}"} does; the answer says how far the read model had caught up.</p>
        </div>
        {queries.data && queries.data.length > 0 ? (
          <Select aria-label="Query" value={name} onChange={(event) => setPicked(event.target.value)} className="w-64 shrink-0 font-mono text-xs" data-testid="query-select">
            {[...byProjection].map(([projection, items]) => (
              <optgroup key={projection} label={projection}>
                {items.map((item) => (
                  <option key={item.name} value={item.name}>
                    {item.name}
                  </option>
                ))}
              </optgroup>
            ))}
          </Select>
        ) : null}
      </div>
      {queries.isPending ? (
        <div className="space-y-3 p-5">
          <Skeleton className="h-9 w-full" />
          <Skeleton className="h-32 w-full" />
        </div>
      ) : queries.isError ? (
        <ErrorState title="Could not load the queries" error={queries.error} onRetry={() => void queries.refetch()} />
      ) : !query ? (
        <EmptyState icon={DatabaseZap} title="No queries registered">
          Queries are defined by the domain next to their projections.
        </EmptyState>
      ) : (
        <>
          <p className="border-b border-border bg-muted/30 px-5 py-2.5 text-sm text-muted-foreground" data-testid="query-description">
            {query.description}
          </p>
          <QueryForm key={query.name} query={query} prefill={query.name === prefill.query || !prefill.query ? prefill : undefined} />
        </>
      )}
    </Card>
  );
}
