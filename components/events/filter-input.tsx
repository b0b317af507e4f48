"use client";

import { Search, X } from "lucide-react";
import { useId, type InputHTMLAttributes } from "react";
import { cn } from "../ui/cn";

/** A compact text filter with a leading icon, a clear button and optional suggestions. */
export function FilterInput({
  value,
  onValueChange,
  suggestions,
  className,
  icon = true,
  ...props
}: Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange"> & {
  value: string;
  onValueChange(value: string): void;
  suggestions?: readonly string[];
  icon?: boolean;
}) {
  const listId = useId();
  return (
    <div className={cn("relative", className)}>
      {icon ? <Search className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-muted-foreground" aria-hidden /> : null}
      <input
        {...props}
        value={value}
        onChange={(event) => onValueChange(event.target.value)}
        list={suggestions ? listId : undefined}
        className={cn(
          "h-9 w-full rounded-lg border border-input bg-card pr-8 text-sm shadow-xs placeholder:text-muted-foreground/70 focus:border-ring focus:ring-2 focus:ring-ring/25 focus:outline-none aria-invalid:border-danger",
          icon ? "pl-8" : "pl-3",
        )}
      />
      {value ? (
        <button
          type="button"
          onClick={() => onValueChange("")}
          aria-label="Clear"
          className="absolute top-1/2 right-1.5 inline-flex size-6 -translate-y-1/2 cursor-pointer items-center justify-center rounded text-muted-foreground hover:bg-muted hover:text-foreground"
        >
          <X className="size-3.5" aria-hidden />
        </button>
      ) : null}
      {suggestions ? (
        <datalist id={listId}>
          {suggestions.map((suggestion) => (
            <option key={suggestion} value={suggestion} />
          ))}
        </datalist>
      ) : null}
    </div>
  );
}
