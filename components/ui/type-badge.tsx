import { cn } from "./cn";

// Full class strings (Tailwind only generates classes it can see in the source).
const palette = [
  "bg-indigo-50 text-indigo-700 ring-indigo-600/20 dark:bg-indigo-400/10 dark:text-indigo-300 dark:ring-indigo-400/25",
  "bg-emerald-50 text-emerald-700 ring-emerald-600/20 dark:bg-emerald-400/10 dark:text-emerald-300 dark:ring-emerald-400/25",
  "bg-amber-50 text-amber-800 ring-amber-600/20 dark:bg-amber-400/10 dark:text-amber-300 dark:ring-amber-400/25",
  "bg-sky-50 text-sky-700 ring-sky-600/20 dark:bg-sky-400/10 dark:text-sky-300 dark:ring-sky-400/25",
  "bg-rose-50 text-rose-700 ring-rose-600/20 dark:bg-rose-400/10 dark:text-rose-300 dark:ring-rose-400/25",
  "bg-violet-50 text-violet-700 ring-violet-600/20 dark:bg-violet-400/10 dark:text-violet-300 dark:ring-violet-400/25",
  "bg-teal-50 text-teal-700 ring-teal-600/20 dark:bg-teal-400/10 dark:text-teal-300 dark:ring-teal-400/25",
  "bg-orange-50 text-orange-700 ring-orange-600/20 dark:bg-orange-400/10 dark:text-orange-300 dark:ring-orange-400/25",
  "bg-fuchsia-50 text-fuchsia-700 ring-fuchsia-600/20 dark:bg-fuchsia-400/10 dark:text-fuchsia-300 dark:ring-fuchsia-400/25",
  "bg-lime-50 text-lime-800 ring-lime-600/20 dark:bg-lime-400/10 dark:text-lime-300 dark:ring-lime-400/25",
] as const;

/** Dot colors matching {@link palette}, for charts and legends. */
export const familyColors = ["#6366f1", "#10b981", "#f59e0b", "#0ea5e9", "#f43f5e", "#8b5cf6", "#14b8a6", "#f97316", "#d946ef", "#84cc16"] as const;

/** The family of a dotted type: its first segment (`exam` for `exam.sheet.graded`). */
export function typeFamily(type: string): string {
  return type.split(".")[0] ?? type;
}

/** A stable palette slot per family, so every `exam.*` badge has the same color everywhere. */
export function familyIndex(type: string): number {
  const family = typeFamily(type);
  let hash = 0;
  for (let index = 0; index < family.length; index++) hash = (hash * 37 + family.charCodeAt(index)) >>> 0;
  return hash % palette.length;
}

export function TypeBadge({ type, className }: { type: string; className?: string }) {
  return (
    <span
      title={type}
      className={cn(
        "inline-flex max-w-full items-center truncate rounded-md px-1.5 py-0.5 font-mono text-[11px] leading-4 font-medium ring-1 ring-inset",
        palette[familyIndex(type)],
        className,
      )}
    >
      {type}
    </span>
  );
}
