import { Fragment, type ReactNode } from "react";
import { cn } from "./cn";
import { CopyButton } from "./copy-button";

// Token colors readable on both themes.
const tokenClass = {
  key: "text-sky-700 dark:text-sky-300",
  string: "text-emerald-700 dark:text-emerald-300",
  number: "text-amber-700 dark:text-amber-300",
  boolean: "text-violet-700 dark:text-violet-300",
  null: "text-rose-600 dark:text-rose-300",
  punct: "text-muted-foreground",
} as const;

function render(value: unknown, indent: number, keyPrefix: string): ReactNode {
  const pad = "  ".repeat(indent);
  const padInner = "  ".repeat(indent + 1);
  if (value === null || value === undefined) return <span className={tokenClass.null}>null</span>;
  if (typeof value === "string") return <span className={tokenClass.string}>{JSON.stringify(value)}</span>;
  if (typeof value === "number" || typeof value === "bigint") return <span className={tokenClass.number}>{String(value)}</span>;
  if (typeof value === "boolean") return <span className={tokenClass.boolean}>{String(value)}</span>;
  if (value instanceof Date) return <span className={tokenClass.string}>{JSON.stringify(value.toISOString())}</span>;
  if (Array.isArray(value)) {
    if (value.length === 0) return <span className={tokenClass.punct}>[]</span>;
    return (
      <>
        <span className={tokenClass.punct}>[</span>
        {"\n"}
        {value.map((item, index) => (
          <Fragment key={`${keyPrefix}.${index}`}>
            {padInner}
            {render(item, indent + 1, `${keyPrefix}.${index}`)}
            {index < value.length - 1 ? <span className={tokenClass.punct}>,</span> : null}
            {"\n"}
          </Fragment>
        ))}
        {pad}
        <span className={tokenClass.punct}>]</span>
      </>
    );
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return <span className={tokenClass.punct}>{"{}"}</span>;
    return (
      <>
        <span className={tokenClass.punct}>{"{"}</span>
        {"\n"}
        {entries.map(([key, item], index) => (
          <Fragment key={`${keyPrefix}.${key}`}>
            {padInner}
            <span className={tokenClass.key}>{JSON.stringify(key)}</span>
            <span className={tokenClass.punct}>: </span>
            {render(item, indent + 1, `${keyPrefix}.${key}`)}
            {index < entries.length - 1 ? <span className={tokenClass.punct}>,</span> : null}
            {"\n"}
          </Fragment>
        ))}
        {pad}
        <span className={tokenClass.punct}>{"}"}</span>
      </>
    );
  }
  return <span>{String(value)}</span>;
}

/** Pretty-printed, syntax-colored JSON with a copy button. */
export function JsonView({ value, className, maxHeight = true }: { value: unknown; className?: string; maxHeight?: boolean }) {
  return (
    <div className={cn("group relative rounded-lg border border-border bg-muted/50", className)}>
      <CopyButton value={JSON.stringify(value, null, 2) ?? "null"} label="Copy JSON" className="absolute top-2 right-2 bg-card opacity-80 shadow-xs group-hover:opacity-100" />
      <pre className={cn("overflow-auto p-4 pr-10 font-mono text-xs leading-5", maxHeight && "max-h-[32rem]")}>
        <code>{render(value, 0, "$")}</code>
      </pre>
    </div>
  );
}
