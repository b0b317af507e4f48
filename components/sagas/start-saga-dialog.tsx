"use client";

import { useMutation } from "@tanstack/react-query";
import { ArrowRight, Dices, LoaderCircle, Play } from "lucide-react";
import { useMemo, useRef, useState, type FormEvent } from "react";
import { v7 as uuidv7 } from "uuid";
import { rejectionOf, type Rejection } from "../cqrs/rejection";
import { draftIssues, DraftModeToggle, SchemaInput, useSchemaDraft } from "../cqrs/schema-form";
import { exampleFromSchema, type JsonSchema } from "../events/json-schema";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { Alert } from "../ui/error-state";
import { Field, Input, Select } from "../ui/form";
import { Dialog } from "../ui/overlay";
import { formatDuration } from "./timeline-model";
import type { SagaDetail, SagaType } from "./types";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The schema's required fields with example values (a uuid for an id, the minimum for a number…): a start to edit. */
function requiredExample(schema: JsonSchema): Record<string, unknown> {
  if (typeof schema !== "object" || !Array.isArray(schema.required)) return {};
  const example = exampleFromSchema(schema);
  if (typeof example !== "object" || example === null || Array.isArray(example)) return {};
  const required = new Set(schema.required.filter((key): key is string => typeof key === "string"));
  return Object.fromEntries(Object.entries(example).filter(([key]) => required.has(key)));
}

function StepChain({ type }: { type: SagaType }) {
  return (
    <ol className="flex flex-wrap items-center gap-1 text-[11px]" aria-label="Steps">
      {type.steps.map((step, index) => (
        <li key={step.name} className="inline-flex items-center gap-1">
          {index > 0 ? <ArrowRight className="size-3 text-muted-foreground" aria-hidden /> : null}
          <span
            className="rounded-md bg-muted px-1.5 py-0.5 font-mono text-foreground/90"
            title={`${step.description ? `${step.description}\n` : ""}${step.action}${step.compensation ? `\ncompensation: ${step.compensation}` : ""}`}
          >
            {step.name}
            {step.compensation ? <span className="ml-1 text-amber-600 dark:text-amber-400" aria-label="has a compensation">↺</span> : null}
          </span>
        </li>
      ))}
    </ol>
  );
}

/** The input of one saga type (mounted per type, so switching starts afresh), its options, and the start button. */
function StartForm({ type, onStarted, onCancel }: { type: SagaType; onStarted(saga: SagaDetail, created: boolean): void; onCancel(): void }) {
  const trpc = useTRPC();
  const schema = (type.schema ?? {}) as JsonSchema;
  const prefill = useMemo(() => requiredExample(schema), [schema]);
  const draft = useSchemaDraft(schema, prefill);
  const [sagaId, setSagaId] = useState("");
  const [correlationid, setCorrelationid] = useState("");
  const [touched, setTouched] = useState(false);
  const [modeRefusal, setModeRefusal] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<{ rejection: Rejection; submitted: string } | null>(null);
  // A double click starts one saga: the same id is sent until the server has answered.
  const generatedId = useRef(uuidv7());
  const start = useMutation(trpc.sagas.start.mutationOptions());

  const idInvalid = sagaId.trim() !== "" && !UUID.test(sagaId.trim());
  const clientIssues = touched ? draftIssues(draft) : [];
  const sent = draft.current.ok ? JSON.stringify(draft.current.value) : null;
  // The server's field issues hold for the input it saw; after an edit they would point at stale values.
  // The server names fields as `input.<field>` (the start request's shape); the form places them relative to the input.
  const serverIssues =
    refusal && refusal.rejection.kind === "invalid" && refusal.submitted === sent
      ? refusal.rejection.issues.map((issue) => ({ ...issue, path: issue.path.replace(/^input(\.|$)/, "") }))
      : [];
  const issues = [...clientIssues, ...serverIssues.filter((issue) => !clientIssues.some((own) => own.path === issue.path && own.message === issue.message))];

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    if (start.isPending || !draft.current.ok || draftIssues(draft).length > 0 || idInvalid) return;
    const input = draft.current.value;
    setRefusal(null);
    start.mutate(
      { type: type.type, input, id: sagaId.trim() || generatedId.current, ...(correlationid.trim() ? { correlationid: correlationid.trim() } : {}) },
      {
        onSuccess: (result) => onStarted(result.saga, result.created),
        onError: (error) => setRefusal({ rejection: rejectionOf(error), submitted: JSON.stringify(input) }),
        onSettled: () => {
          generatedId.current = uuidv7();
        },
      },
    );
  }

  const other = refusal && !(refusal.rejection.kind === "invalid" && refusal.rejection.issues.length > 0) ? refusal.rejection : null;
  return (
    <form onSubmit={onSubmit} noValidate data-testid="start-saga-form" data-type={type.type}>
      <div className="max-h-[60vh] space-y-4 overflow-y-auto px-6 pb-4">
        <div className="space-y-2 rounded-lg border border-border bg-muted/40 px-3.5 py-3">
          <p className="text-sm text-muted-foreground">{type.description}</p>
          <StepChain type={type} />
          {type.deadline ? (
            <p className="text-xs text-muted-foreground">
              Deadline {formatDuration(type.deadline.afterMs)}, then {type.deadline.onExpiry === "compensate" ? "cancelled and compensated" : "escalated"}.
            </p>
          ) : null}
        </div>
        <div className="flex items-center justify-between gap-3">
          <h3 className="text-sm font-medium">Input</h3>
          <DraftModeToggle draft={draft} onRefused={setModeRefusal} />
        </div>
        {modeRefusal ? <Alert tone="warning">{modeRefusal}</Alert> : null}
        <SchemaInput draft={draft} issues={issues} idPrefix="saga-input" disabled={start.isPending} noInput="This saga takes no input." narrow />
        <div className="grid gap-4 sm:grid-cols-2">
          <Field label="Saga id (optional)" htmlFor="saga-start-id" error={idInvalid ? "must be a UUID" : undefined} hint="The same id again returns that saga">
            <div className="flex gap-1.5">
              <Input
                id="saga-start-id"
                value={sagaId}
                onChange={(event) => setSagaId(event.target.value)}
                placeholder="A new UUIDv7"
                className="flex-1 font-mono text-xs"
                aria-invalid={idInvalid || undefined}
              />
              <Button variant="outline" size="sm" className="h-9" onClick={() => setSagaId(uuidv7())} title="Generate an id" aria-label="Generate a saga id">
                <Dices aria-hidden />
              </Button>
            </div>
          </Field>
          <Field label="Correlation id (optional)" htmlFor="saga-start-correlation" hint="Default: the saga's id">
            <Input id="saga-start-correlation" value={correlationid} onChange={(event) => setCorrelationid(event.target.value)} className="font-mono text-xs" maxLength={200} />
          </Field>
        </div>
        {other ? (
          <Alert title={other.kind === "forbidden" ? "Not allowed" : "Could not start the saga"}>
            <span data-testid="start-saga-error">{other.message}</span>
          </Alert>
        ) : null}
      </div>
      <div className="flex items-center justify-end gap-2 rounded-b-xl border-t border-border bg-muted/40 px-6 py-3">
        {touched && issues.length > 0 ? <span className="mr-auto text-xs text-danger">Fix the marked fields first.</span> : null}
        <Button variant="outline" onClick={onCancel}>
          Close
        </Button>
        <Button type="submit" disabled={start.isPending} data-testid="start-saga-submit">
          {start.isPending ? <LoaderCircle className="animate-spin" aria-hidden /> : <Play aria-hidden />}
          {start.isPending ? "Starting…" : "Start saga"}
        </Button>
      </div>
    </form>
  );
}

/** Starts a saga of an orchestrated type: its input from the type's JSON Schema, with optional ids. */
export function StartSagaDialog({ open, types, onClose, onStarted }: { open: boolean; types: SagaType[]; onClose(): void; onStarted(saga: SagaDetail, created: boolean): void }) {
  const startable = types.filter((type) => type.kind === "orchestrated");
  const [chosen, setChosen] = useState<string | null>(null);
  const selected = startable.find((type) => type.type === chosen) ?? startable[0];
  return (
    <Dialog open={open} onClose={onClose} title="Start a saga" description="Orchestrated sagas run step by step; choreographed flows start from events." className="sm:max-w-2xl">
      <div className="-mx-6 -mb-4">
        {startable.length === 0 ? (
          <p className="px-6 pb-4 text-sm text-muted-foreground">No orchestrated saga types are defined.</p>
        ) : (
          <>
            <div className="px-6 pb-4">
              <Field label="Saga type" htmlFor="saga-start-type">
                <Select id="saga-start-type" value={selected?.type} onChange={(event) => setChosen(event.target.value)} className="font-mono text-sm">
                  {startable.map((type) => (
                    <option key={type.type} value={type.type}>
                      {type.type}
                    </option>
                  ))}
                </Select>
              </Field>
            </div>
            {selected ? <StartForm key={selected.type} type={selected} onStarted={onStarted} onCancel={onClose} /> : null}
          </>
        )}
      </div>
    </Dialog>
  );
}
