import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isEngineError } from "../core/errors";
import { decodeCursor, encodeCursor } from "./read-model-cursor";
import {
  defineTable,
  defineTableProjection,
  type FindOptions,
  type ProjectionDefinition,
  type ReadModelReader,
  type ReadModelRow,
  type ReadModelSource,
  type ReadModelStore,
  type ReadModelTable,
  type TableChanges,
} from "./read-model";

/**
 * The behaviour every ReadModelStore + ReadModelSource must show. Run it from each
 * implementation's test file:
 *
 *   describeReadModelStoreContract("postgres", async () => ({ store: new PostgresReadModelStore(...), close }));
 *
 * `createStore` is called before every test and must return a store with no generations (a fresh
 * database or schema) that knows the test table {@link contractItems}: logical name
 * `contract_items`, key `id`, whose Postgres template (`rm_contract_items`) the suite's file
 * creates with the columns of {@link ContractItemRow}:
 *
 *   id text primary key, "group" text (nullable), amount double precision not null,
 *   "updatedAt" timestamptz not null, tags jsonb not null
 *
 * (the drizzle factory maps those row keys to its column names). `close` runs after every test.
 *
 * Ordering as `find` must give it: by the order column, ties by the key, the key in the same
 * direction as the column. Keys are compared as plain strings (the tests use lower-case ASCII, so
 * any collation agrees); rows whose order column is null have no defined place and are not tested.
 */

export type ContractItemRow = {
  id: string;
  group: string | null;
  amount: number;
  updatedAt: Date;
  tags: string[];
};

export const contractItems = defineTable<ContractItemRow>("contract_items", "id");
/** The same table as `load` takes it: LoadRows is untyped, as runners see every table alike. */
const contractItemsLoaded = contractItems as unknown as ReadModelTable<ReadModelRow>;

/** The suite writes its changes straight through applyBatch, so the reducers are never called. */
export const contractProjection: ProjectionDefinition = {
  name: "contract",
  description: "read-model store contract",
  version: 3,
  eventTypes: ["contract.*"],
  tables: [defineTableProjection({ table: contractItems, keysOf: () => [], evolve: (row) => row })],
};

export interface ReadModelStoreUnderTest {
  store: ReadModelStore & ReadModelSource;
  close(): Promise<void>;
}

export function describeReadModelStoreContract(name: string, createStore: () => Promise<ReadModelStoreUnderTest>): void {
  describe(`ReadModelStore contract: ${name}`, () => {
    let underTest: ReadModelStoreUnderTest;
    let store: ReadModelStore & ReadModelSource;

    beforeEach(async () => {
      underTest = await createStore();
      store = underTest.store;
    });

    afterEach(async () => {
      await underTest.close();
    });

    const target = (generation: number) => ({ projection: contractProjection, generation });

    const item = (id: string, overrides: Partial<ContractItemRow> = {}): ContractItemRow => ({
      id,
      group: "alpha",
      amount: 1,
      updatedAt: new Date("2026-01-01T00:00:00.000Z"),
      tags: [],
      ...overrides,
    });

    const changes = (upserts: ContractItemRow[], deletes: string[] = []): TableChanges[] => [{ table: contractItems.name, upserts, deletes }];

    async function write(generation: number, positions: { expected: number; next: number }, upserts: ContractItemRow[], deletes: string[] = []) {
      expect(await store.applyBatch(target(generation), positions, async () => changes(upserts, deletes))).toBe("applied");
    }

    async function activeReader(): Promise<ReadModelReader> {
      const opened = await store.open(contractProjection.name);
      if (!opened) throw new Error("no active generation");
      return opened.reader;
    }

    async function statusesOf() {
      return (await store.generations(contractProjection.name)).map(({ generation, status }) => ({ generation, status }));
    }

    async function positionOf(generation: number): Promise<number | undefined> {
      return (await store.generations(contractProjection.name)).find((g) => g.generation === generation)?.position;
    }

    async function expectRejected(promise: Promise<unknown>): Promise<void> {
      await expect(promise).rejects.toThrow();
    }

    describe("generations", () => {
      it("a projection with no generation has none listed, and open() answers undefined", async () => {
        expect(await store.generations(contractProjection.name)).toEqual([]);
        expect(await store.open(contractProjection.name)).toBeUndefined();
      });

      it("createGeneration makes a building generation at position 0, built by the projection's version", async () => {
        const before = Date.now();
        const created = await store.createGeneration(target(1));

        expect(created).toEqual({
          projection: contractProjection.name,
          generation: 1,
          version: 3,
          position: 0,
          status: "building",
          createdAt: expect.any(Date),
          activatedAt: null,
        });
        expect(created.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
        expect(await store.generations(contractProjection.name)).toEqual([created]);
        // Building is not serving: queries wait for an active generation.
        expect(await store.open(contractProjection.name)).toBeUndefined();
      });

      it("refuses to create a generation that exists", async () => {
        await store.createGeneration(target(1));
        await expectRejected(store.createGeneration(target(1)));
        expect(await statusesOf()).toEqual([{ generation: 1, status: "building" }]);
      });

      it("activate makes it active and retires the previous one, which is dropped at the next activation", async () => {
        await store.createGeneration(target(1));
        await store.activate(target(1));
        const [first] = await store.generations(contractProjection.name);
        expect(first).toMatchObject({ generation: 1, status: "active", activatedAt: expect.any(Date) });

        await store.createGeneration(target(2));
        expect(await statusesOf()).toEqual([
          { generation: 1, status: "active" },
          { generation: 2, status: "building" },
        ]);
        await store.activate(target(2));
        expect(await statusesOf()).toEqual([
          { generation: 1, status: "retired" },
          { generation: 2, status: "active" },
        ]);

        await store.createGeneration(target(3));
        await store.activate(target(3));
        expect(await statusesOf()).toEqual([
          { generation: 2, status: "retired" },
          { generation: 3, status: "active" },
        ]);
        expect((await store.open(contractProjection.name))?.generation).toBe(3);
      });

      it("a reader opened before a switch-over keeps reading its generation while it is retired", async () => {
        await store.createGeneration(target(1));
        await write(1, { expected: 0, next: 5 }, [item("a1")]);
        await store.activate(target(1));
        const old = await store.open(contractProjection.name);

        await store.createGeneration(target(2));
        await write(2, { expected: 0, next: 6 }, [item("b1")]);
        await store.activate(target(2));

        expect(old).toMatchObject({ generation: 1, position: 5 });
        expect(await old?.reader.get(contractItems, "a1")).toEqual(item("a1"));
        const current = await store.open(contractProjection.name);
        expect(current).toMatchObject({ generation: 2, position: 6 });
        expect(await current?.reader.get(contractItems, "a1")).toBeUndefined();
        expect(await current?.reader.get(contractItems, "b1")).toEqual(item("b1"));
      });

      it("dropGeneration drops a building generation and its rows, and refuses the active one", async () => {
        await store.createGeneration(target(1));
        await store.activate(target(1));
        await store.createGeneration(target(2));
        await write(2, { expected: 0, next: 4 }, [item("x")]);

        await store.dropGeneration(target(2));
        expect(await statusesOf()).toEqual([{ generation: 1, status: "active" }]);
        await expectRejected(store.dropGeneration(target(1)));
        expect(await statusesOf()).toEqual([{ generation: 1, status: "active" }]);

        // The number can be used again, and starts empty.
        await store.createGeneration(target(2));
        await store.activate(target(2));
        expect(await (await activeReader()).count(contractItems)).toBe(0);
      });

      it("keeps projections apart", async () => {
        await store.createGeneration(target(1));
        await store.activate(target(1));
        expect(await store.generations("another_projection")).toEqual([]);
        expect(await store.open("another_projection")).toBeUndefined();
      });
    });

    describe("applyBatch", () => {
      beforeEach(async () => {
        await store.createGeneration(target(1));
        await store.activate(target(1));
      });

      it("writes the upserts together with the new position", async () => {
        await write(1, { expected: 0, next: 3 }, [item("a", { amount: 2 }), item("b")]);

        expect(await positionOf(1)).toBe(3);
        const opened = await store.open(contractProjection.name);
        expect(opened?.position).toBe(3);
        expect(await opened?.reader.get(contractItems, "a")).toEqual(item("a", { amount: 2 }));
        expect(await opened?.reader.get(contractItems, "b")).toEqual(item("b"));
      });

      it("loads rows inside the batch: the rows written so far, none of the missing keys", async () => {
        await write(1, { expected: 0, next: 2 }, [item("a", { amount: 2 }), item("b")]);
        let loaded: Map<string, ReadModelRow> | undefined;

        const outcome = await store.applyBatch(target(1), { expected: 2, next: 4 }, async (load) => {
          loaded = await load(contractItemsLoaded, ["a", "missing"]);
          const a = loaded.get("a") as ContractItemRow;
          return changes([{ ...a, amount: a.amount + 10 }]);
        });

        expect(outcome).toBe("applied");
        expect(loaded).toEqual(new Map([["a", item("a", { amount: 2 })]]));
        expect(await (await activeReader()).get(contractItems, "a")).toEqual(item("a", { amount: 12 }));
      });

      it("replaces upserted rows whole and deletes rows", async () => {
        await write(1, { expected: 0, next: 2 }, [item("a", { tags: ["x"], group: "beta" }), item("b"), item("c")]);
        await write(1, { expected: 2, next: 5 }, [item("a", { group: null })], ["b", "never-there"]);

        const reader = await activeReader();
        expect(await reader.get(contractItems, "a")).toEqual(item("a", { group: null }));
        expect(await reader.get(contractItems, "b")).toBeUndefined();
        expect(await reader.count(contractItems)).toBe(2);
        expect(await positionOf(1)).toBe(5);
      });

      it("moves the position when a batch changes no row", async () => {
        expect(await store.applyBatch(target(1), { expected: 0, next: 40 }, async () => [])).toBe("applied");
        expect(await positionOf(1)).toBe(40);
        expect((await store.open(contractProjection.name))?.position).toBe(40);
      });

      it("keeps values as written: times, doubles, jsonb and text", async () => {
        const row = item("v", {
          group: "Grüße ✓",
          amount: 1234.5678,
          updatedAt: new Date("2026-03-04T05:06:07.891Z"),
          tags: ["b", "a", "b"],
        });
        await write(1, { expected: 0, next: 1 }, [row]);

        const read = await (await activeReader()).get(contractItems, "v");
        expect(read).toEqual(row);
        expect(read?.updatedAt).toBeInstanceOf(Date);
      });

      it("answers moved, calls nothing and writes nothing when the position is not the expected one", async () => {
        await write(1, { expected: 0, next: 3 }, [item("a")]);
        let computed = false;

        const outcome = await store.applyBatch(target(1), { expected: 0, next: 7 }, async () => {
          computed = true;
          return changes([item("z")]);
        });

        expect(outcome).toBe("moved");
        expect(computed).toBe(false);
        expect(await positionOf(1)).toBe(3);
        expect(await (await activeReader()).get(contractItems, "z")).toBeUndefined();
      });

      it("lets only one of two concurrent batches from the same position apply", async () => {
        const batch = (id: string) =>
          store.applyBatch(target(1), { expected: 0, next: 9 }, async (load) => {
            await load(contractItemsLoaded, [id]);
            return changes([item(id)]);
          });

        const outcomes = await Promise.all([batch("first"), batch("second")]);

        expect([...outcomes].sort()).toEqual(["applied", "moved"]);
        const reader = await activeReader();
        expect(await reader.count(contractItems)).toBe(1);
        const winner = outcomes[0] === "applied" ? "first" : "second";
        expect(await reader.get(contractItems, winner)).toEqual(item(winner));
        expect(await positionOf(1)).toBe(9);
      });

      it("writes nothing when compute throws, and the error reaches the caller", async () => {
        await write(1, { expected: 0, next: 2 }, [item("a")]);

        await expect(
          store.applyBatch(target(1), { expected: 2, next: 6 }, async (load) => {
            await load(contractItemsLoaded, ["a"]);
            throw new Error("evolve failed");
          }),
        ).rejects.toThrow("evolve failed");

        expect(await positionOf(1)).toBe(2);
        // The same batch can then be applied: nothing was left locked or half-done.
        await write(1, { expected: 2, next: 6 }, [item("b")], ["a"]);
        const reader = await activeReader();
        expect(await reader.get(contractItems, "a")).toBeUndefined();
        expect(await reader.get(contractItems, "b")).toEqual(item("b"));
      });

      it("answers moved for a generation that does not exist", async () => {
        expect(await store.applyBatch(target(8), { expected: 0, next: 1 }, async () => changes([item("a")]))).toBe("moved");
        expect(await statusesOf()).toEqual([{ generation: 1, status: "active" }]);
      });

      it("writes only the target generation's rows", async () => {
        await write(1, { expected: 0, next: 2 }, [item("old")]);
        await store.createGeneration(target(2));
        await write(2, { expected: 0, next: 3 }, [item("new")]);

        expect(await positionOf(1)).toBe(2);
        expect(await positionOf(2)).toBe(3);
        const reader = await activeReader();
        expect(await reader.get(contractItems, "old")).toEqual(item("old"));
        expect(await reader.get(contractItems, "new")).toBeUndefined();
      });
    });

    describe("reader", () => {
      let reader: ReadModelReader;
      const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 12, minute));
      // Ties on amount and on updatedAt, so pages must fall back on the key.
      const rows: ContractItemRow[] = [
        item("i01", { group: "alpha", amount: 5, updatedAt: at(3), tags: ["red"] }),
        item("i02", { group: "beta", amount: 1.5, updatedAt: at(1) }),
        item("i03", { group: "alpha", amount: 5, updatedAt: at(2) }),
        item("i04", { group: "gamma", amount: -2, updatedAt: at(3) }),
        item("i05", { group: "beta", amount: 5, updatedAt: at(0) }),
        item("i06", { group: null, amount: 7, updatedAt: at(2) }),
        item("i07", { group: "alpha", amount: 1.5, updatedAt: at(3) }),
      ];

      beforeEach(async () => {
        await store.createGeneration(target(1));
        await store.activate(target(1));
        await write(1, { expected: 0, next: rows.length }, rows);
        reader = await activeReader();
      });

      /** Every page of a find, following `next`, with a bound on the number of pages. */
      async function allPages(options: Omit<FindOptions<ContractItemRow>, "after">): Promise<string[][]> {
        const pages: string[][] = [];
        let after: string | undefined;
        for (let page = 0; page < 20; page++) {
          const found = await reader.find(contractItems, { ...options, ...(after === undefined ? {} : { after }) });
          pages.push(found.items.map((row) => row.id));
          if (found.next === null) return pages;
          const last = found.items.at(-1);
          expect(last).toBeDefined();
          if (last) expect(decodeCursor(found.next)).toEqual({ value: last[options.orderBy.column], key: last.id });
          after = found.next;
        }
        throw new Error("more than 20 pages");
      }

      it("get answers a row by key, or undefined", async () => {
        expect(await reader.get(contractItems, "i01")).toEqual(rows[0]);
        expect(await reader.get(contractItems, "nope")).toBeUndefined();
      });

      it("finds with equality filters; undefined filters are ignored, null matches null", async () => {
        const ids = async (where: FindOptions<ContractItemRow>["where"]) =>
          (await reader.find(contractItems, { where, orderBy: { column: "id", direction: "asc" }, limit: 100 })).items.map((row) => row.id);

        expect(await ids({ group: "alpha" })).toEqual(["i01", "i03", "i07"]);
        expect(await ids({ group: "alpha", amount: 5 })).toEqual(["i01", "i03"]);
        expect(await ids({ group: undefined, amount: 1.5 })).toEqual(["i02", "i07"]);
        expect(await ids({ group: null })).toEqual(["i06"]);
        expect(await ids({ updatedAt: at(3) })).toEqual(["i01", "i04", "i07"]);
        expect(await ids({ group: "delta" })).toEqual([]);
      });

      it("returns whole rows in order", async () => {
        const page = await reader.find(contractItems, { where: { group: "beta" }, orderBy: { column: "updatedAt", direction: "asc" }, limit: 10 });
        expect(page).toEqual({ items: [rows[4], rows[1]], next: null });
      });

      it("pages ascending by a column with ties, ties by key", async () => {
        expect(await allPages({ orderBy: { column: "amount", direction: "asc" }, limit: 2 })).toEqual([
          ["i04", "i02"],
          ["i07", "i01"],
          ["i03", "i05"],
          ["i06"],
        ]);
      });

      it("pages descending, ties by key descending", async () => {
        expect(await allPages({ orderBy: { column: "amount", direction: "desc" }, limit: 3 })).toEqual([
          ["i06", "i05", "i03"],
          ["i01", "i07", "i02"],
          ["i04"],
        ]);
      });

      it("pages by a time column in both directions", async () => {
        expect(await allPages({ orderBy: { column: "updatedAt", direction: "asc" }, limit: 3 })).toEqual([
          ["i05", "i02", "i03"],
          ["i06", "i01", "i04"],
          ["i07"],
        ]);
        expect(await allPages({ orderBy: { column: "updatedAt", direction: "desc" }, limit: 4 })).toEqual([
          ["i07", "i04", "i01", "i06"],
          ["i03", "i02", "i05"],
        ]);
      });

      it("pages by a text column within a filter", async () => {
        expect(await allPages({ where: { amount: 5 }, orderBy: { column: "group", direction: "desc" }, limit: 1 })).toEqual([["i05"], ["i03"], ["i01"]]);
      });

      it("answers next: null on a last page that is full, and an empty page past the end", async () => {
        const full = await reader.find(contractItems, { where: { group: "alpha" }, orderBy: { column: "id", direction: "asc" }, limit: 3 });
        expect(full.items.map((row) => row.id)).toEqual(["i01", "i03", "i07"]);
        expect(full.next).toBeNull();

        const past = await reader.find(contractItems, {
          orderBy: { column: "id", direction: "asc" },
          limit: 3,
          after: encodeCursor("i99", "i99"),
        });
        expect(past).toEqual({ items: [], next: null });
      });

      it("continues from a cursor between rows, not only from one it returned", async () => {
        const page = await reader.find(contractItems, {
          orderBy: { column: "amount", direction: "asc" },
          limit: 10,
          after: encodeCursor(5, "i02"),
        });
        expect(page.items.map((row) => row.id)).toEqual(["i03", "i05", "i06"]);
      });

      it("rejects a malformed cursor with a ValidationError on after", async () => {
        const malformed = [
          "not a cursor!",
          Buffer.from("{not json", "utf8").toString("base64url"),
          Buffer.from(JSON.stringify({ value: 1, key: "a" }), "utf8").toString("base64url"),
          Buffer.from(JSON.stringify([1]), "utf8").toString("base64url"),
          Buffer.from(JSON.stringify([{ $date: "yesterday" }, "a"]), "utf8").toString("base64url"),
        ];
        for (const after of malformed) {
          const error: unknown = await reader.find(contractItems, { orderBy: { column: "amount", direction: "asc" }, limit: 2, after }).then(
            () => undefined,
            (caught: unknown) => caught,
          );
          expect(isEngineError(error) && error.code === "validation" ? error.issues.map((issue) => issue.path) : error).toEqual(["after"]);
        }
      });

      it("counts rows, all or filtered", async () => {
        expect(await reader.count(contractItems)).toBe(7);
        expect(await reader.count(contractItems, { group: "alpha" })).toBe(3);
        expect(await reader.count(contractItems, { group: "beta", amount: 5 })).toBe(1);
        expect(await reader.count(contractItems, { group: null, amount: undefined })).toBe(1);
      });
    });
  });
}
