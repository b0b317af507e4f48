import { and, eq, getTableColumns, getTableName, isNull, sql, type SQL } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import { EngineError, NotFoundError, ValidationError } from "@/server/engine/core/errors";
import { decodeCursor, encodeCursor, type FindCursor } from "@/server/engine/cqrs/read-model-cursor";
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
} from "@/server/engine/cqrs/read-model";
import type { Database, EventloomDb } from "../database";
import { projectionGenerations } from "../schema";

/**
 * The drizzle table of one logical read-model table under any physical name: `pgTable(name,
 * columns)` with the same columns whatever the name. Row objects use the column keys of
 * `columns` (the drizzle property names), as drizzle's own selects do.
 */
export type ReadModelTableFactory = (physicalName: string) => PgTable;

/** Logical table name -> its factory. A logical table belongs to one projection. */
export type ReadModelTableFactories = Readonly<Record<string, ReadModelTableFactory>>;

/** Lower-case identifiers only: physical names are built from them and must need no quoting rules. */
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
/** Postgres silently truncates longer identifiers, which could make two generations share a table. */
const MAX_IDENTIFIER_LENGTH = 63;

/** The migration-created table every generation's table copies (`CREATE TABLE ... (LIKE ...)`). */
export function templateTableName(logicalName: string): string {
  return `rm_${logicalName}`;
}

export function generationTableName(logicalName: string, generation: number): string {
  if (!IDENTIFIER.test(logicalName)) throw new Error(`read-model table name ${JSON.stringify(logicalName)} must be snake_case (a-z, 0-9, _)`);
  if (!Number.isSafeInteger(generation) || generation < 1) throw new RangeError(`a generation is a positive integer, got ${generation}`);
  const name = `${templateTableName(logicalName)}__g${generation}`;
  if (name.length > MAX_IDENTIFIER_LENGTH) throw new Error(`read-model table name ${name} is longer than Postgres's ${MAX_IDENTIFIER_LENGTH} characters`);
  return name;
}

/** A physical table with what every statement on it needs. */
interface PhysicalTable {
  readonly name: string;
  readonly table: PgTable;
  /** Row property -> column, in the factory's order. */
  readonly columns: ReadonlyMap<string, PgColumn>;
  readonly selection: SQL;
}

/** Raw rows as the driver returns them: column name -> driver value. */
type DriverRow = Record<string, unknown>;

/** The drizzle API of a transaction; `execute` answers rows in a driver-specific wrapper. */
type Transaction = Parameters<Parameters<EventloomDb["transaction"]>[0]>[0];

async function transactionRows<T>(tx: Transaction, query: SQL): Promise<T[]> {
  // postgres.js answers the row list itself, PGlite an object holding `rows`.
  const result: unknown = await tx.execute(query);
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/**
 * ReadModelStore and ReadModelSource on Postgres (a server or PGlite, the same code). Each
 * generation of a projection has its own physical tables, `rm_<table>__g<generation>`, copies of
 * the migration-created templates `rm_<table>`; `eventloom_projection_generations` holds each
 * generation's status and position (its checkpoint).
 *
 * A batch is one transaction: the generation's position moves first, from the expected one only,
 * which locks its row (two runners of one projection serialise there, and the later one sees the
 * position moved); the rows are then loaded, computed and written back with one statement per
 * table and kind whatever the row count, so a crash at any point leaves rows and position as they
 * were.
 */
export class PostgresReadModelStore implements ReadModelStore, ReadModelSource {
  readonly #physical = new Map<string, PhysicalTable>();

  constructor(
    private readonly database: Database,
    private readonly tables: ReadModelTableFactories,
  ) {}

  async generations(projection: string): Promise<ProjectionGeneration[]> {
    const rows = await this.database.db
      .select()
      .from(projectionGenerations)
      .where(eq(projectionGenerations.projection, projection))
      .orderBy(projectionGenerations.generation);
    return rows.map(toGeneration);
  }

  async createGeneration(target: ProjectionTarget): Promise<ProjectionGeneration> {
    const { projection, generation } = target;
    const tables = projection.tables.map(({ table }) => ({ template: templateTableName(table.name), physical: this.#table(table.name, generation).name }));
    return this.database.db.transaction(async (tx) => {
      const [created] = await tx
        .insert(projectionGenerations)
        .values({ projection: projection.name, generation, version: projection.version, status: "building", tables: tables.map(({ physical }) => physical) })
        .onConflictDoNothing()
        .returning();
      if (!created) throw new EngineError("conflict", `Projection ${projection.name} already has generation ${generation}`);
      // No IF NOT EXISTS: DDL commits with the row, so a table without its row cannot be left
      // behind, and a new generation must never inherit rows.
      for (const { template, physical } of tables) {
        // LIKE copies columns, defaults, constraints and indexes but not storage parameters: a
        // template's fillfactor (room for HOT updates, which projections make all the time) is
        // carried over by hand.
        const [storage] = await transactionRows<{ options: string | null }>(
          tx,
          sql`select array_to_string(reloptions, ', ') as "options" from pg_class where oid = ${template}::regclass`,
        );
        const options = storage?.options ? sql` with (${sql.raw(storage.options)})` : sql``;
        await tx.execute(sql`create table ${sql.identifier(physical)} (like ${sql.identifier(template)} including all)${options}`);
      }
      return toGeneration(created);
    });
  }

  async applyBatch(
    target: ProjectionTarget,
    positions: { expected: number; next: number },
    compute: (load: LoadRows) => Promise<TableChanges[]>,
  ): Promise<"applied" | "moved"> {
    const { projection, generation } = target;
    const tableOf = (logicalName: string): { physical: PhysicalTable; key: PgColumn } => {
      const projected = projection.tables.find(({ table }) => table.name === logicalName);
      if (!projected) throw new NotFoundError(`Projection ${projection.name} has no table ${logicalName}`);
      const physical = this.#table(logicalName, generation);
      return { physical, key: columnOf(physical, projected.table.key) };
    };
    return this.database.db.transaction(async (tx) => {
      // The position moves first: the update locks the generation's row for the rest of the batch
      // (a concurrent batch from the same position waits, then finds it moved and updates nothing),
      // and a batch that fails later rolls it back with the rows. One statement, not a lock and an
      // update.
      const moved = await tx
        .update(projectionGenerations)
        .set({ position: positions.next })
        .where(
          and(
            eq(projectionGenerations.projection, projection.name),
            eq(projectionGenerations.generation, generation),
            eq(projectionGenerations.position, positions.expected),
          ),
        )
        .returning({ generation: projectionGenerations.generation });
      if (moved.length === 0) return "moved";

      const changes = await compute(async (table, keys) => {
        const { physical, key } = tableOf(table.name);
        const loaded = new Map<string, ReadModelRow>();
        if (keys.length === 0) return loaded;
        const rows = await transactionRows<DriverRow>(tx, sql`select ${physical.selection} from ${physical.table} where ${key} = ${anyOf(keys, key)}`);
        for (const raw of rows) {
          const row = fromDriver(physical, raw);
          loaded.set(row[table.key] as string, row);
        }
        return loaded;
      });

      for (const change of changes) {
        const { physical, key } = tableOf(change.table);
        if (change.upserts.length > 0) await tx.execute(upsertStatement(physical, key, change.upserts));
        if (change.deletes.length > 0) await tx.execute(sql`delete from ${physical.table} where ${key} = ${anyOf(change.deletes, key)}`);
      }
      return "applied";
    });
  }

  async activate(target: ProjectionTarget): Promise<void> {
    const { projection, generation } = target;
    const ofProjection = eq(projectionGenerations.projection, projection.name);
    await this.database.db.transaction(async (tx) => {
      // Every row of the projection, so two activations (and a batch on any of them) take turns.
      const rows = await tx.select().from(projectionGenerations).where(ofProjection).orderBy(projectionGenerations.generation).for("update");
      const activated = rows.find((row) => row.generation === generation);
      if (!activated) throw new NotFoundError(`Projection ${projection.name} has no generation ${generation}`);
      if (activated.status === "active") return;
      if (activated.status === "retired") {
        throw new EngineError("conflict", `Generation ${generation} of ${projection.name} is retired and cannot be activated again`);
      }
      // Only the generation retired by the previous switch-over goes; the one retired now stays
      // for queries that resolved it a moment ago.
      for (const retired of rows.filter((row) => row.status === "retired")) await dropTablesAndRow(tx, retired);
      await tx.update(projectionGenerations).set({ status: "retired" }).where(and(ofProjection, eq(projectionGenerations.status, "active")));
      await tx
        .update(projectionGenerations)
        .set({ status: "active", activatedAt: sql`now()` })
        .where(and(ofProjection, eq(projectionGenerations.generation, generation)));
    });
  }

  async dropGeneration(target: ProjectionTarget): Promise<void> {
    const { projection, generation } = target;
    await this.database.db.transaction(async (tx) => {
      const [row] = await tx
        .select()
        .from(projectionGenerations)
        .where(and(eq(projectionGenerations.projection, projection.name), eq(projectionGenerations.generation, generation)))
        .for("update");
      if (!row) return;
      if (row.status === "active") throw new EngineError("conflict", `Generation ${generation} of ${projection.name} is active and cannot be dropped`);
      await dropTablesAndRow(tx, row);
    });
  }

  async open(projection: string): Promise<{ generation: number; position: number; reader: ReadModelReader } | undefined> {
    const [active] = await this.database.rows<{ generation: number; position: number | string; tables: string[] }>(
      sql`select ${projectionGenerations.generation} as "generation", ${projectionGenerations.position} as "position", ${projectionGenerations.tables} as "tables"
          from ${projectionGenerations}
          where ${and(eq(projectionGenerations.projection, projection), eq(projectionGenerations.status, "active"))}`,
    );
    if (!active) return undefined;
    const { generation, tables } = active;
    const tableOf = (logicalName: string): PhysicalTable => {
      const name = generationTableName(logicalName, generation);
      if (!tables.includes(name)) throw new NotFoundError(`Projection ${projection} has no table ${logicalName}`);
      return this.#table(logicalName, generation);
    };
    return { generation, position: Number(active.position), reader: new PostgresReadModelReader(this.database, tableOf) };
  }

  /** The factory's table for a generation, built once per physical name. */
  #table(logicalName: string, generation: number): PhysicalTable {
    const name = generationTableName(logicalName, generation);
    const cached = this.#physical.get(name);
    if (cached) return cached;
    const factory = this.tables[logicalName];
    if (!factory) throw new Error(`read-model table ${logicalName} has no drizzle table factory: add one to the tables given to PostgresReadModelStore`);
    const table = factory(name);
    const built = getTableName(table);
    if (built !== name) throw new Error(`the drizzle table factory of ${logicalName} must name its table as told: asked for ${name}, got ${built}`);
    const columns = new Map(Object.entries(getTableColumns(table)));
    const physical: PhysicalTable = {
      name,
      table,
      columns,
      selection: sql.join(
        [...columns.values()].map((column) => sql`${column}`),
        sql`, `,
      ),
    };
    this.#physical.set(name, physical);
    return physical;
  }
}

class PostgresReadModelReader implements ReadModelReader {
  constructor(
    private readonly database: Database,
    private readonly tableOf: (logicalName: string) => PhysicalTable,
  ) {}

  async get<TRow extends ReadModelRow>(table: ReadModelTable<TRow>, key: string): Promise<TRow | undefined> {
    const physical = this.tableOf(table.name);
    const [raw] = await this.database.rows<DriverRow>(
      sql`select ${physical.selection} from ${physical.table} where ${eq(columnOf(physical, table.key), key)}`,
    );
    return raw && (fromDriver(physical, raw) as TRow);
  }

  async find<TRow extends ReadModelRow>(table: ReadModelTable<TRow>, options: FindOptions<TRow>): Promise<FindPage<TRow>> {
    if (!Number.isSafeInteger(options.limit) || options.limit < 1) throw new RangeError(`find needs a positive integer limit, got ${options.limit}`);
    const physical = this.tableOf(table.name);
    const key = columnOf(physical, table.key);
    const { column: orderProperty, direction } = options.orderBy;
    const order = columnOf(physical, orderProperty);
    const after = options.after === undefined ? undefined : afterCursor(decodeCursor(options.after), order, key, direction);
    const sequence = direction === "asc" ? sql`${order} asc, ${key} asc` : sql`${order} desc, ${key} desc`;
    const rows = await this.database.rows<DriverRow>(
      sql`select ${physical.selection} from ${physical.table}
          where ${and(whereOf(physical, options.where), after) ?? sql`true`}
          order by ${sequence} limit ${options.limit + 1}`,
    );
    const items = rows.slice(0, options.limit).map((raw) => fromDriver(physical, raw) as TRow);
    const last = items.at(-1);
    return {
      items,
      next: last && rows.length > options.limit ? encodeCursor(last[orderProperty] ?? null, last[table.key] as string) : null,
    };
  }

  async count<TRow extends ReadModelRow>(table: ReadModelTable<TRow>, where?: FindOptions<TRow>["where"]): Promise<number> {
    const physical = this.tableOf(table.name);
    const [row] = await this.database.rows<{ count: number | string }>(
      sql`select count(*) as "count" from ${physical.table} where ${whereOf(physical, where) ?? sql`true`}`,
    );
    return Number(row?.count ?? 0);
  }
}

function columnOf(physical: PhysicalTable, property: string): PgColumn {
  const column = physical.columns.get(property);
  if (!column) throw new Error(`read-model table ${physical.name} has no column for the row property ${property}`);
  return column;
}

/** `= any(...)` of a list as one jsonb parameter: the same statement text whatever the list's length. */
function anyOf(values: readonly string[], column: PgColumn): SQL {
  return sql`any(array(select jsonb_array_elements_text(${JSON.stringify(values)}::text::jsonb)::${sql.raw(column.getSQLType())}))`;
}

/**
 * Every row in one statement with one parameter: the rows as a jsonb array of objects, expanded by
 * jsonb_to_recordset into the columns' own types. No parameter limit to chunk around, and one
 * statement text per table, however many rows. The objects name columns by position (`c0`, `c1`,
 * ...) and leave nulls out (a missing field reads as null): a catch-up writes hundreds of rows per
 * batch, and the payload's size drives what building, sending and parsing it costs (an exam_sheets
 * batch: 91 kB instead of 166 kB with column names and nulls; bench/cqrs.ts).
 */
function upsertStatement(physical: PhysicalTable, key: PgColumn, rows: readonly ReadModelRow[]): SQL {
  const columns = [...physical.columns];
  const records = rows.map((row) => {
    const record: Record<string, unknown> = {};
    columns.forEach(([property], index) => {
      const value = row[property];
      if (value !== null && value !== undefined) record[`c${index}`] = value;
    });
    return record;
  });
  const names = sql.join(
    columns.map(([, column]) => sql.identifier(column.name)),
    sql`, `,
  );
  const fields = sql.join(
    columns.map((_, index) => sql.raw(`c${index}`)),
    sql`, `,
  );
  const definitions = sql.join(
    columns.map(([, column], index) => sql.raw(`c${index} ${column.getSQLType()}`)),
    sql`, `,
  );
  const updated = columns.filter(([, column]) => column !== key).map(([, column]) => sql`${sql.identifier(column.name)} = excluded.${sql.identifier(column.name)}`);
  const onConflict = updated.length === 0 ? sql`do nothing` : sql`do update set ${sql.join(updated, sql`, `)}`;
  return sql`insert into ${physical.table} (${names})
             select ${fields} from jsonb_to_recordset(${JSON.stringify(records)}::text::jsonb) as record(${definitions})
             on conflict (${sql.identifier(key.name)}) ${onConflict}`;
}

function fromDriver(physical: PhysicalTable, raw: DriverRow): ReadModelRow {
  const row: ReadModelRow = {};
  for (const [property, column] of physical.columns) {
    const value = raw[column.name];
    row[property] = value === null || value === undefined ? null : (column.mapFromDriverValue(value) as ReadModelValue);
  }
  return row;
}

function whereOf(physical: PhysicalTable, where: Record<string, ReadModelValue | undefined> | undefined): SQL | undefined {
  const conditions = Object.entries(where ?? {}).flatMap(([property, value]) => {
    if (value === undefined) return [];
    const column = columnOf(physical, property);
    return [value === null ? isNull(column) : eq(column, value)];
  });
  return and(...conditions);
}

/**
 * Rows after the cursor in `order, key` order. Postgres puts nulls after every value ascending
 * (first descending); a row comparison with a null is null, hence the explicit null branches.
 */
function afterCursor(cursor: FindCursor, order: PgColumn, key: PgColumn, direction: "asc" | "desc"): SQL {
  checkCursorValue(cursor, order);
  const value = cursor.value;
  const keyParam = sql.param(cursor.key, key);
  if (direction === "asc") {
    return value === null
      ? sql`(${order} is null and ${key} > ${keyParam})`
      : sql`((${order}, ${key}) > (${sql.param(value, order)}, ${keyParam}) or ${order} is null)`;
  }
  return value === null
    ? sql`((${order} is null and ${key} < ${keyParam}) or ${order} is not null)`
    : sql`(${order}, ${key}) < (${sql.param(value, order)}, ${keyParam})`;
}

/** A cursor is client input: its value must be of the order column's kind, or the database would fail on it. */
function checkCursorValue(cursor: FindCursor, order: PgColumn): void {
  const { value } = cursor;
  // drizzle's dataType: "string", "number", "boolean", "date", "json", ...
  const kind = value instanceof Date ? "date" : typeof value;
  if (value !== null && kind !== order.dataType) throw new ValidationError("Invalid cursor", [{ path: "after", message: "is not a cursor this list returned" }]);
}

async function dropTablesAndRow(tx: Transaction, generation: { projection: string; generation: number; tables: string[] }): Promise<void> {
  if (generation.tables.length > 0) {
    await tx.execute(
      sql`drop table if exists ${sql.join(
        generation.tables.map((name) => sql.identifier(name)),
        sql`, `,
      )}`,
    );
  }
  await tx
    .delete(projectionGenerations)
    .where(and(eq(projectionGenerations.projection, generation.projection), eq(projectionGenerations.generation, generation.generation)));
}

function toGeneration(row: typeof projectionGenerations.$inferSelect): ProjectionGeneration {
  return {
    projection: row.projection,
    generation: row.generation,
    version: row.version,
    position: row.position,
    status: row.status,
    createdAt: row.createdAt,
    activatedAt: row.activatedAt,
  };
}
