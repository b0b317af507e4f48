"use client";

import { Check, Plus, Search, X } from "lucide-react";
import { useId, useMemo, useState, type KeyboardEvent } from "react";
import { patternSuggestions } from "../events/type-patterns";
import { cn } from "../ui/cn";
import { TypeBadge } from "../ui/type-badge";
import type { WebhookEventType } from "./types";
import { patternProblem, typesMatching } from "./webhook-model";

/**
 * The endpoint's type patterns: chosen ones as chips (a wildcard says how many types it covers),
 * and the registry as a searchable list of family wildcards and types to add. Anything typed that
 * is a valid pattern matching a registered type can be added with Enter.
 */
export function EventTypePicker({
  types,
  value,
  onChange,
  issuesByIndex,
  invalid,
  describedBy,
}: {
  types: readonly WebhookEventType[];
  value: readonly string[];
  onChange(next: string[]): void;
  issuesByIndex: ReadonlyMap<number, string[]>;
  invalid: boolean;
  describedBy?: string;
}) {
  const [search, setSearch] = useState("");
  const searchId = useId();
  const names = useMemo(() => types.map((type) => type.type), [types]);
  const descriptions = useMemo(() => new Map(types.map((type) => [type.type, type.description])), [types]);
  const term = search.trim().toLowerCase();
  const options = useMemo(() => {
    const all = ["*", ...patternSuggestions(names)];
    return term === "" ? all : all.filter((pattern) => pattern.toLowerCase().includes(term) || (descriptions.get(pattern) ?? "").toLowerCase().includes(term));
  }, [names, descriptions, term]);
  const typed = search.trim();
  const typedProblem = typed === "" ? null : patternProblem(typed, names, value);
  const canAddTyped = typed !== "" && typedProblem === null && !options.includes(typed);

  const toggle = (pattern: string) => onChange(value.includes(pattern) ? value.filter((chosen) => chosen !== pattern) : [...value, pattern]);
  const addTyped = () => {
    if (typed === "" || typedProblem !== null) return;
    onChange([...value, typed]);
    setSearch("");
  };
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key !== "Enter") return;
    // Enter adds the pattern typed; it never submits the endpoint form.
    event.preventDefault();
    addTyped();
  };

  return (
    <div className={cn("overflow-hidden rounded-lg border bg-card shadow-xs", invalid ? "border-danger" : "border-input")} data-testid="event-type-picker">
      <div className="flex min-h-11 flex-wrap items-center gap-1.5 border-b border-border px-2.5 py-2" aria-label="Chosen event types" data-testid="chosen-types">
        {value.length === 0 ? <span className="px-1 text-xs text-muted-foreground">No event types yet: pick from the list or type a pattern.</span> : null}
        {value.map((pattern, index) => {
          const covered = typesMatching(pattern, names).length;
          const problems = issuesByIndex.get(index);
          const wildcard = pattern.includes("*");
          return (
            <span
              key={pattern}
              className={cn(
                "inline-flex items-center gap-1 rounded-md border py-0.5 pr-0.5 pl-2 font-mono text-xs",
                problems ? "border-danger/60 bg-danger-soft text-danger" : "border-border bg-muted/60",
              )}
              title={problems?.join("\n") ?? (wildcard ? `${covered} registered type${covered === 1 ? "" : "s"}` : descriptions.get(pattern))}
              data-testid="chosen-type"
              data-pattern={pattern}
            >
              {pattern}
              {wildcard ? <span className="rounded bg-card px-1 font-sans text-[10px] text-muted-foreground tabular-nums">{covered} types</span> : null}
              <button
                type="button"
                onClick={() => toggle(pattern)}
                aria-label={`Remove ${pattern}`}
                className="inline-flex size-5 cursor-pointer items-center justify-center rounded text-muted-foreground hover:bg-card hover:text-foreground"
              >
                <X className="size-3" aria-hidden />
              </button>
            </span>
          );
        })}
      </div>
      <div className="relative border-b border-border">
        <Search className="pointer-events-none absolute top-1/2 left-3 size-4 -translate-y-1/2 text-muted-foreground" aria-hidden />
        <input
          id={searchId}
          value={search}
          onChange={(event) => setSearch(event.target.value)}
          onKeyDown={onKeyDown}
          placeholder="Search types, or type a pattern like exam.* and press Enter"
          aria-label="Search event types"
          aria-invalid={invalid || undefined}
          aria-describedby={describedBy}
          className="h-9 w-full bg-transparent pr-3 pl-9 font-mono text-xs placeholder:font-sans placeholder:text-muted-foreground/70 focus:outline-none"
          data-testid="event-type-search"
        />
      </div>
      {typed !== "" && typedProblem !== null && !options.includes(typed) ? (
        <p className="border-b border-border bg-muted/40 px-3 py-1.5 text-xs text-muted-foreground">
          <span className="font-mono text-foreground">{typed}</span> {typedProblem}
        </p>
      ) : null}
      <ul className="max-h-56 overflow-y-auto py-1" role="listbox" aria-multiselectable="true" aria-label="Event types">
        {canAddTyped ? (
          <li>
            <button type="button" onClick={addTyped} className="flex w-full cursor-pointer items-center gap-2 px-3 py-1.5 text-left text-xs hover:bg-muted">
              <Plus className="size-3.5 text-primary" aria-hidden /> Add <span className="font-mono">{typed}</span>
              <span className="text-muted-foreground">· {typesMatching(typed, names).length} types</span>
            </button>
          </li>
        ) : null}
        {options.map((pattern) => {
          const chosen = value.includes(pattern);
          const wildcard = pattern.includes("*");
          const covered = wildcard ? typesMatching(pattern, names).length : 0;
          return (
            <li key={pattern} role="option" aria-selected={chosen}>
              <button
                type="button"
                onClick={() => toggle(pattern)}
                className={cn("flex w-full cursor-pointer items-center gap-2.5 px-3 py-1.5 text-left transition-colors hover:bg-muted", chosen && "bg-accent/60")}
                data-testid="event-type-option"
                data-pattern={pattern}
              >
                <span
                  className={cn(
                    "flex size-4 shrink-0 items-center justify-center rounded border",
                    chosen ? "border-primary bg-primary text-primary-foreground" : "border-input bg-card",
                  )}
                  aria-hidden
                >
                  {chosen ? <Check className="size-3" /> : null}
                </span>
                {wildcard ? (
                  <span className="font-mono text-xs font-medium">{pattern}</span>
                ) : (
                  <TypeBadge type={pattern} className="shrink-0" />
                )}
                <span className="min-w-0 flex-1 truncate text-xs text-muted-foreground">
                  {wildcard ? (pattern === "*" ? `every event type (${covered})` : `${covered} type${covered === 1 ? "" : "s"}`) : descriptions.get(pattern)}
                </span>
              </button>
            </li>
          );
        })}
        {options.length === 0 && !canAddTyped ? <li className="px-3 py-3 text-center text-xs text-muted-foreground">No registered type matches “{typed}”.</li> : null}
      </ul>
    </div>
  );
}
