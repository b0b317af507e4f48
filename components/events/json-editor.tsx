"use client";

import { useRef, type KeyboardEvent } from "react";
import { cn } from "../ui/cn";

/**
 * A plain textarea with a line-number gutter; lines with problems are marked in the gutter.
 * No wrapping, so gutter and text lines stay aligned.
 */
export function JsonEditor({
  id,
  value,
  onChange,
  errorLines,
  invalid,
  className,
  describedBy,
}: {
  id?: string;
  value: string;
  onChange(value: string): void;
  errorLines: ReadonlySet<number>;
  invalid?: boolean;
  className?: string;
  describedBy?: string;
}) {
  const gutter = useRef<HTMLDivElement>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const lineCount = Math.max(1, value.split("\n").length);

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key !== "Tab" || event.shiftKey) return;
    // Indent instead of leaving the field (Shift+Tab still leaves it).
    event.preventDefault();
    const target = event.currentTarget;
    const { selectionStart, selectionEnd } = target;
    const next = `${value.slice(0, selectionStart)}  ${value.slice(selectionEnd)}`;
    onChange(next);
    requestAnimationFrame(() => {
      target.selectionStart = target.selectionEnd = selectionStart + 2;
    });
  }

  return (
    <div
      className={cn(
        "flex overflow-hidden rounded-lg border border-input bg-card font-mono text-xs leading-5 shadow-xs focus-within:border-ring focus-within:ring-2 focus-within:ring-ring/25",
        invalid && "border-danger focus-within:border-danger focus-within:ring-danger/20",
        className,
      )}
    >
      <div ref={gutter} aria-hidden className="shrink-0 overflow-hidden border-r border-border bg-muted/50 py-2 text-right text-muted-foreground/70 select-none">
        {Array.from({ length: lineCount }, (_, index) => {
          const line = index + 1;
          const bad = errorLines.has(line);
          return (
            <div key={line} className={cn("relative pr-2 pl-4 tabular-nums", bad && "bg-red-500/10 font-semibold text-danger")}>
              {bad ? <span className="absolute top-1/2 left-1.5 size-1.5 -translate-y-1/2 rounded-full bg-danger" /> : null}
              {line}
            </div>
          );
        })}
      </div>
      <textarea
        ref={area}
        id={id}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        onKeyDown={onKeyDown}
        onScroll={(event) => {
          if (gutter.current) gutter.current.scrollTop = event.currentTarget.scrollTop;
        }}
        wrap="off"
        spellCheck={false}
        autoCapitalize="off"
        autoCorrect="off"
        aria-invalid={invalid || undefined}
        aria-describedby={describedBy}
        className="min-h-72 flex-1 resize-y bg-transparent px-3 py-2 whitespace-pre text-foreground focus:outline-none"
      />
    </div>
  );
}
