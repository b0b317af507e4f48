/**
 * The geometry of a saga's timeline, apart from React: one shared time axis from the saga's start
 * to its end (or now, while it runs), a row per forward step and per compensation, and on each row
 * the spans of its attempts, placed as fractions of the axis.
 */

export type StepStatus = "pending" | "running" | "waiting" | "completed" | "failed" | "skipped";
export type Phase = "forward" | "compensation";

/** What the timeline reads of a step record (SagaStepRecord's shape). */
export interface TimelineStep {
  name: string;
  status: StepStatus;
  attempts: number;
  startedAt: string | null;
  endedAt: string | null;
  error?: { type: string; message: string };
  history: Array<{ attempt: number; startedAt: string; endedAt: string | null; error?: { type: string; message: string } }>;
}

export interface TimelineSaga {
  startedAt: string;
  endedAt: string | null;
  steps: TimelineStep[];
  compensations: TimelineStep[];
}

/** How a span looks: the step's status for its last attempt, `retried` for an attempt that failed and was tried again. */
export type SpanTone = StepStatus | "retried";

export interface Span {
  /** 0..1 along the axis. */
  left: number;
  width: number;
  startMs: number;
  endMs: number;
  /** False while the attempt is still going (its end is "now"). */
  ended: boolean;
  attempt: number | null;
  tone: SpanTone;
  error: string | undefined;
}

export interface TimelineRow {
  /** Unique per row: `forward:<name>` or `compensation:<name>:<index>`. */
  key: string;
  phase: Phase;
  /** Index into `steps` (forward) or `compensations` (in the order run). */
  index: number;
  step: TimelineStep;
  spans: Span[];
  /** Start to end of the whole step (all attempts), in ms; null when it never started. */
  durationMs: number | null;
}

export interface Tick {
  at: number;
  /** 0..1 along the axis. */
  offset: number;
  label: string;
}

export interface Timeline {
  startMs: number;
  endMs: number;
  forward: TimelineRow[];
  compensation: TimelineRow[];
  ticks: Tick[];
  /** Where "now" is on the axis while the saga runs (0..1), else null. */
  nowOffset: number | null;
}

/** Spans narrower than this share of the axis are widened, so an instant step still shows. */
const MIN_SPAN = 0.006;

const time = (iso: string) => new Date(iso).getTime();

/** "850 ms", "1.2 s", "3 m 05 s", "2 h 10 m", "3 d 4 h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 60_000) return `${Math.round(ms / 1_000)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1_000);
  if (minutes < 60) return seconds === 0 ? `${minutes} m` : `${minutes} m ${String(seconds).padStart(2, "0")} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${String(minutes % 60).padStart(2, "0")} m`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** A saga's (or a step's) duration: to its end, or to `now` while it has not ended. */
export function durationBetween(startedAt: string | null, endedAt: string | null, now: number): number | null {
  if (startedAt === null) return null;
  return Math.max(0, (endedAt === null ? now : time(endedAt)) - time(startedAt));
}

/** Offsets of elapsed time from the start, 1-2-5 stepped, about `target` of them over `span` ms. */
export function ticksFor(span: number, target = 6): Array<{ elapsed: number; label: string }> {
  if (!(span > 0)) return [{ elapsed: 0, label: "0" }];
  const raw = span / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= raw) ?? 10 * magnitude;
  const ticks: Array<{ elapsed: number; label: string }> = [];
  for (let elapsed = 0; elapsed <= span + step * 1e-9 && ticks.length <= target * 3; elapsed += step) {
    ticks.push({ elapsed, label: elapsed === 0 ? "0" : `+${formatDuration(elapsed)}` });
  }
  return ticks;
}

function isOpen(status: StepStatus): boolean {
  return status === "running" || status === "waiting";
}

function spansOf(step: TimelineStep, place: (ms: number) => number, now: number): Span[] {
  const open = isOpen(step.status);
  const attempts =
    step.history.length > 0
      ? step.history
      : step.startedAt !== null
        ? // Choreographed flows (rebuilt from the log) have no attempt history: the step's own span.
          [{ attempt: step.attempts || 1, startedAt: step.startedAt, endedAt: step.endedAt }]
        : [];
  return attempts.map((attempt, position) => {
    const last = position === attempts.length - 1;
    const startMs = time(attempt.startedAt);
    const ended = attempt.endedAt !== null || !(last && open);
    // An attempt without an end that is not the running one was cut short by a crash: it lasted
    // until the next attempt started (or the step ended).
    const next = attempts[position + 1];
    const endMs =
      attempt.endedAt !== null ? time(attempt.endedAt) : last && open ? now : next ? time(next.startedAt) : step.endedAt !== null ? time(step.endedAt) : startMs;
    const left = place(startMs);
    const width = Math.max(MIN_SPAN, place(Math.max(endMs, startMs)) - left);
    const error = "error" in attempt ? attempt.error?.message : undefined;
    return {
      left: Math.min(left, 1 - MIN_SPAN),
      width,
      startMs,
      endMs,
      ended,
      attempt: step.history.length > 0 ? attempt.attempt : null,
      tone: last ? step.status : "retried",
      error: last ? (error ?? step.error?.message) : error,
    };
  });
}

export function buildTimeline(saga: TimelineSaga, now: number): Timeline {
  const startMs = time(saga.startedAt);
  const all = [...saga.steps, ...saga.compensations];
  const open = all.some((step) => isOpen(step.status)) || saga.endedAt === null;
  let endMs = saga.endedAt !== null ? time(saga.endedAt) : now;
  for (const step of all) {
    for (const stamp of [step.endedAt, ...step.history.map((attempt) => attempt.endedAt)]) {
      if (stamp !== null) endMs = Math.max(endMs, time(stamp));
    }
  }
  if (open) endMs = Math.max(endMs, now);
  // An instant saga still gets an axis to draw on.
  const span = Math.max(endMs - startMs, 1);
  const place = (ms: number) => Math.min(1, Math.max(0, (ms - startMs) / span));

  const row = (phase: Phase) => (step: TimelineStep, index: number): TimelineRow => ({
    key: phase === "forward" ? `forward:${step.name}` : `compensation:${step.name}:${index}`,
    phase,
    index,
    step,
    spans: spansOf(step, place, now),
    durationMs: durationBetween(step.startedAt, isOpen(step.status) ? null : step.endedAt, now),
  });

  return {
    startMs,
    endMs: startMs + span,
    forward: saga.steps.map(row("forward")),
    compensation: saga.compensations.map(row("compensation")),
    ticks: ticksFor(span).map((tick) => ({ at: startMs + tick.elapsed, offset: tick.elapsed / span, label: tick.label })),
    nowOffset: open ? place(now) : null,
  };
}
