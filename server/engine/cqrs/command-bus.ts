import { createHash } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "../core/canonical-json";
import type { EventEnvelope, StoredEvent } from "../core/envelope";
import { EngineError, NotFoundError, ValidationError, VersionConflictError } from "../core/errors";
import { requiredFieldOptions, zodIssues } from "../core/field-issues";
import { newId } from "../core/ids";
import { hasScope, type Scope } from "../core/principal";
import { childTraceparent } from "../core/traceparent";
import type { AppendOutcome, EventStore, IdempotencyClaim } from "../store/event-store";
import { handToSink, toValidEnvelopes, type CommittedEventSink, type EventValidator } from "../store/publisher";
import type {
  CommandDefinition,
  CommandDescriptor,
  CommandExecutionContext,
  CommandExecutor,
  CommandResult,
  LoadedAggregate,
  PrepareContext,
} from "./command";
import { foldEvents, type DecidedEvent, type Decider } from "./decider";
import type { SnapshotStore } from "./snapshot-store";

export interface CommandBusOptions {
  store: Pick<EventStore, "append" | "readStream" | "lookupIdempotency">;
  /** The event-type registry: decided events are validated like published ones, stored ones upcast. */
  validator: EventValidator & { upcast<E extends EventEnvelope>(event: E): E };
  /** The in-process bus: committed events go there, as the EventPublisher's do. */
  sink: CommittedEventSink;
  snapshots: SnapshotStore;
  now?: () => number;
  /** A sync bus handler failed on a committed event (the command still succeeded). */
  onHandlerError?: (failure: { subscription: string; error: unknown }) => void;
  /** A snapshot could not be saved (the command still succeeded; the next one tries again). */
  onSnapshotError?: (error: unknown, snapshot: { streamId: string; aggregate: string; version: number }) => void;
}

// Definitions differ in every type parameter; the bus handles them alike.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommandDefinition = CommandDefinition<any, any, any, any>;

type AnyDecider = Decider<unknown, unknown, DecidedEvent>;

interface LoadedForCommand<TState> extends LoadedAggregate<TState> {
  /** Version of the snapshot the state was folded from, 0 when there was none. */
  snapshotVersion: number;
}

/** One execution's fixed parts, the same for every conflict retry. */
interface Execution {
  definition: AnyCommandDefinition;
  input: unknown;
  context: CommandExecutionContext;
  prepareContext: PrepareContext;
  claim: IdempotencyClaim | undefined;
  /** The command's span: every event is a child of it, so they share the caller's trace. */
  traceparent: string;
}

type Attempt = { status: "done"; result: CommandResult } | { status: "conflict"; error: VersionConflictError };

/**
 * Runs commands: validate -> scope -> (idempotency) -> prepare -> load -> authorize -> If-Match
 * -> decide -> append with the loaded version as the expected one -> in-process bus -> snapshot.
 * See command.ts for the contract; nothing is appended when any step before the append rejects.
 *
 * Appends go to the store directly, not through the GroupCommitAppender: every command append
 * carries an expected version (and often an idempotency claim), which the group commit never
 * merges because a merged append is all or nothing and one caller's conflict would fail the
 * others; it would only pass them through.
 */
export class CommandBus implements CommandExecutor {
  readonly #definitions = new Map<string, { definition: AnyCommandDefinition; descriptor: CommandDescriptor }>();
  readonly #store: CommandBusOptions["store"];
  readonly #validator: CommandBusOptions["validator"];
  readonly #sink: CommittedEventSink;
  readonly #snapshots: SnapshotStore;
  readonly #now: () => number;
  readonly #onHandlerError: NonNullable<CommandBusOptions["onHandlerError"]>;
  readonly #onSnapshotError: NonNullable<CommandBusOptions["onSnapshotError"]>;

  constructor(options: CommandBusOptions) {
    this.#store = options.store;
    this.#validator = options.validator;
    this.#sink = options.sink;
    this.#snapshots = options.snapshots;
    this.#now = options.now ?? Date.now;
    this.#onHandlerError =
      options.onHandlerError ?? (({ subscription, error }) => console.error(`command bus: sync handler ${subscription} failed`, error));
    this.#onSnapshotError =
      options.onSnapshotError ??
      ((error, { streamId, version }) => console.error(`command bus: snapshot of ${streamId} at version ${version} not saved`, error));
  }

  register<TInput, TCommand, TState, TEvent extends DecidedEvent>(definition: CommandDefinition<TInput, TCommand, TState, TEvent>): void {
    if (this.#definitions.has(definition.name)) throw new Error(`Command ${definition.name} is already registered`);
    const descriptor: CommandDescriptor = {
      name: definition.name,
      description: definition.description,
      scope: definition.scope ?? "commands:execute",
      // `input`: what clients send, before zod's defaults and transforms; a refinement or transform
      // that JSON Schema cannot say is left open here and still enforced by the zod schema.
      schema: z.toJSONSchema(definition.schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
    };
    this.#definitions.set(definition.name, { definition, descriptor });
  }

  get(name: string): AnyCommandDefinition | undefined {
    return this.#definitions.get(name)?.definition;
  }

  list(): CommandDescriptor[] {
    return [...this.#definitions.values()].map(({ descriptor }) => descriptor);
  }

  async execute(name: string, input: unknown, context: CommandExecutionContext): Promise<CommandResult> {
    const registered = this.#definitions.get(name);
    if (!registered) throw new NotFoundError(`Unknown command ${JSON.stringify(name)}`);
    const { definition, descriptor } = registered;

    const parsed = definition.schema.safeParse(input, requiredFieldOptions);
    if (!parsed.success) {
      const issues = zodIssues(parsed.error);
      throw new ValidationError(
        issues.length === 1 ? `Invalid input: ${issues[0]!.path}: ${issues[0]!.message}` : `${issues.length} invalid fields`,
        issues,
      );
    }

    for (const scope of new Set<Scope>(["commands:execute", descriptor.scope])) {
      if (!hasScope(context.principal, scope)) throw new EngineError("forbidden", `Command ${name} needs the ${scope} scope`);
    }

    const claim = context.idempotencyKey === undefined ? undefined : idempotencyClaim(name, input, context);
    if (claim) {
      // Answered before deciding: a retry gets the first result even though the state has moved on
      // since (deciding again could reject it, e.g. "already exists").
      const prior = await this.#store.lookupIdempotency(claim);
      if (prior) return answerFromClaim(name, prior);
    }

    const ids = new Map<string, string>();
    const execution: Execution = {
      definition,
      input: parsed.data,
      context,
      claim,
      traceparent: childTraceparent(context.traceparent),
      prepareContext: {
        principal: context.principal,
        now: new Date(this.#now()).toISOString(),
        newId(idName = "") {
          let id = ids.get(idName);
          if (id === undefined) {
            id = newId();
            ids.set(idName, id);
          }
          return id;
        },
        load: async (decider, streamId) => {
          const { state, version } = await this.#load(decider, streamId);
          return { state, version };
        },
      },
    };

    // An If-Match conflict is the caller's answer, never retried.
    const retries = context.expectedVersion === undefined ? (definition.retryOnConflict ?? 0) : 0;
    for (let attempt = 0; ; attempt += 1) {
      const outcome = await this.#attempt(execution);
      if (outcome.status === "done") return outcome.result;
      if (attempt >= retries) throw outcome.error;
    }
  }

  async #attempt({ definition, input, context, prepareContext, claim, traceparent }: Execution): Promise<Attempt> {
    const decider = definition.decider as AnyDecider;
    const command: unknown = await definition.prepare(input, prepareContext);
    const streamId = definition.streamId(command);
    const loaded = await this.#load(decider, streamId);

    const verdict = definition.authorize?.({ principal: context.principal, input, command, state: loaded.state, version: loaded.version });
    if (verdict && !verdict.allowed) throw new EngineError("forbidden", verdict.reason);
    if (context.expectedVersion !== undefined && context.expectedVersion !== loaded.version) {
      throw new VersionConflictError(streamId, context.expectedVersion, loaded.version);
    }

    const decided = decider.decide(command, loaded.state);
    // Nothing to append, so no idempotency claim either: a retry decides again, and a command
    // that changed nothing is safe to decide twice.
    if (decided.length === 0) {
      return { status: "done", result: { command: definition.name, streamId, version: loaded.version, events: [], replayed: false } };
    }

    const eventIds = decided.map(() => newId());
    const envelopes = toValidEnvelopes(
      decided.map((event, index) => ({
        id: eventIds[index],
        type: event.type,
        data: event.data,
        source: `urn:eventloom:commands:${definition.name}`,
        time: prepareContext.now,
        subject: streamId,
        partitionkey: streamId,
        // The first event starts the conversation when the caller is not already in one.
        correlationid: context.correlationid ?? eventIds[0],
        causationid: context.causationid,
        traceparent,
        priority: definition.priority,
      })),
      this.#validator,
      { issuePrefix: (index) => `events[${index}].` },
    );

    const outcome = await this.#store.append(
      [{ streamId, expectedVersion: loaded.version === 0 ? "no_stream" : loaded.version, events: envelopes }],
      { idempotency: claim },
    );
    switch (outcome.status) {
      case "conflict":
        return { status: "conflict", error: new VersionConflictError(streamId, context.expectedVersion ?? loaded.version, outcome.actual) };
      case "replayed":
      case "idempotency_mismatch":
        // A concurrent execution with the same key got there first.
        return { status: "done", result: answerFromClaim(definition.name, outcome) };
      case "appended": {
        handToSink(this.#sink, outcome.events, this.#onHandlerError);
        const version = outcome.events.at(-1)!.streamversion;
        await this.#saveSnapshot(decider, streamId, loaded, decided, version);
        return { status: "done", result: { command: definition.name, streamId, version, events: outcome.events.map(eventSummary), replayed: false } };
      }
    }
  }

  /** The state from the newest usable snapshot plus the events after it, upcast to their latest versions. */
  async #load<TState>(decider: Decider<unknown, TState, DecidedEvent>, streamId: string): Promise<LoadedForCommand<TState>> {
    const snapshot = decider.snapshot && (await this.#snapshots.load(streamId, decider.name, decider.snapshot.schemaVersion));
    const start = snapshot ? { state: snapshot.state as TState, version: snapshot.version } : { state: decider.initialState(), version: 0 };
    const stored = await this.#store.readStream(streamId, { fromVersion: start.version + 1 });
    const events = stored.map((event) => {
      const { type, data } = this.#validator.upcast(event);
      return { type, data };
    });
    return {
      state: foldEvents(decider, start.state, events),
      version: stored.at(-1)?.streamversion ?? start.version,
      snapshotVersion: start.version,
    };
  }

  /**
   * Saves a snapshot once the state is `every` events past the snapshot it was loaded from. That
   * is every N events on a healthy stream, and also replaces at once a snapshot that was missing,
   * failed to save, or was of another schema version (all of which load from further back).
   */
  async #saveSnapshot(
    decider: AnyDecider,
    streamId: string,
    loaded: LoadedForCommand<unknown>,
    decided: DecidedEvent[],
    version: number,
  ): Promise<void> {
    if (!decider.snapshot || version - loaded.snapshotVersion < decider.snapshot.every) return;
    const snapshot = {
      streamId,
      aggregate: decider.name,
      schemaVersion: decider.snapshot.schemaVersion,
      version,
      state: foldEvents(decider, loaded.state, decided),
    };
    try {
      await this.#snapshots.save(snapshot);
    } catch (error) {
      this.#onSnapshotError(error, { streamId, aggregate: decider.name, version });
    }
  }
}

/** Scoped by the caller, so two clients' keys never meet; the fingerprint is the command and its input. */
function idempotencyClaim(name: string, input: unknown, context: CommandExecutionContext): IdempotencyClaim {
  return {
    key: `commands:${context.principal.id}:${context.idempotencyKey}`,
    fingerprint: createHash("sha256").update(`${name}\n${canonicalJson(input)}`).digest("hex"),
  };
}

function answerFromClaim(name: string, prior: Extract<AppendOutcome, { status: "replayed" | "idempotency_mismatch" }>): CommandResult {
  if (prior.status === "idempotency_mismatch") {
    throw new EngineError("conflict", "This Idempotency-Key was already used with another command or input");
  }
  const last = prior.events.at(-1);
  // Commands only claim a key when they append, and then append at least one event.
  if (!last) throw new EngineError("internal", "The Idempotency-Key's first execution recorded no events");
  return { command: name, streamId: last.streamid, version: last.streamversion, events: prior.events.map(eventSummary), replayed: true };
}

function eventSummary(event: StoredEvent): CommandResult["events"][number] {
  return { id: event.id, type: event.type, position: event.position };
}
