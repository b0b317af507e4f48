import { v5 as uuidv5 } from "uuid";
import type { z } from "zod";
import { systemClock, type Clock } from "../core/clock";
import { causedBy, matchesAnyType, type EventDraft, type EventEnvelope, type StoredEvent } from "../core/envelope";
import { isEngineError, NonRetryableError } from "../core/errors";
import type { Principal } from "../core/principal";
import type { CommandExecutor, CommandResult } from "../cqrs/command";
import type { EventStore } from "../store/event-store";
import { TASK_EVENT_TYPES } from "../tasks/events";
import type { SubmitTaskRequest } from "../tasks/task-queue";
import type { SagaTypeDescriptor } from "./ports";
import { SAGA_NAME_PATTERN } from "./saga-definition";
import type { SagaErrorInfo, SagaRecord, SagaStatus, SagaStepAttempt, SagaStepRecord, SagaStore } from "./saga-store";

/**
 * Choreographed sagas: nobody runs them. Each participant is a reaction (a subscription) that
 * reacts to the previous event and causes the next one, all in one conversation (`correlationid`).
 * A ChoreographyDefinition only says which events mark which step, so that the flow can be rebuilt
 * from the log and shown next to the orchestrated sagas: the tracker reads every event of the
 * correlation after each one and stores the rebuilt view as a SagaRecord of kind `choreographed`.
 *
 * `reaction()` is the helper participants are written with: whatever a handler causes (events,
 * commands, tasks) carries the triggering event's correlation and trace, and is idempotent by the
 * event id, so a redelivered event has its effects once.
 */

/**
 * One step of a choreographed flow, recognised by events. Event lists hold type patterns
 * (`task.succeeded`, `notification.*`); `matches` narrows them to this step's events (e.g. tasks of
 * one type), since one event type often marks many things.
 */
export interface ChoreographyStepDefinition {
  name: string;
  description?: string;
  /** Events that end the step well. */
  completesOn: string[];
  /** Events that end the step as failed for good. */
  failsOn?: string[];
  /** Events that show the step under way without an attempt starting (e.g. `task.queued`). */
  startsOn?: string[];
  /**
   * Events that begin an attempt (e.g. `task.started`): the step's attempts are these events.
   * A step without them has made one attempt as soon as any event of it is seen.
   */
  attemptsOn?: string[];
  /** Events that end an attempt in failure with another one to come (e.g. `task.failed`). */
  retriesOn?: string[];
  /**
   * Makes this a compensation: the step that reacts to the named forward step having happened
   * (completed, or failed for good) by undoing or making up for it. Listed under `compensations`.
   */
  compensates?: string;
  /** Which events of the step's types are this step's. Default: all. */
  matches?(event: EventEnvelope): boolean;
}

export interface ChoreographyDefinition {
  /** Unique among saga types, e.g. `exam_results`. */
  type: string;
  description: string;
  /** Events that begin a flow (the first one in a correlation does). */
  startsOn: string[];
  /** Forward steps (in the order they happen) and their compensations. */
  steps: ChoreographyStepDefinition[];
  /** Events that end the whole flow well even if forward steps never happened (those are `skipped`). Default: the flow completes when every forward step did. */
  completesOn?: string[];
  /** Events that fail the whole flow outside any step; compensations follow as for a failed step. */
  failsOn?: string[];
  /** Which events of `startsOn`, `completesOn` and `failsOn` count (e.g. only events an aggregate decided). Default: all. */
  matches?(event: EventEnvelope): boolean;
  /** The flow's subject, from its first event. Default: that event's `subject`. */
  subject?(start: EventEnvelope): string | null;
}

/** Checks the definition (names, references) and returns it: a mistake fails at start-up, not on some later event. */
export function defineChoreography(definition: ChoreographyDefinition): ChoreographyDefinition {
  const problems: string[] = [];
  if (!SAGA_NAME_PATTERN.test(definition.type)) problems.push(`type "${definition.type}" is not a saga name (${SAGA_NAME_PATTERN})`);
  if (definition.startsOn.length === 0) problems.push("startsOn names no event type");
  const forward = new Set(definition.steps.filter((step) => step.compensates === undefined).map((step) => step.name));
  const seen = new Set<string>();
  for (const step of definition.steps) {
    if (!SAGA_NAME_PATTERN.test(step.name)) problems.push(`step "${step.name}" is not a saga name`);
    if (seen.has(step.name)) problems.push(`step "${step.name}" is defined twice`);
    seen.add(step.name);
    if (step.completesOn.length === 0) problems.push(`step "${step.name}" has no completesOn event type`);
    if (step.compensates !== undefined && !forward.has(step.compensates)) problems.push(`step "${step.name}" compensates "${step.compensates}", which is no forward step`);
  }
  if (forward.size === 0) problems.push("no forward step");
  if (problems.length > 0) throw new Error(`choreography ${definition.type}: ${problems.join("; ")}`);
  return definition;
}

const isForward = (step: ChoreographyStepDefinition) => step.compensates === undefined;

/** Every event type pattern the flow is recognised by (what the tracker reads and subscribes to). */
export function choreographyEventTypes(definition: ChoreographyDefinition): string[] {
  const types = [...definition.startsOn, ...(definition.completesOn ?? []), ...(definition.failsOn ?? [])];
  for (const step of definition.steps) types.push(...step.completesOn, ...(step.failsOn ?? []), ...(step.startsOn ?? []), ...(step.attemptsOn ?? []), ...(step.retriesOn ?? []));
  return [...new Set(types)];
}

/**
 * The catalog entry. `action` is the event types that complete the step; `compensation` the steps
 * that compensate it. Nobody times or retries a choreography's steps (their participants do), so
 * `timeoutMs` and `maxAttempts` are 0.
 */
export function describeChoreography(definition: ChoreographyDefinition): SagaTypeDescriptor {
  return {
    type: definition.type,
    kind: "choreographed",
    description: definition.description,
    steps: definition.steps.filter(isForward).map((step) => {
      const compensations = definition.steps.filter((candidate) => candidate.compensates === step.name).map((candidate) => candidate.name);
      return {
        name: step.name,
        description: step.description ?? "",
        action: step.completesOn.join(" | "),
        compensation: compensations.length === 0 ? null : compensations.join(", "),
        timeoutMs: 0,
        maxAttempts: 0,
      };
    }),
    schema: null,
    deadline: null,
  };
}

/** Fixed: a choreography's saga id is the same in every process and on every rebuild. */
const CHOREOGRAPHY_NAMESPACE = "5d0c4b36-6a51-4a39-9f0e-3c1f7e2b8a64";

/** The id of the `type` flow of a correlation. */
export function choreographySagaId(type: string, correlationid: string): string {
  return uuidv5(`${type}:${correlationid}`, CHOREOGRAPHY_NAMESPACE);
}

type StepMark = "start" | "attempt" | "retry" | "complete" | "fail";

/** How `event` marks `step`, if it does (a step's own lists, most decisive first). */
function markOf(step: ChoreographyStepDefinition, event: EventEnvelope): StepMark | undefined {
  const mark: StepMark | undefined = listed(step.completesOn, event)
    ? "complete"
    : listed(step.failsOn, event)
      ? "fail"
      : listed(step.retriesOn, event)
        ? "retry"
        : listed(step.attemptsOn, event)
          ? "attempt"
          : listed(step.startsOn, event)
            ? "start"
            : undefined;
  return mark && (step.matches?.(event) ?? true) ? mark : undefined;
}

/** `matchesAnyType` reads an empty list as "everything"; an absent marker list here means "nothing". */
const listed = (patterns: string[] | undefined, event: EventEnvelope) => patterns !== undefined && patterns.length > 0 && matchesAnyType(patterns, event.type);

const flowMatches = (definition: ChoreographyDefinition, patterns: string[] | undefined, event: EventEnvelope) =>
  listed(patterns, event) && (definition.matches?.(event) ?? true);

/** Whether `event` says anything about a `definition` flow (so the tracker need not read the log for it). */
export function concernsChoreography(definition: ChoreographyDefinition, event: EventEnvelope): boolean {
  return (
    flowMatches(definition, definition.startsOn, event) ||
    flowMatches(definition, definition.completesOn, event) ||
    flowMatches(definition, definition.failsOn, event) ||
    definition.steps.some((step) => markOf(step, event) !== undefined)
  );
}

/** What the event says went wrong: its `error` ({type, message}) or `reason`, else its type and id. */
function errorOf(event: StoredEvent): SagaErrorInfo {
  const data = (typeof event.data === "object" && event.data !== null ? event.data : {}) as { error?: unknown; reason?: unknown };
  const error = data.error as { type?: unknown; message?: unknown } | undefined;
  if (typeof error?.type === "string" && typeof error.message === "string") return { type: error.type, message: error.message };
  if (typeof data.reason === "string") return { type: event.type, message: data.reason };
  return { type: event.type, message: `${event.type} ${event.id}` };
}

/** A step's record as its events so far make it. */
class StepView {
  readonly record: SagaStepRecord;
  private firstSeenAt: number | undefined;

  constructor(readonly definition: ChoreographyStepDefinition) {
    this.record = { name: definition.name, status: "pending", attempts: 0, startedAt: null, endedAt: null, events: [], history: [] };
  }

  /** Position of the step's first event: the order compensations are listed in. */
  get firstPosition(): number {
    return this.firstSeenAt ?? Number.POSITIVE_INFINITY;
  }

  apply(mark: StepMark, event: StoredEvent, causeTime: string | undefined): void {
    const record = this.record;
    record.events.push({ id: event.id, type: event.type, position: event.position });
    if (this.firstSeenAt === undefined) {
      this.firstSeenAt = event.position;
      // The step began when what it reacts to happened, when that is in the flow's log.
      record.startedAt = causeTime ?? event.time;
      if (!this.definition.attemptsOn?.length && mark !== "complete" && mark !== "fail") this.openAttempt(record.startedAt);
    }
    switch (mark) {
      case "start":
        record.status = "running";
        return;
      case "attempt":
        this.closeAttempt(event.time);
        this.openAttempt(event.time);
        record.status = "running";
        record.endedAt = null;
        return;
      case "retry": {
        const error = errorOf(event);
        if (!this.closeAttempt(event.time, error)) record.history.push({ attempt: ++record.attempts, startedAt: event.time, endedAt: event.time, error });
        record.status = "running";
        record.error = error;
        return;
      }
      case "complete":
      case "fail": {
        const error = mark === "fail" ? errorOf(event) : undefined;
        if (!this.closeAttempt(event.time, error) && record.attempts === 0) {
          record.history.push({ attempt: ++record.attempts, startedAt: record.startedAt ?? event.time, endedAt: event.time, ...(error ? { error } : {}) });
        }
        record.status = mark === "fail" ? "failed" : "completed";
        record.endedAt = event.time;
        if (error) record.error = error;
        else delete record.error;
      }
    }
  }

  /** Skipped: the flow completed without it. */
  skip(): void {
    if (this.record.status === "pending") this.record.status = "skipped";
  }

  private openAttempt(at: string): void {
    this.record.attempts += 1;
    this.record.history.push({ attempt: this.record.attempts, startedAt: at, endedAt: null });
  }

  /** Ends the open attempt, if there is one. */
  private closeAttempt(at: string, error?: SagaErrorInfo): boolean {
    const open: SagaStepAttempt | undefined = this.record.history.at(-1);
    if (!open || open.endedAt !== null) return false;
    open.endedAt = at;
    if (error) open.error = error;
    return true;
  }
}

/** Attempts kept per step, as the orchestrator keeps them, and events (the newest: a long retry loop would bloat the view). */
const HISTORY_KEPT = 20;
const STEP_EVENTS_KEPT = 50;

/**
 * The flow's SagaRecord as `events` (one correlation's, any order: they are taken in log order)
 * show it, or undefined when none of them starts the flow. Pure: the same events give the same
 * record, except `updatedAt`, which is `now` (when the view was rebuilt).
 *
 * The first start event opens the flow and fixes its correlation; events before it or of another
 * correlation are not part of it. Status: a forward step that failed (or a flow `failsOn` event)
 * makes the flow `compensating` until every compensation of a step that happened completed
 * (`compensated`), or `failed` when a compensation failed itself; otherwise it is `completed` once
 * every forward step completed (or a flow `completesOn` event came), and `running` until then.
 */
export function reconstructChoreography(definition: ChoreographyDefinition, events: readonly StoredEvent[], now: string): SagaRecord | undefined {
  const ordered = [...events].sort((left, right) => left.position - right.position);
  const startIndex = ordered.findIndex((event) => flowMatches(definition, definition.startsOn, event));
  const start = ordered[startIndex];
  if (!start) return undefined;

  const views = definition.steps.map((step) => new StepView(step));
  const timeById = new Map<string, string>([[start.id, start.time]]);
  let seen = 1;
  let lastTime = start.time;
  let flowEnd: { status: "completed" } | { status: "failed"; error: SagaErrorInfo } | undefined;

  for (const event of ordered.slice(startIndex + 1)) {
    if (event.correlationid !== start.correlationid) continue;
    let counted = false;
    const causeTime = event.causationid === undefined ? undefined : timeById.get(event.causationid);
    for (const view of views) {
      const mark = markOf(view.definition, event);
      if (!mark) continue;
      view.apply(mark, event, causeTime);
      counted = true;
    }
    if (!flowEnd && flowMatches(definition, definition.failsOn, event)) {
      flowEnd = { status: "failed", error: errorOf(event) };
      counted = true;
    } else if (!flowEnd && flowMatches(definition, definition.completesOn, event)) {
      flowEnd = { status: "completed" };
      counted = true;
    }
    if (!counted) continue;
    seen += 1;
    lastTime = event.time;
    timeById.set(event.id, event.time);
  }

  const forward = views.filter((view) => isForward(view.definition));
  const compensations = views.filter((view) => !isForward(view.definition) && view.record.events.length > 0).sort((left, right) => left.firstPosition - right.firstPosition);
  // The failure that came first (UTC ISO times sort as text).
  const firstFailure = forward.filter((view) => view.record.status === "failed").sort((left, right) => (left.record.endedAt ?? "").localeCompare(right.record.endedAt ?? ""))[0];
  const error = firstFailure?.record.error ?? (flowEnd?.status === "failed" ? flowEnd.error : null);

  let status: SagaStatus;
  if (error) {
    const happened = new Set(forward.filter((view) => view.record.status === "completed" || view.record.status === "failed").map((view) => view.definition.name));
    const needed = views.filter((view) => view.definition.compensates !== undefined && happened.has(view.definition.compensates));
    if (compensations.some((view) => view.record.status === "failed")) status = "failed";
    else status = needed.every((view) => view.record.status === "completed") ? "compensated" : "compensating";
  } else if (flowEnd?.status === "completed" || forward.every((view) => view.record.status === "completed")) {
    status = "completed";
    for (const view of forward) view.skip();
  } else {
    status = "running";
  }

  const cursor = forward.findIndex((view) => view.record.status !== "completed" && view.record.status !== "skipped");
  const record = (view: StepView): SagaStepRecord => ({ ...view.record, events: view.record.events.slice(-STEP_EVENTS_KEPT), history: view.record.history.slice(-HISTORY_KEPT) });
  return {
    id: choreographySagaId(definition.type, start.correlationid),
    type: definition.type,
    kind: "choreographed",
    status,
    subject: definition.subject ? definition.subject(start) : (start.subject ?? null),
    correlationid: start.correlationid,
    traceparent: start.traceparent,
    parentId: null,
    input: start.data,
    data: null,
    steps: forward.map(record),
    compensations: compensations.map(record),
    error,
    cursor: cursor === -1 ? forward.length : cursor,
    wakeAt: null,
    awaiting: [],
    signals: {},
    cancelRequested: false,
    startedAt: start.time,
    updatedAt: now,
    endedAt: status === "completed" || status === "compensated" ? lastTime : null,
    revision: seen,
    leaseOwner: null,
    leaseUntil: null,
  };
}

/**
 * The markers of a step that is one task of `taskType` (TaskQueue's events): queued, each attempt
 * started, failed with a retry to come, succeeded, dead. A task that could not be queued at all
 * (`task.dead` with reason `not_queued`) is no failure of the step: its submitter is told to submit
 * it again, which the step then shows.
 */
export function taskStepMarkers(taskType: string): Pick<ChoreographyStepDefinition, "startsOn" | "attemptsOn" | "retriesOn" | "completesOn" | "failsOn" | "matches"> {
  return {
    startsOn: [TASK_EVENT_TYPES.queued],
    attemptsOn: [TASK_EVENT_TYPES.started],
    retriesOn: [TASK_EVENT_TYPES.failed],
    completesOn: [TASK_EVENT_TYPES.succeeded],
    failsOn: [TASK_EVENT_TYPES.dead],
    matches(event) {
      const data = event.data as { taskType?: unknown; reason?: unknown } | null;
      return data?.taskType === taskType && !(event.type === TASK_EVENT_TYPES.dead && data.reason === "not_queued");
    },
  };
}

/** Structurally a `SubscriptionDefinition` (server/runtime/subscriptions.ts) and a domain reaction. */
export interface ReactionSubscription {
  /** Also the consumer group's name. */
  name: string;
  description: string;
  types: string[];
  concurrency?: number;
  handle(event: EventEnvelope, context: { attempt: number }): Promise<void>;
}

/** Events one correlation may have that the tracker reads to rebuild a flow; a longer conversation is rebuilt from its first this many. */
const TRACKED_EVENTS_MAX = 10_000;
const TRACKER_PAGE = 1_000;

/** Every event of `correlationid` of `types`, in log order (bounded). */
async function correlationEvents(events: Pick<EventStore, "readAll">, correlationid: string, types: string[]): Promise<StoredEvent[]> {
  const found: StoredEvent[] = [];
  let after = 0;
  while (found.length < TRACKED_EVENTS_MAX) {
    const limit = Math.min(TRACKER_PAGE, TRACKED_EVENTS_MAX - found.length);
    const page = await events.readAll({ after, correlationid, types, limit });
    found.push(...page.events);
    if (page.events.length < limit) break;
    after = page.lastPosition;
  }
  return found;
}

/**
 * The subscription that keeps the choreographed flows' views: on every event that marks one, it
 * rebuilds the flow from the log (all of the correlation's events of the flow's types) and stores
 * it. Rebuilding from the log makes it idempotent and indifferent to delivery order; a view is
 * only replaced by one built from more events, so a slower delivery does not put back an older view.
 */
export function choreographyTracker(
  definitions: readonly ChoreographyDefinition[],
  deps: { store: Pick<SagaStore, "get" | "put">; events: Pick<EventStore, "readAll">; clock?: Clock },
): ReactionSubscription {
  const clock = deps.clock ?? systemClock;
  const typesOf = new Map(definitions.map((definition) => [definition, choreographyEventTypes(definition)]));
  return {
    name: "saga-choreographies",
    description: `Choreographed sagas: rebuilds ${definitions.map((definition) => definition.type).join(", ") || "no flow"} from the log after every event that marks a step, for the saga views.`,
    types: [...new Set([...typesOf.values()].flat())],
    // One at a time per process: two rebuilds of one flow racing could store the older last.
    concurrency: 1,
    async handle(event) {
      for (const [definition, types] of typesOf) {
        if (!concernsChoreography(definition, event)) continue;
        const log = await correlationEvents(deps.events, event.correlationid, types);
        const view = reconstructChoreography(definition, log, new Date(clock.now()).toISOString());
        if (!view) continue;
        const stored = await deps.store.get(view.id);
        if (stored && stored.revision >= view.revision) continue;
        await deps.store.put(view);
      }
    },
  };
}

/**
 * A rejection a retry would meet again (invalid input, forbidden, not found, a broken business
 * rule) as a NonRetryableError, so the delivery is dead-lettered at once with the rule named;
 * anything else (a version conflict, an outage) unchanged, for the subscription's retries.
 */
export function rejectionForGood(error: unknown, what: string): unknown {
  if (isEngineError(error) && (error.code === "validation" || error.code === "forbidden" || error.code === "not_found")) {
    const rule = "rule" in error ? ` by rule ${String(error.rule)}` : "";
    return new NonRetryableError(`${what} was rejected${rule}: ${error.message}`, { cause: error });
  }
  return error;
}

/** `value` parsed, or a dead letter: data that does not fit now will not fit on a retry either. */
export function parsedOrDeadLetter<TSchema extends z.ZodType>(value: unknown, schema: TSchema, what: string): z.output<TSchema> {
  const result = schema.safeParse(value);
  if (!result.success) throw new NonRetryableError(`${what} does not carry what this reaction needs: ${result.error.message}`);
  return result.data;
}

/** The event's data as `schema` reads it, or a dead letter. */
export const eventDataOf = <TSchema extends z.ZodType>(event: EventEnvelope, schema: TSchema): z.output<TSchema> =>
  parsedOrDeadLetter(event.data, schema, `${event.type} ${event.id} (version ${event.schemaversion})`);

/** A draft a reaction emits; `key` names it among the handler's emits (default: its order), for its id. */
export type ReactionDraft = EventDraft & { key?: string };

export interface ReactionContext {
  attempt: number;
  /** Publishes events caused by the event. A draft without an id gets one derived from the reaction, the event and its key, so a redelivery stores it once. */
  emit(drafts: ReactionDraft[]): Promise<void>;
  /** Runs a command caused by the event, idempotent by the event (and `key` when the handler runs the same command more than once). */
  command(name: string, input: unknown, options?: { key?: string }): Promise<CommandResult>;
  /** Submits a task in the event's conversation; idempotent by the event unless the request names its own key. */
  submitTask(request: Omit<SubmitTaskRequest, "correlationid" | "traceparent">): Promise<unknown>;
}

export interface ReactionDefinition {
  name: string;
  description: string;
  /** Event type patterns the reaction is delivered. */
  on: string[];
  handle(event: EventEnvelope, context: ReactionContext): Promise<void>;
}

export interface ReactionDeps {
  publish(drafts: EventDraft[]): Promise<unknown>;
  commands: CommandExecutor;
  /** Who the reaction's commands run as (a system principal). */
  principal: Principal;
  /** The task queue, for reactions that submit tasks. */
  tasks?: { submit(request: SubmitTaskRequest): Promise<unknown> };
}

/** Namespace of emitted event ids: uuidv5(`<reaction>:<event id>:<key>`). */
const REACTION_EMIT_NAMESPACE = "b0a3f4a6-2f0e-4d36-9b6b-1f9e8c7d5a21";

/**
 * A choreography participant. Everything the handler causes carries the event's correlationid and
 * traceparent with causationid = the event's id, and is idempotent by the event: emitted events get
 * ids derived from it, commands an idempotency key `reaction:<name>:<event id>:<command>[:<key>]`,
 * tasks one of the same form unless the request has its own. Rejections a retry would meet again
 * are dead-lettered at once (see {@link rejectionForGood}).
 */
export function reaction(definition: ReactionDefinition, deps: ReactionDeps): ReactionSubscription {
  const keyOf = (event: EventEnvelope, ...parts: string[]) => ["reaction", definition.name, event.id, ...parts].join(":");
  return {
    name: definition.name,
    description: definition.description,
    types: definition.on,
    async handle(event, { attempt }) {
      let emitted = 0;
      const context: ReactionContext = {
        attempt,
        async emit(drafts) {
          await deps.publish(
            drafts.map(({ key, ...draft }) => {
              const index = emitted++;
              return causedBy(event, { ...draft, id: draft.id ?? uuidv5(`${definition.name}:${event.id}:${key ?? `#${index}`}`, REACTION_EMIT_NAMESPACE) });
            }),
          );
        },
        async command(name, input, options = {}) {
          try {
            return await deps.commands.execute(name, input, {
              principal: deps.principal,
              idempotencyKey: keyOf(event, name, ...(options.key === undefined ? [] : [options.key])),
              correlationid: event.correlationid,
              causationid: event.id,
              traceparent: event.traceparent,
            });
          } catch (error) {
            throw rejectionForGood(error, `${name} for ${event.type} ${event.id}`);
          }
        },
        async submitTask(request) {
          if (!deps.tasks) throw new Error(`reaction ${definition.name} submits tasks but was given no task queue`);
          try {
            return await deps.tasks.submit({
              ...request,
              idempotencyKey: request.idempotencyKey ?? keyOf(event, request.type),
              correlationid: event.correlationid,
              traceparent: event.traceparent,
            });
          } catch (error) {
            throw rejectionForGood(error, `task ${request.type} for ${event.type} ${event.id}`);
          }
        },
      };
      await definition.handle(event, context);
    },
  };
}
