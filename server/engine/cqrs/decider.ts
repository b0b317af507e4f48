/**
 * An aggregate as a decider (Jérémie Chassaing's pattern, as in Emmett): three pure functions and
 * no I/O. The command bus loads the stream, folds it with `evolve` from `initialState()`, asks
 * `decide` for new events, and appends them with the loaded version as the expected version.
 *
 * `decide` rejects a command by throwing a RuleViolationError (core/errors) naming the rule.
 * Everything `decide` needs beyond the state (the current time, new ids, the acting person,
 * another aggregate's state) is put into the command before it is called, so a decision is a
 * function of its arguments and the specifications in `specification.ts` can test it exactly.
 */

/** An event as deciders see it: the type and its (latest-version) data. */
export interface DecidedEvent<TType extends string = string, TData = unknown> {
  type: TType;
  data: TData;
}

export interface Decider<TCommand, TState, TEvent extends DecidedEvent> {
  /** The aggregate's name (`exam`, `answer_sheet`); snapshots are stored under it. */
  name: string;
  initialState(): TState;
  evolve(state: TState, event: TEvent): TState;
  /** The events the command causes, in order; [] when it changes nothing. Throws RuleViolationError. */
  decide(command: TCommand, state: TState): TEvent[];
  /**
   * Store a snapshot of the state every `every` events, so long streams load in one read.
   * `schemaVersion` must be raised whenever `evolve` or the state's shape changes: snapshots of
   * another schema version are ignored (and replaced), never trusted.
   * The state must survive a JSON round trip unchanged.
   */
  snapshot?: { every: number; schemaVersion: number };
}

/** Folds events into a state, the way the command bus and the specifications do. */
export function foldEvents<TState, TEvent extends DecidedEvent>(
  decider: Pick<Decider<unknown, TState, TEvent>, "evolve">,
  state: TState,
  events: Iterable<TEvent>,
): TState {
  let current = state;
  for (const event of events) current = decider.evolve(current, event);
  return current;
}
