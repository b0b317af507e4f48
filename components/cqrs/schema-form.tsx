"use client";

import { Braces, CalendarClock, Dices, ListPlus, Plus, SquarePen, X } from "lucide-react";
import { useId, useMemo, useState, type ReactNode } from "react";
import { v7 as uuidv7 } from "uuid";
import { JsonEditor } from "../events/json-editor";
import { lineIndex, lineOfPath, parseErrorLine, validateAgainstSchema, type Issue, type JsonSchema } from "../events/json-schema";
import { Button } from "../ui/button";
import { cn } from "../ui/cn";
import { errorMessage } from "../ui/error-state";
import { Field, Input, Select, Textarea } from "../ui/form";
import {
  constraintHint,
  emptyValue,
  fieldsFor,
  formLayout,
  getAt,
  initialShapeValue,
  initialValue,
  issueKey,
  placeIssues,
  schemaFor,
  setAt,
  switchVariant,
  type Control,
  type FormField,
  type FormLayout,
  type PathSegment,
} from "./schema-model";

/**
 * A command's input or a query's parameters, edited as a form generated from the JSON Schema or
 * as JSON text. The form's value is the JSON value itself, so either view can take over.
 */
export type DraftMode = "form" | "json";

type Parsed = { ok: true; value: unknown } | { ok: false; message: string; line: number | undefined };

export interface SchemaDraft {
  schema: JsonSchema;
  layout: FormLayout;
  mode: DraftMode;
  /** The form's value (what is sent in form mode). */
  value: unknown;
  /** The JSON text (what is sent in JSON mode). */
  text: string;
  update(path: readonly PathSegment[], next: unknown): void;
  setText(text: string): void;
  /** Switches views; the reason when the JSON text cannot be shown as the form. */
  switchTo(mode: DraftMode): string | null;
  /** What would be sent now: the form's value, or the JSON text parsed. */
  current: Parsed;
  reset(): void;
}

function parseText(text: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, message: errorMessage(error), line: parseErrorLine(text, error) };
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const pretty = (value: unknown) => JSON.stringify(value ?? {}, null, 2);

/**
 * The draft of one schema's input. Mount it per command or query (a React `key`), so switching
 * starts afresh; `prefill` (e.g. from the URL) lays over the schema's defaults.
 */
export function useSchemaDraft(schema: JsonSchema, prefill?: Record<string, unknown>): SchemaDraft {
  const layout = useMemo(() => formLayout(schema), [schema]);
  const start = () => ({ ...(layout.ok ? initialShapeValue(layout.shape) : {}), ...prefill });
  const [value, setValue] = useState<unknown>(start);
  const [mode, setMode] = useState<DraftMode>(layout.ok ? "form" : "json");
  const [text, setText] = useState(() => pretty(value));
  const current = useMemo<Parsed>(() => (mode === "form" ? { ok: true, value } : parseText(text)), [mode, value, text]);

  return {
    schema,
    layout,
    mode,
    value,
    text,
    current,
    setText,
    update(path, next) {
      const shape = layout.ok ? layout.shape : undefined;
      if (shape?.kind === "variants" && path.length === 1 && path[0] === shape.discriminator) setValue((previous: unknown) => switchVariant(shape, previous, next));
      else setValue((previous: unknown) => setAt(previous, path, next));
    },
    switchTo(next) {
      if (next === mode) return null;
      if (next === "json") {
        setText(pretty(value));
        setMode("json");
        return null;
      }
      if (!layout.ok) return `The form cannot show this input: ${layout.reason}.`;
      if (!current.ok) return `Fix the JSON first: ${current.message}`;
      if (!isRecord(current.value)) return "The form shows a JSON object; this text is not one.";
      setValue(current.value);
      setMode("form");
      return null;
    },
    reset() {
      const fresh = start();
      setValue(fresh);
      setText(pretty(fresh));
    },
  };
}

/** Browser-side validation of what would be sent: the same JSON Schema the server's zod schema produced. */
export function draftIssues(draft: SchemaDraft): Issue[] {
  if (!draft.current.ok) return [];
  const schema = draft.layout.ok ? schemaFor(draft.layout.shape, draft.schema, draft.current.value) : draft.schema;
  const result = validateAgainstSchema(schema, draft.current.value, "");
  return result.ok === false ? result.issues : [];
}

/** Form | JSON, as a segmented control; Form is off when the schema has no form layout. */
export function DraftModeToggle({ draft, onRefused }: { draft: SchemaDraft; onRefused(reason: string | null): void }) {
  const items: Array<{ mode: DraftMode; label: string; icon: ReactNode }> = [
    { mode: "form", label: "Form", icon: <SquarePen className="size-3.5" aria-hidden /> },
    { mode: "json", label: "JSON", icon: <Braces className="size-3.5" aria-hidden /> },
  ];
  return (
    <div className="flex h-8 items-center gap-0.5 rounded-lg border border-border bg-muted/50 p-0.5" role="group" aria-label="Edit as">
      {items.map((item) => {
        const active = draft.mode === item.mode;
        const unavailable = item.mode === "form" && !draft.layout.ok;
        return (
          <button
            key={item.mode}
            type="button"
            aria-pressed={active}
            disabled={unavailable}
            title={unavailable && !draft.layout.ok ? `No form for this input: ${draft.layout.reason}` : `Edit as ${item.label}`}
            onClick={() => onRefused(draft.switchTo(item.mode))}
            className={cn(
              "inline-flex h-full cursor-pointer items-center gap-1.5 rounded-md px-2.5 text-xs font-medium transition-colors disabled:cursor-not-allowed disabled:opacity-50",
              active ? "bg-card text-foreground shadow-xs" : "text-muted-foreground hover:bg-card hover:text-foreground",
            )}
          >
            {item.icon}
            {item.label}
          </button>
        );
      })}
    </div>
  );
}

/** Issues no control shows (unknown keys, the input as a whole), listed under the form. */
function IssueList({ issues, testId }: { issues: readonly Issue[]; testId: string }) {
  if (issues.length === 0) return null;
  return (
    <ul className="space-y-1 rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-xs dark:border-red-500/25 dark:bg-red-500/10" data-testid={testId}>
      {issues.map((issue) => (
        <li key={`${issue.path}:${issue.message}`} className="flex flex-wrap items-baseline gap-x-2 text-red-800 dark:text-red-200">
          <code className="font-mono font-semibold">{issue.path || "input"}</code>
          <span>{issue.message}</span>
        </li>
      ))}
    </ul>
  );
}

/**
 * The draft's editor: the generated form (issues under their fields) or the JSON editor (issues
 * marked on their lines). `issues` are the browser's and the server's together.
 */
export function SchemaInput({
  draft,
  issues,
  idPrefix,
  disabled,
  noInput,
  narrow,
}: {
  draft: SchemaDraft;
  issues: readonly Issue[];
  idPrefix: string;
  disabled?: boolean;
  noInput: string;
  /** One field a row (a side panel), rather than two. */
  narrow?: boolean;
}) {
  const fields = useMemo(() => (draft.layout.ok ? fieldsFor(draft.layout.shape, draft.value) : null), [draft.layout, draft.value]);
  const placed = useMemo(() => placeIssues(issues, draft.mode === "form" ? fields : null, draft.value), [issues, draft.mode, fields, draft.value]);

  if (draft.mode === "json") return <JsonDraft draft={draft} issues={issues} id={`${idPrefix}-json`} />;
  if (!fields) return null;
  if (fields.length === 0) return <p className="text-sm text-muted-foreground">{noInput}</p>;
  return (
    <fieldset disabled={disabled} className="min-w-0 space-y-4">
      <FieldGrid fields={fields} path={[]} draft={draft} issues={placed.byKey} idPrefix={idPrefix} narrow={narrow} />
      <IssueList issues={placed.unplaced} testId={`${idPrefix}-issues`} />
    </fieldset>
  );
}

function JsonDraft({ draft, issues, id }: { draft: SchemaDraft; issues: readonly Issue[]; id: string }) {
  const lines = useMemo(() => (draft.current.ok ? lineIndex(draft.text) : new Map<string, number>()), [draft.text, draft.current.ok]);
  const errorLines = new Set<number>();
  if (!draft.current.ok && draft.current.line) errorLines.add(draft.current.line);
  for (const issue of issues) {
    const line = lineOfPath(lines, issue.path, "");
    if (line) errorLines.add(line);
  }
  return (
    <div className="space-y-1.5">
      <JsonEditor
        id={id}
        value={draft.text}
        onChange={draft.setText}
        errorLines={errorLines}
        invalid={!draft.current.ok || issues.length > 0}
        describedBy={`${id}-status`}
        className="[&_textarea]:min-h-56"
      />
      <div id={`${id}-status`} aria-live="polite">
        {!draft.current.ok ? (
          <p className="text-xs text-danger">
            Not valid JSON{draft.current.line ? ` (line ${draft.current.line})` : ""}: {draft.current.message}
          </p>
        ) : (
          <IssueList issues={issues} testId={`${id}-issues`} />
        )}
      </div>
    </div>
  );
}

/** Which controls take the whole row. */
function isWide(control: Control): boolean {
  if (control.kind === "text") return control.multiline || control.format === "uuid";
  return control.kind === "object" || control.kind === "list" || control.kind === "choices";
}

interface FieldContext {
  draft: SchemaDraft;
  issues: ReadonlyMap<string, readonly string[]>;
  idPrefix: string;
  narrow: boolean | undefined;
}

function FieldGrid({ fields, path, ...context }: FieldContext & { fields: readonly FormField[]; path: readonly PathSegment[] }) {
  return (
    <div className={cn("grid gap-x-4 gap-y-4", !context.narrow && "sm:grid-cols-2")}>
      {fields.map((field) => (
        <FieldView key={field.key} field={field} path={[...path, field.key]} {...context} />
      ))}
    </div>
  );
}

function domId(idPrefix: string, path: readonly PathSegment[]): string {
  return `${idPrefix}-${path.map((segment) => String(segment).replace(/[^A-Za-z0-9_-]/g, "_")).join("-")}`;
}

function FieldLabel({ field }: { field: FormField }) {
  return (
    <>
      {field.label}
      {field.required ? null : <span className="ml-1.5 rounded bg-muted px-1 py-px text-[10px] font-normal tracking-wide text-muted-foreground uppercase">optional</span>}
    </>
  );
}

function FieldView({ field, path, ...context }: FieldContext & { field: FormField; path: readonly PathSegment[] }) {
  const { draft, issues, idPrefix } = context;
  const id = domId(idPrefix, path);
  const errors = issues.get(issueKey(path));
  const error = errors?.join("; ");
  const hint = [field.description, constraintHint(field.control)].filter(Boolean).join(" · ") || undefined;
  const value = getAt(draft.value, path);
  const { control } = field;

  if (control.kind === "object") {
    const present = isRecord(value);
    return (
      <fieldset className="min-w-0 rounded-lg border border-border bg-muted/20 px-4 pt-1 pb-4 sm:col-span-2" data-field={issueKey(path)}>
        <legend className="px-1.5 text-xs font-medium text-muted-foreground">
          <FieldLabel field={field} />
        </legend>
        <div className="mb-3 flex items-start justify-between gap-3">
          {hint ? <p className="text-xs text-muted-foreground">{hint}</p> : <span />}
          {!field.required && present ? (
            <Button variant="ghost" size="xs" onClick={() => draft.update(path, undefined)}>
              <X aria-hidden /> Remove
            </Button>
          ) : null}
        </div>
        {present ? (
          <FieldGrid fields={control.fields} path={path} {...context} />
        ) : (
          <Button variant="outline" size="xs" onClick={() => draft.update(path, initialValue(control.fields))}>
            <Plus aria-hidden /> Add {field.label.toLowerCase()}
          </Button>
        )}
        {error ? <p className="mt-3 text-xs text-danger">{error}</p> : null}
      </fieldset>
    );
  }

  if (control.kind === "list") return <ListField field={field} control={control} path={path} value={value} error={error} hint={hint} {...context} />;

  return (
    <Field
      label={<FieldLabel field={field} />}
      htmlFor={control.kind === "choices" ? undefined : id}
      hint={hint}
      error={error}
      className={cn("min-w-0", isWide(control) && "sm:col-span-2")}
    >
      <ControlView control={control} field={field} id={id} value={value} invalid={Boolean(error)} onChange={(next) => draft.update(path, next)} />
    </Field>
  );
}

function ListField({
  field,
  control,
  path,
  value,
  error,
  hint,
  ...context
}: FieldContext & { field: FormField; control: Extract<Control, { kind: "list" }>; path: readonly PathSegment[]; value: unknown; error: string | undefined; hint: string | undefined }) {
  const { draft, issues, idPrefix } = context;
  const items = Array.isArray(value) ? value : [];
  const full = control.maxItems !== undefined && items.length >= control.maxItems;
  const add = () => draft.update(path, [...items, control.item.kind === "object" ? initialValue(control.item.fields) : control.item.kind === "text" ? "" : undefined]);
  const remove = (index: number) => {
    const next = items.filter((_, position) => position !== index);
    draft.update(path, next.length === 0 && !field.required ? undefined : next);
  };
  const itemField: FormField = { key: "", label: control.itemLabel, description: undefined, required: true, nullable: false, defaultValue: undefined, control: control.item };
  return (
    <div className="min-w-0 space-y-2 sm:col-span-2" data-field={issueKey(path)}>
      <div className="flex items-baseline justify-between gap-3">
        <span className="text-xs font-medium text-muted-foreground">
          <FieldLabel field={field} />
        </span>
        {hint ? <span className="text-xs text-muted-foreground">{hint}</span> : null}
      </div>
      {items.length > 0 ? (
        <ol className="space-y-2">
          {items.map((item, index) => {
            const itemPath = [...path, index];
            const itemId = domId(idPrefix, itemPath);
            const itemError = issues.get(issueKey(itemPath))?.join("; ");
            return (
              <li key={index} className="flex items-start gap-2 rounded-lg border border-border bg-muted/20 p-3">
                <span className="mt-2 w-5 shrink-0 text-right font-mono text-xs text-muted-foreground tabular-nums">{index + 1}</span>
                <div className="min-w-0 flex-1 space-y-1.5">
                  {control.item.kind === "object" ? (
                    <FieldGrid fields={control.item.fields} path={itemPath} {...context} />
                  ) : (
                    <ControlView
                      control={control.item}
                      field={itemField}
                      id={itemId}
                      value={item}
                      invalid={Boolean(itemError)}
                      label={`${control.itemLabel} ${index + 1}`}
                      onChange={(next) => draft.update(itemPath, next)}
                    />
                  )}
                  {itemError ? <p className="text-xs text-danger">{itemError}</p> : null}
                </div>
                <Button variant="ghost" size="xs" className="mt-1" onClick={() => remove(index)} aria-label={`Remove ${control.itemLabel.toLowerCase()} ${index + 1}`}>
                  <X aria-hidden />
                </Button>
              </li>
            );
          })}
        </ol>
      ) : (
        <p className="rounded-lg border border-dashed border-border px-3 py-2.5 text-xs text-muted-foreground">No {field.label.toLowerCase()} yet.</p>
      )}
      <Button variant="outline" size="xs" onClick={add} disabled={full}>
        <ListPlus aria-hidden /> Add {control.itemLabel.toLowerCase()}
      </Button>
      {error ? <p className="text-xs text-danger">{error}</p> : null}
    </div>
  );
}

interface ControlProps {
  control: Control;
  field: FormField;
  id: string;
  value: unknown;
  invalid: boolean;
  /** An accessible name when no visible label points at the control (list items). */
  label?: string;
  onChange(next: unknown): void;
}

function ControlView(props: ControlProps) {
  switch (props.control.kind) {
    case "text":
      return <TextControl {...props} control={props.control} />;
    case "number":
      return <NumberControl {...props} control={props.control} />;
    case "boolean":
      return <BooleanControl {...props} />;
    case "choice":
      return <ChoiceControl {...props} control={props.control} />;
    case "choices":
      return <ChoicesControl {...props} control={props.control} />;
    default:
      return null;
  }
}

function TextControl({ control, field, id, value, invalid, label, onChange }: ControlProps & { control: Extract<Control, { kind: "text" }> }) {
  const text = typeof value === "string" ? value : value === undefined || value === null ? "" : JSON.stringify(value);
  const common = {
    id,
    value: text,
    "aria-invalid": invalid || undefined,
    "aria-label": label,
    maxLength: control.maxLength,
    spellCheck: false,
    onChange: (event: { target: { value: string } }) => onChange(event.target.value === "" ? emptyValue(field) : event.target.value),
  };
  if (control.multiline) return <Textarea {...common} rows={3} spellCheck />;
  if (control.format === "date") return <Input {...common} type="date" />;
  if (control.format === "uuid" || control.format === "date-time") {
    const uuid = control.format === "uuid";
    return (
      <div className={cn("flex gap-2", uuid && "max-w-xl")}>
        <Input {...common} className="min-w-0 flex-1 font-mono text-xs" placeholder={uuid ? "0190f5e2-6a4b-7c3d-8e9f-0123456789ab" : "2026-01-31T09:00:00Z"} />
        <Button
          variant="outline"
          size="sm"
          className="h-9"
          onClick={() => onChange(uuid ? uuidv7() : new Date().toISOString())}
          title={uuid ? "Generate a new UUID (v7)" : "The current time, in UTC"}
          aria-label={uuid ? `Generate ${label ?? field.label}` : `Set ${label ?? field.label} to now`}
        >
          {uuid ? <Dices aria-hidden /> : <CalendarClock aria-hidden />}
          {uuid ? "Generate" : "Now"}
        </Button>
      </div>
    );
  }
  return <Input {...common} type={control.format === "email" ? "email" : control.format === "uri" ? "url" : "text"} />;
}

/** What a number box's text sends: a number, nothing when empty, or the text itself (the validator says why it is not a number). */
function numberOf(text: string, field: FormField): unknown {
  const trimmed = text.trim();
  if (trimmed === "") return emptyValue(field);
  const number = Number(trimmed);
  return Number.isFinite(number) ? number : text;
}

function NumberControl({ control, field, id, value, invalid, label, onChange }: ControlProps & { control: Extract<Control, { kind: "number" }> }) {
  const [text, setText] = useState(() => (value === undefined || value === null ? "" : String(value)));
  // Keep the user's own spelling ("1.0", "1e3") while it means the value held; follow the value when it changed elsewhere (JSON view, reset).
  const shown = Object.is(numberOf(text, field), value) ? text : value === undefined || value === null ? "" : String(value);
  return (
    <Input
      id={id}
      type="text"
      inputMode={control.integer ? "numeric" : "decimal"}
      value={shown}
      aria-invalid={invalid || undefined}
      aria-label={label}
      className="font-mono tabular-nums"
      onChange={(event) => {
        setText(event.target.value);
        onChange(numberOf(event.target.value, field));
      }}
    />
  );
}

function BooleanControl({ field, id, value, label, onChange }: ControlProps) {
  if (!field.required && field.defaultValue === undefined) {
    return (
      <Select id={id} aria-label={label} value={value === true ? "true" : value === false ? "false" : ""} onChange={(event) => onChange(event.target.value === "" ? undefined : event.target.value === "true")}>
        <option value="">Not set</option>
        <option value="true">Yes</option>
        <option value="false">No</option>
      </Select>
    );
  }
  return (
    <label className="flex h-9 w-fit cursor-pointer items-center gap-2.5 text-sm">
      <input id={id} type="checkbox" aria-label={label} checked={value === true} onChange={(event) => onChange(event.target.checked)} className="size-4 cursor-pointer accent-primary" />
      <span className={value === true ? "text-foreground" : "text-muted-foreground"}>{value === true ? "Yes" : "No"}</span>
    </label>
  );
}

function ChoiceControl({ control, field, id, value, invalid, label, onChange }: ControlProps & { control: Extract<Control, { kind: "choice" }> }) {
  const index = control.options.findIndex((option) => Object.is(option, value));
  const unset = !field.required || field.nullable;
  return (
    <Select
      id={id}
      aria-label={label}
      aria-invalid={invalid || undefined}
      value={index === -1 ? "" : String(index)}
      onChange={(event) => onChange(event.target.value === "" ? emptyValue(field) : control.options[Number(event.target.value)])}
    >
      {index === -1 || unset ? (
        <option value="" disabled={!unset}>
          {unset ? "Not set" : "Choose…"}
        </option>
      ) : null}
      {control.options.map((option, position) => (
        <option key={String(option)} value={String(position)}>
          {String(option)}
        </option>
      ))}
    </Select>
  );
}

function ChoicesControl({ control, field, id, value, label, onChange }: ControlProps & { control: Extract<Control, { kind: "choices" }> }) {
  const chosen = Array.isArray(value) ? value : [];
  const labelId = useId();
  const toggle = (option: string) => {
    const next = chosen.includes(option) ? chosen.filter((item) => item !== option) : control.options.filter((item) => item === option || chosen.includes(item));
    onChange(next.length === 0 && !field.required ? undefined : next);
  };
  return (
    <div id={id} role="group" aria-label={label ?? field.label} aria-describedby={labelId} className="flex flex-wrap gap-1.5">
      {control.options.map((option) => {
        const on = chosen.includes(option);
        return (
          <button
            key={option}
            type="button"
            aria-pressed={on}
            onClick={() => toggle(option)}
            className={cn(
              "inline-flex h-8 cursor-pointer items-center gap-1.5 rounded-md border px-2.5 font-mono text-xs transition-colors",
              on ? "border-primary/50 bg-accent text-accent-foreground" : "border-input bg-card text-muted-foreground hover:bg-muted hover:text-foreground",
            )}
          >
            <span className={cn("size-1.5 rounded-full", on ? "bg-primary" : "bg-muted-foreground/40")} aria-hidden />
            {option}
          </button>
        );
      })}
      <span id={labelId} className="sr-only">
        {chosen.length === 0 ? "None chosen" : `${chosen.length} chosen`}
      </span>
    </div>
  );
}
