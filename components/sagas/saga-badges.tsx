import { GitFork, Workflow } from "lucide-react";
import { Badge, type BadgeTone } from "../ui/badge";
import { cn } from "../ui/cn";
import type { SpanTone, StepStatus } from "./timeline-model";

export const sagaStatusList = ["running", "compensating", "failed", "completed", "compensated", "cancelled"] as const;
export type SagaStatusName = (typeof sagaStatusList)[number];
export type SagaKindName = "orchestrated" | "choreographed";

/** How each saga status reads: its badge tone, the dot's colour (pulsing while the saga works), and a hint. */
export const sagaStatusLook: Record<SagaStatusName, { label: string; tone: BadgeTone; dot: string; hint: string }> = {
  running: { label: "Running", tone: "primary", dot: "animate-pulse bg-primary", hint: "Forward steps are running or awaited" },
  compensating: { label: "Compensating", tone: "warning", dot: "animate-pulse bg-amber-500", hint: "A step failed for good: completed steps are being undone" },
  failed: { label: "Failed", tone: "danger", dot: "bg-danger", hint: "A compensation kept failing: an operator has to retry it" },
  completed: { label: "Completed", tone: "success", dot: "bg-emerald-500", hint: "Every step completed" },
  compensated: { label: "Compensated", tone: "warning", dot: "bg-amber-500", hint: "A step failed and what had completed was undone" },
  cancelled: { label: "Cancelled", tone: "neutral", dot: "bg-muted-foreground/60", hint: "Cancelled by an operator or its deadline, and compensated" },
};

export function SagaStatusBadge({ status, className }: { status: SagaStatusName; className?: string }) {
  const look = sagaStatusLook[status];
  return (
    <Badge tone={look.tone} title={look.hint} className={className} data-testid="saga-status" data-status={status}>
      <span className={cn("size-1.5 rounded-full", look.dot)} aria-hidden />
      {look.label}
    </Badge>
  );
}

export function SagaKindBadge({ kind }: { kind: SagaKindName }) {
  const orchestrated = kind === "orchestrated";
  return (
    <span
      data-testid="saga-kind"
      data-kind={kind}
      title={orchestrated ? "Run step by step by the orchestrator" : "Reconstructed from the events of services reacting to each other"}
      className={cn(
        "inline-flex items-center gap-1 rounded-md px-1.5 py-0.5 text-[11px] font-medium whitespace-nowrap ring-1 ring-inset",
        orchestrated
          ? "bg-sky-50 text-sky-700 ring-sky-600/20 dark:bg-sky-400/10 dark:text-sky-300 dark:ring-sky-400/25"
          : "bg-violet-50 text-violet-700 ring-violet-600/20 dark:bg-violet-400/10 dark:text-violet-300 dark:ring-violet-400/25",
      )}
    >
      {orchestrated ? <Workflow className="size-3" aria-hidden /> : <GitFork className="size-3" aria-hidden />}
      {kind}
    </span>
  );
}

/** Step statuses in words and colours; the timeline's bars use the same fills. */
export const stepLook: Record<SpanTone, { label: string; tone: BadgeTone; bar: string }> = {
  pending: { label: "pending", tone: "neutral", bar: "bg-muted-foreground/20" },
  running: { label: "running", tone: "primary", bar: "bg-primary" },
  // Hatched and dashed: started, now waiting on something outside (a task, child sagas).
  waiting: {
    label: "waiting",
    tone: "primary",
    bar: "border border-dashed border-primary bg-primary/10 [background-image:repeating-linear-gradient(135deg,color-mix(in_oklch,var(--primary)_40%,transparent)_0_3px,transparent_3px_7px)]",
  },
  completed: { label: "completed", tone: "success", bar: "bg-emerald-500 dark:bg-emerald-400" },
  failed: { label: "failed", tone: "danger", bar: "bg-red-500 dark:bg-red-400" },
  skipped: { label: "skipped", tone: "neutral", bar: "bg-muted-foreground/35" },
  retried: { label: "failed, retried", tone: "warning", bar: "bg-red-400/45 dark:bg-red-400/35" },
};

export function StepStatusBadge({ status }: { status: StepStatus }) {
  const look = stepLook[status];
  return (
    <Badge tone={look.tone} data-testid="step-status" data-status={status}>
      {look.label}
    </Badge>
  );
}
