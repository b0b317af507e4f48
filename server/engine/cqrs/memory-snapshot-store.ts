import type { Snapshot, SnapshotStore } from "./snapshot-store";

/**
 * Snapshots in a map, one per stream, for unit tests and running without a database. States are
 * kept as JSON text, as Postgres keeps them in jsonb: a state that does not survive the round
 * trip (a Map, a Date) shows up here already, not only in production.
 */
export class InMemorySnapshotStore implements SnapshotStore {
  readonly #byStream = new Map<string, Omit<Snapshot, "state"> & { stateJson: string }>();

  async load(streamId: string, aggregate: string, schemaVersion: number): Promise<Snapshot | undefined> {
    const stored = this.#byStream.get(streamId);
    if (!stored || stored.aggregate !== aggregate || stored.schemaVersion !== schemaVersion) return undefined;
    const { stateJson, ...snapshot } = stored;
    return { ...snapshot, state: JSON.parse(stateJson) as unknown };
  }

  async save(snapshot: Snapshot): Promise<void> {
    const stored = this.#byStream.get(snapshot.streamId);
    if (stored && !replaces(snapshot, stored)) return;
    const { state, ...placement } = snapshot;
    this.#byStream.set(snapshot.streamId, { ...placement, stateJson: JSON.stringify(state) });
  }
}

/**
 * The stored snapshot of a stream gives way to a newer one of the same aggregate and schema
 * version, and to any snapshot of another: one that is never loaded again is only dead weight.
 */
function replaces(incoming: Omit<Snapshot, "state">, stored: Omit<Snapshot, "state">): boolean {
  return stored.aggregate !== incoming.aggregate || stored.schemaVersion !== incoming.schemaVersion || stored.version <= incoming.version;
}
