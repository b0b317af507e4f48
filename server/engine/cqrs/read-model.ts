import type { StoredEvent } from "../core/envelope";

/**
 * Read models: tables a projection keeps up to date from the global log, and the ports through
 * which projections write them and queries read them. Postgres implements the ports with drizzle
 * (server/adapters/postgres/read-models); the in-memory store serves unit tests.
 *
 * A projection is a set of table projections, each a pure reducer over rows: for every event,
 * `keysOf` names the rows it touches and `evolve` computes each row's next value. The runner
 * applies a whole page of events in one transaction: it loads the touched rows once, folds the
 * page over them in log order, writes the changed rows back in bulk and moves the projection's
 * position, so the read model and its checkpoint never disagree (a crash mid-batch rolls both
 * back; nothing is missed or applied twice).
 *
 * Blue/green: every projection lives in numbered generations, each with its own physical tables.
 * Queries read the active generation; a rebuild fills a new generation from position 0 while the
 * active one keeps serving and advancing, and the new one becomes active once it has caught up.
 */

/** Values a read-model column holds. Times are Dates (timestamptz columns). */
export type ReadModelValue = string | number | boolean | null | Date | readonly unknown[] | { readonly [key: string]: unknown };
export type ReadModelRow = { [column: string]: ReadModelValue };

/** A logical read-model table: its name and its key column (a string). */
export interface ReadModelTable<TRow extends ReadModelRow> {
  name: string;
  key: KeyColumn<TRow>;
  /** Phantom: carries the row type for inference only. */
  readonly __row?: TRow;
}

type KeyColumn<TRow> = { [K in keyof TRow]: TRow[K] extends string ? K : never }[keyof TRow] & string;

export function defineTable<TRow extends ReadModelRow>(name: string, key: KeyColumn<TRow>): ReadModelTable<TRow> {
  return { name, key };
}

/** An event as projections see it: stored, and upcast to the latest version of its type. */
export type ProjectedEvent = StoredEvent;

export interface TableProjection<TRow extends ReadModelRow> {
  table: ReadModelTable<TRow>;
  /** Keys of the rows this event changes (usually one); [] when it does not concern the table. */
  keysOf(event: ProjectedEvent): readonly string[];
  /**
   * The row after the event: a new object (never mutate `row`), or undefined for no row
   * (deleted, or still absent). Must be pure: a rebuild replays it over the whole log.
   */
  evolve(row: TRow | undefined, event: ProjectedEvent, key: string): TRow | undefined;
}

export interface ProjectionDefinition {
  /** snake_case; physical tables are named after it per generation. */
  name: string;
  description: string;
  /**
   * Raise it whenever an `evolve` changes meaning: a projection whose active generation was built
   * by another version is rebuilt (blue/green) when the runner starts.
   */
  version: number;
  /** Type patterns the projection reads (`exam.*`); others are skipped without a read. */
  eventTypes: string[];
  // Rows of different tables differ; the runner treats them alike.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  tables: ReadonlyArray<TableProjection<any>>;
}

export function defineTableProjection<TRow extends ReadModelRow>(projection: TableProjection<TRow>): TableProjection<TRow> {
  return projection;
}

export type GenerationStatus = "building" | "active" | "retired";

export interface ProjectionGeneration {
  projection: string;
  generation: number;
  /** The projection version that built it. */
  version: number;
  /** Log position applied up to (inclusive). */
  position: number;
  status: GenerationStatus;
  createdAt: Date;
  /** When it became active. */
  activatedAt: Date | null;
}

/** The changes one batch makes to one table. */
export interface TableChanges {
  table: string;
  upserts: ReadModelRow[];
  deletes: string[];
}

export type LoadRows = (table: ReadModelTable<ReadModelRow>, keys: readonly string[]) => Promise<Map<string, ReadModelRow>>;

export interface ProjectionTarget {
  projection: ProjectionDefinition;
  generation: number;
}

/** The write side: projection runners use it. */
export interface ReadModelStore {
  /** All generations of a projection that still have tables, oldest first. */
  generations(projection: string): Promise<ProjectionGeneration[]>;
  /** Creates the generation's (empty) tables and its row, status `building`, position 0. */
  createGeneration(target: ProjectionTarget): Promise<ProjectionGeneration>;
  /**
   * One batch, atomically: locks the generation's row; if its position is not `expectedPosition`
   * (another runner moved it) nothing happens and the answer is "moved". Otherwise `compute`
   * loads the rows it needs through `load` (inside the transaction) and returns the changes,
   * which are written together with the new position.
   */
  applyBatch(
    target: ProjectionTarget,
    positions: { expected: number; next: number },
    compute: (load: LoadRows) => Promise<TableChanges[]>,
  ): Promise<"applied" | "moved">;
  /**
   * Makes `generation` the active one; the previously active becomes `retired` and keeps its
   * tables until the next activation (queries that looked it up just before still finish), when
   * it is dropped.
   */
  activate(target: ProjectionTarget): Promise<void>;
  /** Drops a generation's tables and row (an abandoned rebuild). Never the active one. */
  dropGeneration(target: ProjectionTarget): Promise<void>;
}

export interface FindOptions<TRow extends ReadModelRow> {
  /** Equality filters; undefined values are ignored. */
  where?: { [K in keyof TRow]?: TRow[K] | undefined };
  orderBy: { column: keyof TRow & string; direction: "asc" | "desc" };
  limit: number;
  /** The `next` cursor of the previous page. */
  after?: string;
}

export interface FindPage<TRow> {
  items: TRow[];
  next: string | null;
}

/** The read side, bound to one generation of one projection. Queries use it. */
export interface ReadModelReader {
  get<TRow extends ReadModelRow>(table: ReadModelTable<TRow>, key: string): Promise<TRow | undefined>;
  /** Keyset pagination: ordered by the column, then by key; a bad cursor is a ValidationError. */
  find<TRow extends ReadModelRow>(table: ReadModelTable<TRow>, options: FindOptions<TRow>): Promise<FindPage<TRow>>;
  count<TRow extends ReadModelRow>(table: ReadModelTable<TRow>, where?: FindOptions<TRow>["where"]): Promise<number>;
}

export interface ReadModelSource {
  /**
   * The projection's active generation and a reader bound to it; undefined while no generation
   * exists yet (the runner has not started once).
   */
  open(projection: string): Promise<{ generation: number; position: number; reader: ReadModelReader } | undefined>;
}
