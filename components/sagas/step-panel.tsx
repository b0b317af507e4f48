"use client";

import { AlarmClock, ExternalLink, Undo2 } from "lucide-react";
import Link from "next/link";
import type { ReactNode } from "react";
import { Alert } from "../ui/error-state";
import { JsonView } from "../ui/json-view";
import { Drawer } from "../ui/overlay";
import { formatExact, RelativeTime } from "../ui/relative-time";
import { shortenId } from "../ui/short-id";
import { Table, Td, Th, THead, Tr } from "../ui/table";
import { TypeBadge } from "../ui/type-badge";
import { StepStatusBadge } from "./saga-badges";
import { durationBetween, formatDuration, type Phase } from "./timeline-model";
import type { SagaStep, SagaType } from "./types";

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="min-w-0">
      <dt className="text-[11px] font-medium tracking-wide text-muted-foreground uppercase">{label}</dt>
      <dd className="mt-0.5 truncate text-sm tabular-nums">{children}</dd>
    </div>
  );
}

function Section({ title, children, testId }: { title: ReactNode; children: ReactNode; testId?: string }) {
  return (
    <section className="space-y-2 px-5 py-4" data-testid={testId}>
      <h3 className="text-xs font-semibold tracking-wide text-muted-foreground uppercase">{title}</h3>
      {children}
    </section>
  );
}

/** What the step's definition says it does (from the saga type's catalog entry): in words, then its action and limits. */
function Definition({ type, name, phase }: { type: SagaType | undefined; name: string; phase: Phase }) {
  const step = type?.steps.find((candidate) => candidate.name === name);
  if (!step) return null;
  const facts =
    phase === "compensation"
      ? [`undoes ${name}`, step.compensation ?? ""]
      : // Choreographed steps have no timeout or attempts of their own: they are marked by events.
        [step.action, ...(step.timeoutMs > 0 ? [`timeout ${formatDuration(step.timeoutMs)}`] : []), ...(step.maxAttempts > 0 ? [`up to ${step.maxAttempts} attempt${step.maxAttempts === 1 ? "" : "s"}`] : [])];
  return (
    <div className="space-y-1.5">
      {step.description && phase === "forward" ? <p className="text-sm text-muted-foreground">{step.description}</p> : null}
      <p className="flex flex-wrap gap-1.5">
        {facts.filter(Boolean).map((fact) => (
          <span key={fact} className="rounded-md bg-muted px-1.5 py-0.5 font-mono text-[11px] text-foreground/80">
            {fact}
          </span>
        ))}
      </p>
    </div>
  );
}

/**
 * One step (or compensation) in full: its attempts with their times and errors, when the next
 * attempt is due, its result, and the events it produced, each linked to the event's page.
 */
export function StepPanel({ step, phase, type, now, onClose }: { step: SagaStep | null; phase: Phase; type: SagaType | undefined; now: number; onClose(): void }) {
  const duration = step ? durationBetween(step.startedAt, step.status === "running" || step.status === "waiting" ? null : step.endedAt, now) : null;
  return (
    <Drawer
      open={step !== null}
      onClose={onClose}
      title={
        step ? (
          <span className="inline-flex items-center gap-2" data-testid="step-panel-title">
            {phase === "compensation" ? <Undo2 className="size-4 text-amber-600 dark:text-amber-400" aria-hidden /> : null}
            <span className="text-muted-foreground">{phase === "compensation" ? "Compensation" : "Step"}</span>
            <span className="font-mono">{step.name}</span>
            <StepStatusBadge status={step.status} />
          </span>
        ) : null
      }
    >
      {step ? (
        <div className="divide-y divide-border" data-testid="step-panel" data-step={step.name} data-phase={phase}>
          <div className="space-y-3 px-5 py-4">
            <Definition type={type} name={step.name} phase={phase} />
            <dl className="grid grid-cols-2 gap-x-4 gap-y-3 sm:grid-cols-4">
              <Fact label="Attempts">{step.attempts}</Fact>
              <Fact label="Started">{step.startedAt ? <RelativeTime time={step.startedAt} /> : "—"}</Fact>
              <Fact label="Ended">{step.endedAt ? <RelativeTime time={step.endedAt} /> : "—"}</Fact>
              <Fact label="Duration">{duration === null ? "—" : formatDuration(duration)}</Fact>
            </dl>
            {step.nextAttemptAt ? (
              <p className="inline-flex items-center gap-1.5 text-sm text-amber-800 dark:text-amber-300" data-testid="step-next-attempt">
                <AlarmClock className="size-4" aria-hidden />
                Next attempt <RelativeTime time={step.nextAttemptAt} /> <span className="text-xs text-muted-foreground">({formatExact(step.nextAttemptAt)})</span>
              </p>
            ) : null}
            {step.error ? (
              <Alert title={step.error.type} className="font-mono text-xs">
                <span data-testid="step-error">{step.error.message}</span>
              </Alert>
            ) : null}
          </div>

          <Section title={`Attempts (${step.history.length})`}>
            {step.history.length === 0 ? (
              <p className="text-sm text-muted-foreground">{step.status === "pending" ? "Not reached yet." : "No attempts recorded (a step of a choreographed flow is known by its events)."}</p>
            ) : (
              <div className="overflow-hidden rounded-lg border border-border">
                <Table>
                  <THead>
                    <tr>
                      <Th>#</Th>
                      <Th>Started</Th>
                      <Th className="text-right">Duration</Th>
                      <Th>Outcome</Th>
                    </tr>
                  </THead>
                  <tbody>
                    {step.history.map((attempt) => (
                      <Tr key={attempt.attempt} data-testid="step-attempt">
                        <Td className="font-mono text-xs tabular-nums">{attempt.attempt}</Td>
                        <Td className="text-xs whitespace-nowrap tabular-nums" title={attempt.startedAt}>
                          {formatExact(attempt.startedAt)}
                        </Td>
                        <Td className="text-right font-mono text-xs whitespace-nowrap tabular-nums">
                          {attempt.endedAt ? formatDuration(durationBetween(attempt.startedAt, attempt.endedAt, now) ?? 0) : "…"}
                        </Td>
                        <Td className="py-2 text-xs">
                          {attempt.error ? (
                            <span className="text-danger">
                              <span className="font-medium">{attempt.error.type}</span>: {attempt.error.message}
                            </span>
                          ) : attempt.endedAt ? (
                            <span className="text-emerald-700 dark:text-emerald-300">succeeded</span>
                          ) : (
                            <span className="text-muted-foreground">in progress</span>
                          )}
                        </Td>
                      </Tr>
                    ))}
                  </tbody>
                </Table>
              </div>
            )}
          </Section>

          <Section title={`Events produced (${step.events.length})`} testId="step-events">
            {step.events.length === 0 ? (
              <p className="text-sm text-muted-foreground">No events recorded for this step yet.</p>
            ) : (
              <ul className="divide-y divide-border overflow-hidden rounded-lg border border-border">
                {step.events.map((event) => (
                  <li key={event.id}>
                    <Link
                      href={`/events/${encodeURIComponent(event.id)}`}
                      className="flex items-center gap-3 px-3 py-2 text-sm transition-colors hover:bg-muted/60"
                      data-testid="step-event"
                      data-event-type={event.type}
                      aria-label={`Open event ${event.type} ${shortenId(event.id)}`}
                    >
                      <TypeBadge type={event.type} />
                      <span className="font-mono text-xs text-muted-foreground">{shortenId(event.id)}</span>
                      {event.position !== undefined ? <span className="ml-auto font-mono text-xs text-muted-foreground">#{event.position}</span> : <span className="ml-auto" />}
                      <ExternalLink className="size-3.5 text-muted-foreground" aria-hidden />
                    </Link>
                  </li>
                ))}
              </ul>
            )}
          </Section>

          <Section title="Result">
            {step.result === undefined || step.result === null ? (
              <p className="text-sm text-muted-foreground">{step.status === "completed" ? "The action returned nothing." : "No result: the step has not completed."}</p>
            ) : (
              <JsonView value={step.result} />
            )}
          </Section>
        </div>
      ) : null}
    </Drawer>
  );
}
