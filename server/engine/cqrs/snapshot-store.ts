/**
 * Snapshots of aggregate state, so a long stream loads from the snapshot plus the events after
 * it. A snapshot is only used when its aggregate name and schema version match the decider's
 * (Decider.snapshot.schemaVersion); anything else is ignored and overwritten by a fresh one.
 */
export interface Snapshot<TState = unknown> {
  streamId: string;
  aggregate: string;
  schemaVersion: number;
  /** Stream version the state reflects. */
  version: number;
  state: TState;
}

export interface SnapshotStore {
  load(streamId: string, aggregate: string, schemaVersion: number): Promise<Snapshot | undefined>;
  /** Keeps the newest: a snapshot of a lower version than the stored one is ignored. */
  save(snapshot: Snapshot): Promise<void>;
}
