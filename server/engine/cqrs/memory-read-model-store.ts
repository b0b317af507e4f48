import { canonicalJson } from "../core/canonical-json";
import { systemClock, type Clock } from "../core/clock";
import { EngineError, NotFoundError } from "../core/errors";
import { decodeCursor, encodeCursor, isOrderValue, type OrderValue } from "./read-model-cursor";
import type {
  FindOptions,
  FindPage,
  LoadRows,
  ProjectionGeneration,
  ProjectionTarget,
  ReadModelReader,
  ReadModelRow,
  ReadModelSource,
  ReadModelStore,
  ReadModelTable,
  ReadModelValue,
  TableChanges,
} from "./read-model";

type Rows = Map<string, ReadModelRow>;

interface Generation {
  meta: ProjectionGeneration;
  /** Logical table name -> rows by key. */
  tables: Map<string, Rows>;
  /** Batches on one generation run one at a time, as the row lock serialises them in Postgres. */
  queue: Promise<unknown>;
}

/**
 * ReadModelStore and ReadModelSource in process memory, for unit tests and the bench. It passes
 * the same contract as the Postgres store. A batch is atomic because its changes are checked
 * first and then written with no `await` in between; rows go in and out as copies, as they would
 * through a database.
 */
export class InMemoryReadModelStore implements ReadModelStore, ReadModelSource {
  readonly #projections = new Map<string, Map<number, Generation>>();
  readonly #clock: Clock;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  async generations(projection: string): Promise<ProjectionGeneration[]> {
    return [...this.#generationsOf(projection).values()].sort((a, b) => a.meta.generation - b.meta.generation).map((g) => ({ ...g.meta }));
  }

  async createGeneration({ projection, generation }: ProjectionTarget): Promise<ProjectionGeneration> {
    const generations = this.#generationsOf(projection.name);
    if (generations.has(generation)) throw new EngineError("conflict", `Projection ${projection.name} already has generation ${generation}`);
    const meta: ProjectionGeneration = {
      projection: projection.name,
      generation,
      version: projection.version,
      position: 0,
      status: "building",
      createdAt: new Date(this.#clock.now()),
      activatedAt: null,
    };
    const tables = new Map(projection.tables.map(({ table }) => [table.name, new Map()]));
    generations.set(generation, { meta, tables, queue: Promise.resolve() });
    if (!this.#projections.has(projection.name)) this.#projections.set(projection.name, generations);
    return { ...meta };
  }

  async applyBatch(
    target: ProjectionTarget,
    positions: { expected: number; next: number },
    compute: (load: LoadRows) => Promise<TableChanges[]>,
  ): Promise<"applied" | "moved"> {
    const generation = this.#find(target);
    if (!generation) return "moved";
    const run = async (): Promise<"applied" | "moved"> => {
      if (this.#find(target) !== generation || generation.meta.position !== positions.expected) return "moved";
      const changes = await compute(async (table, keys) => {
        const rows = tableOf(generation, table.name);
        const loaded: Rows = new Map();
        for (const key of keys) {
          const row = rows.get(key);
          if (row) loaded.set(key, structuredClone(row));
        }
        return loaded;
      });
      // Dropped while computing (an abandoned rebuild): the batch has nowhere to go.
      if (this.#find(target) !== generation) return "moved";
      const writes = changes.map((change) => ({ change, rows: tableOf(generation, change.table), key: keyColumnOf(target, change.table) }));
      for (const { change, key } of writes) {
        for (const row of change.upserts) {
          if (typeof row[key] !== "string") throw new TypeError(`an upsert into ${change.table} has no string key ${key}`);
        }
      }
      for (const { change, rows, key } of writes) {
        for (const row of change.upserts) rows.set(row[key] as string, structuredClone(row));
        for (const deleted of change.deletes) rows.delete(deleted);
      }
      generation.meta.position = positions.next;
      return "applied";
    };
    const outcome = generation.queue.then(run);
    generation.queue = outcome.catch(() => undefined);
    return outcome;
  }

  async activate(target: ProjectionTarget): Promise<void> {
    const generation = this.#find(target);
    if (!generation) throw new NotFoundError(`Projection ${target.projection.name} has no generation ${target.generation}`);
    if (generation.meta.status === "active") return;
    if (generation.meta.status === "retired") {
      throw new EngineError("conflict", `Generation ${target.generation} of ${target.projection.name} is retired and cannot be activated again`);
    }
    const generations = this.#generationsOf(target.projection.name);
    for (const [number, other] of generations) {
      if (other.meta.status === "retired") generations.delete(number);
      else if (other.meta.status === "active") other.meta.status = "retired";
    }
    generation.meta.status = "active";
    generation.meta.activatedAt = new Date(this.#clock.now());
  }

  async dropGeneration(target: ProjectionTarget): Promise<void> {
    const generation = this.#find(target);
    if (!generation) return;
    if (generation.meta.status === "active") {
      throw new EngineError("conflict", `Generation ${target.generation} of ${target.projection.name} is active and cannot be dropped`);
    }
    this.#generationsOf(target.projection.name).delete(target.generation);
  }

  async open(projection: string): Promise<{ generation: number; position: number; reader: ReadModelReader } | undefined> {
    const active = [...this.#generationsOf(projection).values()].find((g) => g.meta.status === "active");
    if (!active) return undefined;
    return { generation: active.meta.generation, position: active.meta.position, reader: new InMemoryReadModelReader(active) };
  }

  #generationsOf(projection: string): Map<number, Generation> {
    return this.#projections.get(projection) ?? new Map();
  }

  #find(target: ProjectionTarget): Generation | undefined {
    return this.#projections.get(target.projection.name)?.get(target.generation);
  }
}

function tableOf(generation: Generation, table: string): Rows {
  const rows = generation.tables.get(table);
  if (!rows) throw new NotFoundError(`Projection ${generation.meta.projection} has no table ${table}`);
  return rows;
}

function keyColumnOf(target: ProjectionTarget, table: string): string {
  const found = target.projection.tables.find((projected) => projected.table.name === table);
  if (!found) throw new NotFoundError(`Projection ${target.projection.name} has no table ${table}`);
  return found.table.key;
}

class InMemoryReadModelReader implements ReadModelReader {
  constructor(private readonly generation: Generation) {}

  async get<TRow extends ReadModelRow>(table: ReadModelTable<TRow>, key: string): Promise<TRow | undefined> {
    const row = tableOf(this.generation, table.name).get(key);
    return row && (structuredClone(row) as TRow);
  }

  async find<TRow extends ReadModelRow>(table: ReadModelTable<TRow>, options: FindOptions<TRow>): Promise<FindPage<TRow>> {
    const after = options.after === undefined ? undefined : decodeCursor(options.after);
    const { column, direction } = options.orderBy;
    const sign = direction === "asc" ? 1 : -1;
    const placeOf = (row: ReadModelRow) => ({ value: orderValueOf(row[column] ?? null, column), key: row[table.key] as string });
    const compare = (a: { value: OrderValue; key: string }, b: { value: OrderValue; key: string }) =>
      sign * (compareOrderValues(a.value, b.value) || compareStrings(a.key, b.key));

    const matching = this.#matching(table, options.where)
      .map((row) => ({ row, place: placeOf(row) }))
      .filter(({ place }) => after === undefined || compare(place, after) > 0)
      .sort((a, b) => compare(a.place, b.place));
    const page = matching.slice(0, options.limit);
    const last = page.at(-1);
    return {
      items: page.map(({ row }) => structuredClone(row) as TRow),
      next: last && matching.length > page.length ? encodeCursor(last.place.value, last.place.key) : null,
    };
  }

  async count<TRow extends ReadModelRow>(table: ReadModelTable<TRow>, where?: FindOptions<TRow>["where"]): Promise<number> {
    return this.#matching(table, where).length;
  }

  #matching<TRow extends ReadModelRow>(table: ReadModelTable<TRow>, where: FindOptions<TRow>["where"]): ReadModelRow[] {
    const filters = Object.entries(where ?? {}).filter(([, value]) => value !== undefined) as Array<[string, ReadModelValue]>;
    return [...tableOf(this.generation, table.name).values()].filter((row) => filters.every(([column, value]) => sameValue(row[column] ?? null, value)));
  }
}

function orderValueOf(value: ReadModelValue, column: string): OrderValue {
  if (!isOrderValue(value)) throw new TypeError(`cannot order by ${column}: it holds JSON, not a scalar`);
  return value;
}

function sameValue(a: ReadModelValue, b: ReadModelValue): boolean {
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) return canonicalJson(a) === canonicalJson(b);
  return a === b;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Postgres's order: nulls after every value ascending (so first descending). */
function compareOrderValues(a: OrderValue, b: OrderValue): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return compareStrings(a, b);
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  throw new TypeError(`cannot compare ${typeof a} with ${typeof b}`);
}
