import type { z } from "zod";
import type { Priority } from "../core/envelope";
import type { Principal, Scope } from "../core/principal";
import type { DecidedEvent, Decider } from "./decider";

/**
 * Commands: what a client asks the system to do. A command is named (`exam.create`), validated
 * by a zod schema, guarded by a scope and a policy, and decided by one aggregate's decider.
 *
 * The command bus runs: validate -> scope -> prepare -> load state -> authorize -> decide ->
 * append (expected version = the loaded one) -> publish to the in-process bus. Nothing is
 * appended when any step rejects the command.
 */

/** What a policy answers: allowed, or denied with a reason the caller may read (403 detail). */
export type PolicyVerdict = { allowed: true } | { allowed: false; reason: string };

export const allow: PolicyVerdict = { allowed: true };
export const deny = (reason: string): PolicyVerdict => ({ allowed: false, reason });

/** An aggregate's state as the command bus loaded it. */
export interface LoadedAggregate<TState> {
  state: TState;
  /** Stream version the state reflects, 0 for a stream with no events. */
  version: number;
}

/** What `prepare` may use to turn validated input into the decider's command. */
export interface PrepareContext {
  principal: Principal;
  /** RFC 3339 UTC, the command's time (one per execution, retries included). */
  now: string;
  /** A new UUIDv7; the same across conflict retries of one execution, per `name`. */
  newId(name?: string): string;
  /** Loads another aggregate (e.g. the exam a sheet is submitted to), snapshot included. */
  load<TState>(decider: Decider<unknown, TState, DecidedEvent>, streamId: string): Promise<LoadedAggregate<TState>>;
}

export interface AuthorizeArgs<TInput, TCommand, TState> {
  principal: Principal;
  input: TInput;
  command: TCommand;
  /** The target aggregate's current state (initial state for a new stream). */
  state: TState;
  version: number;
}

export interface CommandDefinition<TInput = unknown, TCommand = unknown, TState = unknown, TEvent extends DecidedEvent = DecidedEvent> {
  /** Dotted, `aggregate.verb` (`exam.create`, `sheet.submit`). The REST route is /api/v1/commands/{name}. */
  name: string;
  description: string;
  /** Validates and parses the input; every failing field is reported (422). */
  schema: z.ZodType<TInput>;
  /** The scope a caller needs besides `commands:execute`' own check. Default `commands:execute`. */
  scope?: Scope;
  decider: Decider<TCommand, TState, TEvent>;
  /** The stream the command acts on. May use ids `prepare` generated, so it sees the command. */
  streamId(command: TCommand): string;
  /** Builds the decider's command from the input: time, ids, actor, other aggregates' state. */
  prepare(input: TInput, context: PrepareContext): TCommand | Promise<TCommand>;
  /** The command's own policy, run after the state is loaded (403 with the reason). Default: allow. */
  authorize?(args: AuthorizeArgs<TInput, TCommand, TState>): PolicyVerdict;
  /**
   * How many times to retry on an optimistic-concurrency conflict (reload, re-decide, append),
   * when the command is safe to re-decide against newer state. Default 0: a conflict is a 409.
   * Never used when the caller sent an expected version (`If-Match`): that conflict is the answer.
   */
  retryOnConflict?: number;
  /** Priority of the events it appends. Default normal. */
  priority?: Priority;
}

/** Where a command execution comes from, for the events' metadata and for idempotency. */
export interface CommandExecutionContext {
  principal: Principal;
  /** The client's `Idempotency-Key`: the same key and input returns the first result. */
  idempotencyKey?: string;
  /** The client's `If-Match`: the stream version it based the command on. */
  expectedVersion?: number;
  correlationid?: string;
  causationid?: string;
  traceparent?: string;
}

export interface CommandResult {
  command: string;
  streamId: string;
  /** The stream's version after the command (unchanged when it decided no events). */
  version: number;
  events: Array<{ id: string; type: string; position: number }>;
  /** True when the idempotency key was seen before: this is the first execution's result. */
  replayed: boolean;
}

/** Catalog entry: what `GET /api/v1/commands` lists. */
export interface CommandDescriptor {
  name: string;
  description: string;
  scope: Scope;
  /** JSON Schema (2020-12) of the input, generated from the zod schema. */
  schema: Record<string, unknown>;
}

export interface CommandExecutor {
  /**
   * Throws NotFoundError (unknown command), ValidationError (input, every failing field),
   * EngineError forbidden (scope or policy), RuleViolationError (business rule),
   * VersionConflictError (If-Match, or retries used up), EngineError conflict (idempotency key
   * reused with another input).
   */
  execute(name: string, input: unknown, context: CommandExecutionContext): Promise<CommandResult>;
}

/** Lets the domain write `defineCommand({...})` and keep every type parameter inferred. */
export function defineCommand<TInput, TCommand, TState, TEvent extends DecidedEvent>(
  definition: CommandDefinition<TInput, TCommand, TState, TEvent>,
): CommandDefinition<TInput, TCommand, TState, TEvent> {
  return definition;
}
