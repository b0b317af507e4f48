import { Badge, type BadgeTone } from "../ui/badge";
import { cn } from "../ui/cn";
import { formatPercent, type Health } from "./webhook-model";
import type { AttemptSummary, EndpointView } from "./types";

const disabledWhy: Record<NonNullable<EndpointView["disabledReason"]>, string> = {
  manual: "by an operator",
  gone: "the receiver answered 410 Gone",
  failing: "failing continuously",
};

/** Enabled, or disabled with why (an operator, a 410, or continuous failure). */
export function EndpointStatusBadge({ endpoint }: { endpoint: Pick<EndpointView, "status" | "disabledReason"> }) {
  if (endpoint.status === "enabled") {
    return (
      <Badge tone="success" data-testid="endpoint-status" data-status="enabled">
        <span className="size-1.5 rounded-full bg-emerald-500" aria-hidden />
        Enabled
      </Badge>
    );
  }
  const reason = endpoint.disabledReason ?? "manual";
  return (
    <Badge tone={reason === "manual" ? "neutral" : "danger"} title={`Disabled: ${disabledWhy[reason]}`} data-testid="endpoint-status" data-status="disabled" data-reason={reason}>
      <span className={cn("size-1.5 rounded-full", reason === "manual" ? "bg-muted-foreground/60" : "bg-danger")} aria-hidden />
      Disabled{reason === "manual" ? "" : reason === "gone" ? " · 410" : " · failing"}
    </Badge>
  );
}

export function disabledExplanation(reason: EndpointView["disabledReason"]): string {
  return disabledWhy[reason ?? "manual"];
}

const healthLook: Record<Health, { label: string; bar: string; text: string }> = {
  healthy: { label: "Healthy", bar: "bg-emerald-500", text: "text-emerald-700 dark:text-emerald-300" },
  degraded: { label: "Degraded", bar: "bg-amber-500", text: "text-amber-700 dark:text-amber-300" },
  failing: { label: "Failing", bar: "bg-red-500", text: "text-red-700 dark:text-red-300" },
  idle: { label: "No traffic", bar: "bg-muted-foreground/30", text: "text-muted-foreground" },
  disabled: { label: "Off", bar: "bg-muted-foreground/30", text: "text-muted-foreground" },
};

/** The success rate as a figure over a thin bar coloured by health. */
export function SuccessRate({ rate, health, attempts }: { rate: number | null; health: Health; attempts: number }) {
  const look = healthLook[health];
  return (
    <div className="w-24" data-testid="endpoint-success-rate" data-health={health} title={`${look.label}: ${attempts.toLocaleString()} attempt${attempts === 1 ? "" : "s"} in 24 h`}>
      <div className="flex items-baseline justify-between gap-2 text-xs">
        <span className={cn("font-mono font-medium tabular-nums", rate === null ? "text-muted-foreground" : look.text)}>{formatPercent(rate)}</span>
        <span className="text-[11px] text-muted-foreground tabular-nums">{rate === null ? look.label.toLowerCase() : `of ${attempts.toLocaleString()}`}</span>
      </div>
      <div className="mt-1 h-1.5 overflow-hidden rounded-full bg-muted-foreground/15" aria-hidden>
        <div className={cn("h-full rounded-full", look.bar)} style={{ width: `${rate === null ? 0 : Math.max(rate * 100, 2)}%` }} />
      </div>
    </div>
  );
}

function statusTone(status: number): BadgeTone {
  if (status >= 200 && status < 300) return "success";
  if (status >= 300 && status < 500) return "warning";
  return "danger";
}

/** An HTTP status as a compact monospace badge (2xx green, 3xx/4xx amber, 5xx red); a dash when no response came. */
export function HttpStatus({ status, className }: { status: number | null; className?: string }) {
  if (status === null) return <span className={cn("font-mono text-xs text-muted-foreground", className)}>—</span>;
  return (
    <Badge tone={statusTone(status)} className={cn("font-mono tabular-nums", className)} data-testid="http-status">
      {status}
    </Badge>
  );
}

export function AttemptStatusBadge({ status }: { status: AttemptSummary["status"] }) {
  return (
    <Badge tone={status === "succeeded" ? "success" : "danger"} data-testid="attempt-status" data-status={status}>
      <span className={cn("size-1.5 rounded-full", status === "succeeded" ? "bg-emerald-500" : "bg-danger")} aria-hidden />
      {status === "succeeded" ? "Succeeded" : "Failed"}
    </Badge>
  );
}

const triggerLabel: Record<AttemptSummary["trigger"], string> = { scheduled: "scheduled", manual: "resend", recover: "recover", test: "test" };

export function TriggerBadge({ trigger }: { trigger: AttemptSummary["trigger"] }) {
  return (
    <span
      className={cn(
        "rounded px-1.5 py-px text-[11px] font-medium",
        trigger === "scheduled" ? "text-muted-foreground" : "bg-accent text-accent-foreground",
      )}
      data-testid="attempt-trigger"
    >
      {triggerLabel[trigger]}
    </span>
  );
}

const STRIP_SLOTS = 25;

/** The last attempts as a row of ticks, oldest left: green succeeded, red failed; empty slots until there are enough. */
export function OutcomeStrip({ attempts, className }: { attempts: ReadonlyArray<Pick<AttemptSummary, "id" | "status" | "durationMs" | "responseStatus">>; className?: string }) {
  const ordered = [...attempts].slice(0, STRIP_SLOTS).reverse();
  const empty = STRIP_SLOTS - ordered.length;
  return (
    <div className={cn("flex h-7 items-stretch gap-[3px]", className)} aria-label="Recent attempts, oldest first" role="img" data-testid="outcome-strip">
      {Array.from({ length: empty }, (_, index) => (
        <span key={`empty-${index}`} className="flex-1 rounded-sm bg-muted-foreground/12" />
      ))}
      {ordered.map((attempt) => (
        <span
          key={attempt.id}
          title={`${attempt.status}${attempt.responseStatus === null ? "" : ` · HTTP ${attempt.responseStatus}`} · ${Math.round(attempt.durationMs)} ms`}
          className={cn("flex-1 rounded-sm", attempt.status === "succeeded" ? "bg-emerald-500/85 dark:bg-emerald-400/80" : "bg-red-500/85 dark:bg-red-400/85")}
        />
      ))}
    </div>
  );
}
