"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ListOrdered, LoaderCircle, Plus, Save, Trash2 } from "lucide-react";
import { useId, useState, type FormEvent, type ReactNode } from "react";
import { rejectionOf } from "../cqrs/rejection";
import { useTRPC, type RouterInputs } from "../trpc";
import { Button } from "../ui/button";
import { cn } from "../ui/cn";
import { Alert } from "../ui/error-state";
import { Field, Input, Textarea } from "../ui/form";
import { Drawer } from "../ui/overlay";
import { Skeleton } from "../ui/spinner";
import { EventTypePicker } from "./event-type-picker";
import { FilterPreview } from "./filter-preview";
import type { EndpointView } from "./types";
import { duplicateHeaderNames, headersOf, placeIssues, type FormField, type HeaderRow, type PlacedIssues } from "./webhook-model";

interface Values {
  url: string;
  description: string;
  eventTypes: string[];
  filter: string;
  headers: HeaderRow[];
  rateLimit: string;
  orderedByKey: boolean;
}

type Payload = RouterInputs["webhooks"]["create"];

const FILTER_EXAMPLES = ['data.score >= 50', 'type.startsWith("grading.") && priority == "high"', 'subject == "exam-42"'];

function valuesOf(endpoint: EndpointView | null): Values {
  if (!endpoint) return { url: "", description: "", eventTypes: [], filter: "", headers: [], rateLimit: "", orderedByKey: false };
  return {
    url: endpoint.url,
    description: endpoint.description,
    eventTypes: [...endpoint.eventTypes],
    filter: endpoint.filter ?? "",
    headers: Object.entries(endpoint.headers).map(([name, value]) => ({ name, value })),
    rateLimit: endpoint.rateLimitPerSecond === null ? "" : String(endpoint.rateLimitPerSecond),
    orderedByKey: endpoint.orderedByKey,
  };
}

/** What the form can tell before asking the server (the server still decides: SSRF rules, types, the filter). */
function clientIssues(values: Values): Partial<Record<FormField, string[]>> {
  const issues: Partial<Record<FormField, string[]>> = {};
  const url = values.url.trim();
  if (url === "") issues.url = ["is required"];
  else if (!/^https?:\/\/[^\s/]+/i.test(url)) issues.url = ["must be an http:// or https:// URL"];
  if (values.eventTypes.length === 0) issues.eventTypes = ["choose at least one event type"];
  const rate = values.rateLimit.trim();
  if (rate !== "" && !(/^\d+$/.test(rate) && Number(rate) >= 1 && Number(rate) <= 10_000)) issues.rateLimitPerSecond = ["must be a whole number from 1 to 10,000"];
  const duplicates = duplicateHeaderNames(values.headers);
  if (duplicates.length > 0) issues.headers = duplicates.map((name) => `${name} is given twice`);
  return issues;
}

function payloadOf(values: Values): Payload {
  const rate = values.rateLimit.trim();
  return {
    url: values.url.trim(),
    description: values.description.trim(),
    eventTypes: values.eventTypes,
    filter: values.filter.trim() === "" ? null : values.filter.trim(),
    headers: headersOf(values.headers),
    rateLimitPerSecond: rate === "" ? null : Number(rate),
    orderedByKey: values.orderedByKey,
  };
}

/** Only what the edit changed, so the audit event names just those fields. */
function changesOf(before: Payload, after: Payload): Partial<Payload> {
  const previous: Record<string, unknown> = before;
  return Object.fromEntries(Object.entries(after).filter(([key, value]) => JSON.stringify(previous[key]) !== JSON.stringify(value))) as Partial<Payload>;
}

/** The field a form value feeds, to tell whether the server's issue still holds after an edit. */
const fieldValue: Record<Exclude<FormField, "form">, (values: Values) => unknown> = {
  url: (values) => values.url.trim(),
  description: (values) => values.description.trim(),
  eventTypes: (values) => values.eventTypes,
  filter: (values) => values.filter.trim(),
  headers: (values) => headersOf(values.headers),
  rateLimitPerSecond: (values) => values.rateLimit.trim(),
  orderedByKey: (values) => values.orderedByKey,
};

function Section({ title, description, children }: { title: string; description?: ReactNode; children: ReactNode }) {
  return (
    <section className="space-y-3 border-b border-border px-6 py-5 last:border-b-0">
      <div>
        <h3 className="text-sm font-semibold">{title}</h3>
        {description ? <p className="mt-0.5 text-xs text-muted-foreground">{description}</p> : null}
      </div>
      {children}
    </section>
  );
}

function HeadersEditor({ rows, onChange, errors }: { rows: HeaderRow[]; onChange(rows: HeaderRow[]): void; errors: string[] | undefined }) {
  const set = (index: number, patch: Partial<HeaderRow>) => onChange(rows.map((row, at) => (at === index ? { ...row, ...patch } : row)));
  return (
    <div className="space-y-2" data-testid="headers-editor">
      {rows.length === 0 ? <p className="text-xs text-muted-foreground">None. Add one to send it with every delivery (an auth token the receiver expects, a routing key…).</p> : null}
      {rows.map((row, index) => (
        <div key={index} className="flex items-center gap-2">
          <Input
            aria-label={`Header ${index + 1} name`}
            value={row.name}
            onChange={(event) => set(index, { name: event.target.value })}
            placeholder="x-api-key"
            className="w-52 font-mono text-xs"
            aria-invalid={Boolean(errors?.some((error) => error.startsWith(`${row.name.trim().toLowerCase()}`))) || undefined}
          />
          <Input aria-label={`Header ${index + 1} value`} value={row.value} onChange={(event) => set(index, { value: event.target.value })} placeholder="value" className="flex-1 font-mono text-xs" />
          <Button variant="ghost" size="sm" className="h-9" aria-label={`Remove header ${index + 1}`} onClick={() => onChange(rows.filter((_, at) => at !== index))}>
            <Trash2 aria-hidden />
          </Button>
        </div>
      ))}
      {errors ? (
        <ul className="space-y-0.5 text-xs text-danger" data-testid="field-error-headers">
          {errors.map((error) => (
            <li key={error}>{error}</li>
          ))}
        </ul>
      ) : null}
      <Button variant="outline" size="xs" onClick={() => onChange([...rows, { name: "", value: "" }])} disabled={rows.length >= 20}>
        <Plus aria-hidden /> Add header
      </Button>
    </div>
  );
}

/** A switch for a yes/no setting. */
function Toggle({ checked, onChange, label, id }: { checked: boolean; onChange(value: boolean): void; label: string; id: string }) {
  return (
    <button
      id={id}
      type="button"
      role="switch"
      aria-checked={checked}
      aria-label={label}
      onClick={() => onChange(!checked)}
      className={cn("relative inline-flex h-5 w-9 shrink-0 cursor-pointer rounded-full transition-colors", checked ? "bg-primary" : "bg-muted-foreground/30")}
    >
      <span className={cn("absolute top-0.5 size-4 rounded-full bg-white shadow-sm transition-transform", checked ? "translate-x-4.5" : "translate-x-0.5")} />
    </button>
  );
}

function EndpointFormBody({ endpoint, onCreated, onSaved, onCancel }: { endpoint: EndpointView | null; onCreated(result: { endpoint: EndpointView; secret: string }): void; onSaved(endpoint: EndpointView): void; onCancel(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const ids = useId();
  const types = useQuery(trpc.webhooks.eventTypes.queryOptions(undefined, { staleTime: 60_000 }));
  const [values, setValues] = useState<Values>(() => valuesOf(endpoint));
  const [touched, setTouched] = useState(false);
  const [server, setServer] = useState<{ values: Values; placed: PlacedIssues; message: string | null } | null>(null);
  const invalidate = () => void queryClient.invalidateQueries({ queryKey: trpc.webhooks.pathKey() });
  const create = useMutation(trpc.webhooks.create.mutationOptions());
  const update = useMutation(trpc.webhooks.update.mutationOptions());
  const pending = create.isPending || update.isPending;

  const set = <K extends keyof Values>(key: K, value: Values[K]) => setValues((previous) => ({ ...previous, [key]: value }));
  const local = touched ? clientIssues(values) : {};
  // The server's issue for a field shows while the field still holds what was sent.
  const stillSent = (field: FormField) => server !== null && (field === "form" || JSON.stringify(fieldValue[field](server.values)) === JSON.stringify(fieldValue[field](values)));
  const errorsOf = (field: FormField): string[] | undefined => {
    const own = local[field] ?? [];
    const remote = stillSent(field) ? (server?.placed.byField[field] ?? []) : [];
    const all = [...own, ...remote.filter((issue) => !own.includes(issue))];
    return all.length > 0 ? all : undefined;
  };
  const patternIssues = stillSent("eventTypes") && server ? server.placed.byPattern : new Map<number, string[]>();
  const error = (field: FormField) => {
    const list = errorsOf(field);
    return list ? <span data-testid={`field-error-${field}`}>{list.join("; ")}</span> : undefined;
  };

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    if (pending || Object.keys(clientIssues(values)).length > 0) return;
    const payload = payloadOf(values);
    const sent = values;
    const onError = (failure: unknown) => {
      const rejection = rejectionOf(failure);
      const placed = placeIssues(rejection.kind === "invalid" ? rejection.issues : []);
      const placedSomewhere = Object.keys(placed.byField).some((field) => field !== "form") || placed.byPattern.size > 0;
      setServer({ values: sent, placed, message: placedSomewhere ? null : rejection.message });
    };
    setServer(null);
    if (endpoint === null) {
      create.mutate(payload, {
        onSuccess: (result) => {
          invalidate();
          onCreated(result);
        },
        onError,
      });
    } else {
      const changes = changesOf(payloadOf(valuesOf(endpoint)), payload);
      if (Object.keys(changes).length === 0) return onSaved(endpoint);
      update.mutate(
        { id: endpoint.id, changes },
        {
          onSuccess: (saved) => {
            invalidate();
            onSaved(saved);
          },
          onError,
        },
      );
    }
  }

  const formIssues = server && stillSent("form") ? (server.placed.byField.form ?? []) : [];
  const hasErrors = touched && (Object.keys(local).length > 0 || Boolean(server && (Object.keys(server.placed.byField).length > 0 || server.placed.byPattern.size > 0)));

  return (
    <form onSubmit={onSubmit} noValidate className="flex h-full flex-col" data-testid="endpoint-form">
      <div className="min-h-0 flex-1 overflow-y-auto">
        <Section title="Destination" description="Where deliveries are POSTed, signed with the endpoint's secret (Standard Webhooks).">
          <Field label="Endpoint URL" htmlFor={`${ids}-url`} error={error("url")} hint="http:// or https://; private and loopback addresses are refused unless allowed by WEBHOOK_ALLOWED_HOSTS">
            <Input
              id={`${ids}-url`}
              value={values.url}
              onChange={(event) => set("url", event.target.value)}
              placeholder="https://example.com/webhooks/eventloom"
              className="font-mono text-[13px]"
              aria-invalid={Boolean(errorsOf("url")) || undefined}
              autoFocus={endpoint === null}
              maxLength={2048}
            />
          </Field>
          <Field label="Description" htmlFor={`${ids}-description`} error={error("description")}>
            <Input
              id={`${ids}-description`}
              value={values.description}
              onChange={(event) => set("description", event.target.value)}
              placeholder="Grades sync to the student portal"
              maxLength={500}
              aria-invalid={Boolean(errorsOf("description")) || undefined}
            />
          </Field>
        </Section>

        <Section title="Event types" description="Exact types or family wildcards: exam.* also covers types registered later in that family.">
          {types.isPending ? (
            <Skeleton className="h-64" />
          ) : types.isError ? (
            <Alert>Could not load the event types: {types.error.message}</Alert>
          ) : (
            <EventTypePicker
              types={types.data}
              value={values.eventTypes}
              onChange={(next) => set("eventTypes", next)}
              issuesByIndex={patternIssues}
              invalid={Boolean(errorsOf("eventTypes")) || patternIssues.size > 0}
            />
          )}
          {error("eventTypes") ? <p className="text-xs text-danger">{error("eventTypes")}</p> : null}
          {patternIssues.size > 0 ? (
            <ul className="space-y-0.5 text-xs text-danger" data-testid="field-error-eventTypes-items">
              {[...patternIssues].map(([index, messages]) => (
                <li key={index}>
                  <span className="font-mono">{values.eventTypes[index] ?? `#${index + 1}`}</span>: {messages.join("; ")}
                </li>
              ))}
            </ul>
          ) : null}
        </Section>

        <Section
          title="Filter"
          description={
            <>
              Optional. A{" "}
              <a href="https://cel.dev" target="_blank" rel="noreferrer" className="underline decoration-dotted underline-offset-2 hover:text-foreground">
                CEL
              </a>{" "}
              expression over the event: <code className="font-mono">type</code>, <code className="font-mono">subject</code>, <code className="font-mono">data</code>,{" "}
              <code className="font-mono">partitionkey</code>, <code className="font-mono">priority</code>, <code className="font-mono">source</code>. A missing field is no match.
            </>
          }
        >
          <Field label="Expression" htmlFor={`${ids}-filter`} error={error("filter")}>
            <Textarea
              id={`${ids}-filter`}
              value={values.filter}
              onChange={(event) => set("filter", event.target.value)}
              placeholder="data.score >= 50"
              rows={3}
              spellCheck={false}
              maxLength={2000}
              className="font-mono text-xs leading-5"
              aria-invalid={Boolean(errorsOf("filter")) || undefined}
            />
          </Field>
          <div className="flex flex-wrap items-center gap-1.5 text-xs text-muted-foreground">
            Examples:
            {FILTER_EXAMPLES.map((example) => (
              <button
                key={example}
                type="button"
                onClick={() => set("filter", example)}
                className="cursor-pointer rounded-md border border-border bg-muted/50 px-1.5 py-0.5 font-mono text-[11px] text-foreground/80 hover:bg-muted hover:text-foreground"
              >
                {example}
              </button>
            ))}
          </div>
          <FilterPreview filter={values.filter} eventTypes={values.eventTypes} />
        </Section>

        <Section title="Custom headers" description="Sent with every delivery. webhook-*, content-type, host and content-length are Eventloom's.">
          <HeadersEditor rows={values.headers} onChange={(rows) => set("headers", rows)} errors={errorsOf("headers")} />
        </Section>

        <Section title="Delivery">
          <div className="grid gap-5 sm:grid-cols-2">
            <Field label="Rate limit" htmlFor={`${ids}-rate`} error={error("rateLimitPerSecond")} hint="Deliveries per second at most (per process); empty for no limit">
              <div className="relative">
                <Input
                  id={`${ids}-rate`}
                  inputMode="numeric"
                  value={values.rateLimit}
                  onChange={(event) => set("rateLimit", event.target.value)}
                  placeholder="No limit"
                  className="pr-20 font-mono"
                  aria-invalid={Boolean(errorsOf("rateLimitPerSecond")) || undefined}
                />
                <span className="pointer-events-none absolute top-1/2 right-3 -translate-y-1/2 text-xs text-muted-foreground">per second</span>
              </div>
            </Field>
            <div className="flex flex-col gap-1.5">
              <span className="text-xs font-medium text-muted-foreground">Order</span>
              <label htmlFor={`${ids}-ordered`} className="flex cursor-pointer items-start gap-3 rounded-lg border border-border px-3 py-2.5">
                <Toggle id={`${ids}-ordered`} checked={values.orderedByKey} onChange={(value) => set("orderedByKey", value)} label="In order per partition key" />
                <span className="text-xs">
                  <span className="flex items-center gap-1 font-medium text-foreground">
                    <ListOrdered className="size-3.5" aria-hidden /> In order per partition key
                  </span>
                  <span className="text-muted-foreground">A later event of a key waits for the earlier one; other keys go in parallel.</span>
                </span>
              </label>
            </div>
          </div>
        </Section>
      </div>

      <div className="space-y-2 border-t border-border bg-muted/40 px-6 py-3">
        {server?.message ? <Alert title="Not saved">{server.message}</Alert> : null}
        {formIssues.length > 0 ? <Alert title="Not saved">{formIssues.join("; ")}</Alert> : null}
        <div className="flex items-center justify-end gap-2">
          {hasErrors ? <span className="mr-auto text-xs text-danger">Fix the marked fields first.</span> : null}
          <Button variant="outline" onClick={onCancel}>
            Cancel
          </Button>
          <Button type="submit" disabled={pending} data-testid="endpoint-submit">
            {pending ? <LoaderCircle className="animate-spin" aria-hidden /> : endpoint ? <Save aria-hidden /> : <Plus aria-hidden />}
            {endpoint ? (pending ? "Saving…" : "Save changes") : pending ? "Creating…" : "Create endpoint"}
          </Button>
        </div>
      </div>
    </form>
  );
}

/** Create (endpoint null) or edit an endpoint, in a drawer. */
export function EndpointFormDrawer({
  open,
  endpoint,
  onClose,
  onCreated,
  onSaved,
}: {
  open: boolean;
  endpoint: EndpointView | null;
  onClose(): void;
  onCreated(result: { endpoint: EndpointView; secret: string }): void;
  onSaved(endpoint: EndpointView): void;
}) {
  return (
    <Drawer open={open} onClose={onClose} title={endpoint ? "Edit endpoint" : "Add endpoint"}>
      {/* Mounted per opening and endpoint: a fresh form each time. */}
      {open ? (
        <EndpointFormBody
          key={endpoint?.id ?? "new"}
          endpoint={endpoint}
          onCancel={onClose}
          onCreated={onCreated}
          onSaved={onSaved}
        />
      ) : null}
    </Drawer>
  );
}
