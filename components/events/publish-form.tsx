"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { CircleCheck, LoaderCircle, RotateCcw, Send, WandSparkles } from "lucide-react";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useTRPC, type EventTypeInfo } from "../trpc";
import { Button } from "../ui/button";
import { Alert, errorMessage } from "../ui/error-state";
import { Field, Input, Select } from "../ui/form";
import { ShortId } from "../ui/short-id";
import { Skeleton } from "../ui/spinner";
import { JsonEditor } from "./json-editor";
import { exampleFromSchema, lineIndex, lineOfPath, parseErrorLine, validateAgainstSchema, type Issue, type JsonSchema } from "./json-schema";

function exampleText(info: EventTypeInfo | undefined): string {
  if (!info) return "{}";
  return JSON.stringify(exampleFromSchema(info.schema as JsonSchema), null, 2) ?? "{}";
}

type Check =
  | { state: "ok" }
  | { state: "unchecked"; reason: string }
  | { state: "parse"; message: string; line: number | undefined }
  | { state: "invalid"; issues: Issue[] };

/** Issues about the payload map to editor lines; others (type, subject) are listed only. */
function isDataPath(path: string): boolean {
  return path === "data" || path.startsWith("data.") || path.startsWith("data[");
}

function check(text: string, info: EventTypeInfo | undefined): Check & { data?: unknown } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { state: "parse", message: errorMessage(error), line: parseErrorLine(text, error) };
  }
  if (!info) return { state: "ok", data };
  const result = validateAgainstSchema(info.schema as JsonSchema, data);
  if (result.ok === true) return { state: "ok", data };
  if (result.ok === "unchecked") return { state: "unchecked", reason: result.reason, data };
  return { state: "invalid", issues: result.issues, data };
}

export interface PublishedEvent {
  id: string;
  position: number;
  type: string;
}

export function PublishForm({ onPublished, onOpenEvent }: { onPublished?(event: PublishedEvent): void; onOpenEvent?(id: string): void }) {
  const trpc = useTRPC();
  const types = useQuery(trpc.eventTypes.list.queryOptions(undefined, { staleTime: 60_000 }));
  const [type, setType] = useState("");
  const [text, setText] = useState("");
  const [subject, setSubject] = useState("");
  const [priority, setPriority] = useState<"high" | "normal" | "low">("normal");
  const [correlationid, setCorrelationid] = useState("");
  const [causationid, setCausationid] = useState("");
  const [serverIssues, setServerIssues] = useState<Issue[]>([]);
  const [published, setPublished] = useState<PublishedEvent | null>(null);
  const [touched, setTouched] = useState(false);

  const info = types.data?.find((item) => item.type === type);

  // Pick the first type once the registry has loaded, with its example.
  useEffect(() => {
    if (type || !types.data || types.data.length === 0) return;
    const first = types.data[0]!;
    setType(first.type);
    setText(exampleText(first));
  }, [types.data, type]);

  const result = useMemo(() => check(text, info), [text, info]);
  const lines = useMemo(() => (result.state === "parse" ? new Map<string, number>() : lineIndex(text)), [text, result.state]);

  const clientIssues: Issue[] = result.state === "invalid" ? result.issues : [];
  const allIssues = [...clientIssues, ...serverIssues.filter((issue) => !clientIssues.some((own) => own.path === issue.path && own.message === issue.message))];
  const errorLines = new Set<number>();
  if (result.state === "parse" && result.line) errorLines.add(result.line);
  for (const issue of allIssues) {
    const line = isDataPath(issue.path) ? lineOfPath(lines, issue.path) : undefined;
    if (line) errorLines.add(line);
  }

  const publish = useMutation(
    trpc.events.publish.mutationOptions({
      onSuccess(event) {
        setPublished(event);
        setServerIssues([]);
        onPublished?.(event);
      },
      onError(error) {
        const issues = (error.data as { issues?: Issue[] } | undefined)?.issues;
        setServerIssues(issues ?? []);
      },
    }),
  );

  function selectType(next: string) {
    setType(next);
    setText(exampleText(types.data?.find((item) => item.type === next)));
    setServerIssues([]);
    setPublished(null);
    publish.reset();
    setTouched(false);
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    setServerIssues([]);
    setPublished(null);
    if (result.state === "parse" || result.state === "invalid" || !type) return;
    publish.mutate({
      type,
      data: result.data,
      subject: subject.trim() || undefined,
      priority,
      correlationid: correlationid.trim() || undefined,
      causationid: causationid.trim() || undefined,
    });
  }

  function format() {
    if (result.state === "parse") return;
    setText(JSON.stringify(result.data, null, 2));
  }

  if (types.isPending) {
    return (
      <div className="space-y-4 p-5">
        <Skeleton className="h-9 w-full" />
        <Skeleton className="h-72 w-full" />
      </div>
    );
  }
  if (types.isError) return <Alert className="m-5" title="Could not load the event types">{errorMessage(types.error)}</Alert>;
  if (types.data.length === 0) {
    return (
      <Alert tone="info" className="m-5" title="No event types registered">
        Register a type (POST /api/v1/event-types) before publishing: every event is validated against its type&apos;s schema.
      </Alert>
    );
  }

  const families = new Map<string, EventTypeInfo[]>();
  for (const item of types.data) {
    const family = item.type.split(".")[0] ?? item.type;
    families.set(family, [...(families.get(family) ?? []), item]);
  }
  const serverError = publish.error && serverIssues.length === 0 ? errorMessage(publish.error) : null;

  return (
    <form onSubmit={onSubmit} className="space-y-5 p-5" noValidate data-testid="publish-form">
      <div className="grid gap-4 sm:grid-cols-2">
        <Field label="Event type" htmlFor="publish-type" className="sm:col-span-2" hint={info?.description || undefined}>
          <Select id="publish-type" value={type} onChange={(event) => selectType(event.target.value)}>
            {[...families].map(([family, items]) => (
              <optgroup key={family} label={family}>
                {items.map((item) => (
                  <option key={item.type} value={item.type}>
                    {item.type} (v{item.version})
                  </option>
                ))}
              </optgroup>
            ))}
          </Select>
        </Field>
        <Field label="Subject" htmlFor="publish-subject" hint="Optional: the entity this event is about">
          <Input id="publish-subject" value={subject} onChange={(event) => setSubject(event.target.value)} placeholder="e.g. exam/42" spellCheck={false} />
        </Field>
        <Field label="Priority" htmlFor="publish-priority">
          <Select id="publish-priority" value={priority} onChange={(event) => setPriority(event.target.value as typeof priority)}>
            <option value="high">High</option>
            <option value="normal">Normal</option>
            <option value="low">Low</option>
          </Select>
        </Field>
        <Field label="Correlation id" htmlFor="publish-correlation" hint="Optional: join an existing conversation">
          <Input id="publish-correlation" value={correlationid} onChange={(event) => setCorrelationid(event.target.value)} className="font-mono text-xs" spellCheck={false} />
        </Field>
        <Field label="Causation id" htmlFor="publish-causation" hint="Optional: the event that caused this one">
          <Input id="publish-causation" value={causationid} onChange={(event) => setCausationid(event.target.value)} className="font-mono text-xs" spellCheck={false} />
        </Field>
      </div>

      <div className="space-y-1.5">
        <div className="flex items-center justify-between gap-2">
          <label htmlFor="publish-data" className="text-xs font-medium text-muted-foreground">
            Data (JSON)
          </label>
          <div className="flex items-center gap-1">
            <Button variant="ghost" size="xs" onClick={format} disabled={result.state === "parse"}>
              <WandSparkles aria-hidden /> Format
            </Button>
            <Button variant="ghost" size="xs" onClick={() => selectType(type)}>
              <RotateCcw aria-hidden /> Reset to example
            </Button>
          </div>
        </div>
        <JsonEditor
          id="publish-data"
          value={text}
          onChange={(value) => {
            setText(value);
            setServerIssues([]);
          }}
          errorLines={errorLines}
          invalid={result.state === "parse" || allIssues.length > 0}
          describedBy="publish-data-status"
        />
        <div id="publish-data-status" aria-live="polite">
          {result.state === "parse" ? (
            <p className="text-xs text-danger">
              Not valid JSON{result.line ? ` (line ${result.line})` : ""}: {result.message}
            </p>
          ) : allIssues.length > 0 ? (
            <ul className="space-y-1 rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-xs dark:border-red-500/25 dark:bg-red-500/10" data-testid="publish-issues">
              {allIssues.map((issue) => {
                const line = isDataPath(issue.path) ? lineOfPath(lines, issue.path) : undefined;
                return (
                  <li key={`${issue.path}:${issue.message}`} className="flex flex-wrap items-baseline gap-x-2 text-red-800 dark:text-red-200">
                    <code className="font-mono font-semibold">{issue.path}</code>
                    <span>{issue.message}</span>
                    {line ? <span className="text-red-700/70 dark:text-red-300/70">line {line}</span> : null}
                  </li>
                );
              })}
            </ul>
          ) : result.state === "unchecked" ? (
            <p className="text-xs text-muted-foreground">This type&apos;s schema cannot be checked in the browser; the server will validate it.</p>
          ) : (
            <p className="inline-flex items-center gap-1.5 text-xs text-emerald-700 dark:text-emerald-400">
              <CircleCheck className="size-3.5" aria-hidden /> Matches the {type} schema
            </p>
          )}
        </div>
      </div>

      {serverError ? <Alert title="The server rejected the event">{serverError}</Alert> : null}
      {published ? (
        <Alert tone="info" title="Event published">
          <span className="inline-flex flex-wrap items-center gap-x-2" data-testid="publish-success">
            <span>Position {published.position.toLocaleString()} ·</span>
            <ShortId id={published.id} />
            {onOpenEvent ? (
              <button type="button" onClick={() => onOpenEvent(published.id)} className="cursor-pointer text-xs font-medium text-primary hover:underline">
                Open
              </button>
            ) : null}
          </span>
        </Alert>
      ) : null}

      <div className="flex items-center justify-end gap-2 border-t border-border pt-4">
        {touched && (result.state === "invalid" || result.state === "parse") ? <span className="mr-auto text-xs text-danger">Fix the highlighted fields first.</span> : null}
        <Button type="submit" disabled={publish.isPending} data-testid="publish-submit">
          {publish.isPending ? <LoaderCircle className="animate-spin" aria-hidden /> : <Send aria-hidden />}
          {publish.isPending ? "Publishing…" : "Publish event"}
        </Button>
      </div>
    </form>
  );
}
