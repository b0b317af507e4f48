"use client";

import { ArrowRight, Undo2 } from "lucide-react";
import { useMemo, type ReactNode } from "react";
import { Card, CardHeader } from "../ui/card";
import { cn } from "../ui/cn";
import { formatExact } from "../ui/relative-time";
import { stepLook } from "./saga-badges";
import { buildTimeline, formatDuration, type Phase, type Span, type TimelineRow, type TimelineSaga } from "./timeline-model";

export interface StepSelection {
  phase: Phase;
  index: number;
}

const laneLook: Record<Phase, { title: string; icon: ReactNode; stripe: string; empty: string }> = {
  forward: {
    title: "Forward",
    icon: <ArrowRight className="size-3.5" aria-hidden />,
    stripe: "border-l-sky-500/70 dark:border-l-sky-400/70",
    empty: "This saga has no steps.",
  },
  compensation: {
    title: "Compensation",
    icon: <Undo2 className="size-3.5" aria-hidden />,
    stripe: "border-l-amber-500/70 dark:border-l-amber-400/70",
    empty: "No compensation ran: nothing had to be undone.",
  },
};

function spanTitle(row: TimelineRow, span: Span): string {
  const lines = [`${row.phase === "compensation" ? "Compensation of " : ""}${row.step.name}${span.attempt !== null ? ` · attempt ${span.attempt}` : ""}`];
  lines.push(`${stepLook[span.tone].label} · ${span.ended ? formatDuration(span.endMs - span.startMs) : `${formatDuration(span.endMs - span.startMs)} so far`}`);
  lines.push(`started ${formatExact(span.startMs)}`);
  if (span.error) lines.push(`error: ${span.error}`);
  return lines.join("\n");
}

/** The shared axis's vertical lines (ticks) and the "now" line, drawn behind a row's spans. */
function Grid({ offsets, nowOffset }: { offsets: number[]; nowOffset: number | null }) {
  return (
    <>
      {offsets.map((offset) => (
        <span key={offset} className="absolute inset-y-0 w-px bg-border/70" style={{ left: `${offset * 100}%` }} aria-hidden />
      ))}
      {nowOffset !== null ? <span className="absolute inset-y-0 w-px border-l border-dashed border-primary/70" style={{ left: `${nowOffset * 100}%` }} aria-hidden /> : null}
    </>
  );
}

function Row({
  row,
  selected,
  offsets,
  nowOffset,
  onSelect,
}: {
  row: TimelineRow;
  selected: boolean;
  offsets: number[];
  nowOffset: number | null;
  onSelect(selection: StepSelection): void;
}) {
  const { step, spans } = row;
  const last = spans.at(-1);
  // The duration label sits after the last span, or before the first when the span ends near the right edge.
  const labelAfter = last ? last.left + last.width < 0.82 : true;
  const first = spans[0];
  return (
    <button
      type="button"
      onClick={() => onSelect({ phase: row.phase, index: row.index })}
      aria-pressed={selected}
      aria-label={`${row.phase === "compensation" ? "Compensation of " : ""}${step.name}: ${step.status}${row.durationMs !== null ? `, ${formatDuration(row.durationMs)}` : ""}. Open its details`}
      data-testid="timeline-row"
      data-phase={row.phase}
      data-step={step.name}
      data-status={step.status}
      className={cn(
        "group grid w-full cursor-pointer grid-cols-[11rem_1fr] items-center text-left transition-colors sm:grid-cols-[13rem_1fr]",
        selected ? "bg-accent/70" : "hover:bg-muted/60",
      )}
    >
      <span className="flex min-w-0 items-center gap-2 py-2 pr-3 pl-4">
        <span className={cn("size-2 shrink-0 rounded-full", stepLook[step.status].bar)} aria-hidden />
        <span className={cn("truncate font-mono text-xs", step.status === "pending" || step.status === "skipped" ? "text-muted-foreground" : "font-medium")} title={step.name}>
          {step.name}
        </span>
        {step.attempts > 1 ? (
          <span className="shrink-0 rounded bg-muted px-1 font-mono text-[10px] text-muted-foreground tabular-nums" title={`${step.attempts} attempts`}>
            ×{step.attempts}
          </span>
        ) : null}
      </span>
      <span className="relative mr-4 block h-9">
        <Grid offsets={offsets} nowOffset={nowOffset} />
        {spans.map((span, index) => (
          <span
            key={index}
            data-testid="timeline-bar"
            data-tone={span.tone}
            title={spanTitle(row, span)}
            className={cn(
              "absolute top-1/2 h-4 -translate-y-1/2 rounded-[4px] shadow-xs transition-[filter] group-hover:brightness-110",
              stepLook[span.tone].bar,
              !span.ended && span.tone === "running" && "animate-pulse",
              selected && "ring-2 ring-ring/60 ring-offset-1 ring-offset-card",
            )}
            style={{ left: `${span.left * 100}%`, width: `${span.width * 100}%` }}
          />
        ))}
        {spans.length > 0 && row.durationMs !== null && last && first ? (
          <span
            className={cn(
              "absolute top-1/2 -translate-y-1/2 font-mono text-[11px] whitespace-nowrap tabular-nums",
              step.status === "failed" ? "text-danger" : "text-muted-foreground",
            )}
            style={labelAfter ? { left: `calc(${(last.left + last.width) * 100}% + 6px)` } : { right: `calc(${(1 - first.left) * 100}% + 6px)` }}
          >
            {formatDuration(row.durationMs)}
            {step.status === "failed" ? " · failed" : step.status === "waiting" ? " · waiting" : ""}
          </span>
        ) : (
          <span className="absolute top-1/2 left-1 -translate-y-1/2 text-[11px] text-muted-foreground italic">{step.status === "skipped" ? "skipped" : "not reached"}</span>
        )}
      </span>
    </button>
  );
}

function Lane({ phase, rows, selected, offsets, nowOffset, onSelect }: { phase: Phase; rows: TimelineRow[]; selected: StepSelection | null; offsets: number[]; nowOffset: number | null; onSelect(selection: StepSelection): void }) {
  const look = laneLook[phase];
  return (
    <section aria-label={`${look.title} lane`} data-testid={`lane-${phase}`} className={cn("border-l-[3px]", look.stripe)}>
      <h3 className="flex items-center gap-1.5 bg-muted/40 px-4 py-1.5 text-[11px] font-semibold tracking-wider text-muted-foreground uppercase">
        {look.icon}
        {look.title}
        <span className="font-normal tracking-normal normal-case">
          · {rows.length} {phase === "forward" ? (rows.length === 1 ? "step" : "steps") : rows.length === 1 ? "compensation" : "compensations"}
        </span>
      </h3>
      {rows.length === 0 ? (
        <p className="px-4 py-3 text-xs text-muted-foreground">{look.empty}</p>
      ) : (
        <div className="divide-y divide-border/60">
          {rows.map((row) => (
            <Row
              key={row.key}
              row={row}
              selected={selected?.phase === phase && selected.index === row.index}
              offsets={offsets}
              nowOffset={nowOffset}
              onSelect={onSelect}
            />
          ))}
        </div>
      )}
    </section>
  );
}

const legend: Array<{ tone: keyof typeof stepLook; label: string }> = [
  { tone: "completed", label: "completed" },
  { tone: "running", label: "running" },
  { tone: "waiting", label: "waiting" },
  { tone: "retried", label: "retried" },
  { tone: "failed", label: "failed" },
  { tone: "skipped", label: "skipped" },
];

/**
 * A saga's steps and compensations as bars on one time axis (Temporal's event history, drawn):
 * the Forward lane has a row per step, the Compensation lane a row per compensation in the order it
 * ran; each attempt is a bar from its start to its end. A row opens the step's details.
 */
export function SagaTimeline({ saga, now, selected, onSelect }: { saga: TimelineSaga; now: number; selected: StepSelection | null; onSelect(selection: StepSelection): void }) {
  const timeline = useMemo(() => buildTimeline(saga, now), [saga, now]);
  const offsets = timeline.ticks.map((tick) => tick.offset);
  return (
    <Card className="overflow-hidden" data-testid="saga-timeline">
      <CardHeader
        title="Timeline"
        description={`Forward steps and compensations on one time axis · ${formatDuration(timeline.endMs - timeline.startMs)} in all`}
        actions={
          <ul className="flex flex-wrap items-center gap-x-3 gap-y-1 text-[11px] text-muted-foreground" aria-label="Legend">
            {legend.map((item) => (
              <li key={item.tone} className="inline-flex items-center gap-1.5">
                <span className={cn("h-2.5 w-4 rounded-[3px]", stepLook[item.tone].bar)} aria-hidden />
                {item.label}
              </li>
            ))}
          </ul>
        }
      />
      <div className="grid grid-cols-[11rem_1fr] border-b border-border sm:grid-cols-[13rem_1fr]" aria-hidden>
        <span className="py-1.5 pl-[19px] text-[11px] text-muted-foreground">{formatExact(timeline.startMs).split(", ").at(-1)}</span>
        <span className="relative mr-4 block h-7">
          {timeline.ticks.map((tick, index) => (
            <span
              key={tick.at}
              className={cn(
                "absolute top-1/2 -translate-y-1/2 font-mono text-[10px] whitespace-nowrap text-muted-foreground tabular-nums",
                index === 0 ? "" : index === timeline.ticks.length - 1 && tick.offset > 0.93 ? "-translate-x-full" : "-translate-x-1/2",
              )}
              style={{ left: `${tick.offset * 100}%` }}
            >
              {tick.label}
            </span>
          ))}
        </span>
      </div>
      <div className="divide-y divide-border">
        <Lane phase="forward" rows={timeline.forward} selected={selected} offsets={offsets} nowOffset={timeline.nowOffset} onSelect={onSelect} />
        <Lane phase="compensation" rows={timeline.compensation} selected={selected} offsets={offsets} nowOffset={timeline.nowOffset} onSelect={onSelect} />
      </div>
    </Card>
  );
}
