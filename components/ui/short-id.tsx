import { cn } from "./cn";
import { CopyButton } from "./copy-button";

/** Shortens an id for tables: UUIDs keep their last, most random, characters. */
export function shortenId(id: string, length = 8): string {
  if (id.length <= length + 1) return id;
  const compact = id.replace(/-/g, "");
  return compact.slice(-length);
}

/** A monospace, shortened id with the full value on hover and a copy button. */
export function ShortId({ id, length = 8, className, copy = true }: { id: string; length?: number; className?: string; copy?: boolean }) {
  return (
    <span className={cn("inline-flex items-center gap-0.5", className)}>
      <span className="font-mono text-xs text-foreground/90" title={id}>
        {shortenId(id, length)}
      </span>
      {copy ? <CopyButton value={id} label="Copy id" className="size-5" /> : null}
    </span>
  );
}
