import { describe, expect, it } from "vitest";
import { z } from "zod";
import { NotFoundError, isEngineError } from "../core/errors";
import type { Principal, Scope } from "../core/principal";
import { allow, deny } from "./command";
import { InMemoryReadModelStore } from "./memory-read-model-store";
import { defineQuery } from "./query";
import { QueryBus } from "./query-bus";
import { defineTable, defineTableProjection, type ProjectionDefinition } from "./read-model";

type NoteRow = { id: string; author: string; text: string };
const notes = defineTable<NoteRow>("notes", "id");
const notesProjection: ProjectionDefinition = {
  name: "notes",
  description: "notes by author",
  version: 1,
  eventTypes: ["note.*"],
  // Rows are written straight through applyBatch here; the runner's tests exercise reducers.
  tables: [defineTableProjection({ table: notes, keysOf: () => [], evolve: (row) => row })],
};

const principal = (...scopes: Scope[]): Principal => ({ kind: "api_key", id: "key-1", name: "test key", scopes });
const reader = principal("queries:read");

const getNote = defineQuery({
  name: "notes.get",
  description: "One note",
  projection: "notes",
  schema: z.strictObject({ id: z.string().min(1) }),
  async execute({ id }, rm) {
    const note = await rm.get(notes, id);
    if (!note) throw new NotFoundError(`No note ${id}`);
    return note;
  },
});

const byAuthor = defineQuery({
  name: "notes.by_author",
  description: "An author's notes",
  projection: "notes",
  schema: z.strictObject({ author: z.string().min(1), limit: z.coerce.number().int().min(1).max(50).default(10) }),
  authorize: ({ principal: caller, params }) => (params.author === "secret" && caller.kind !== "user" ? deny("Only users read secret notes") : allow),
  async execute({ author, limit }, rm) {
    const page = await rm.find(notes, { where: { author }, orderBy: { column: "id", direction: "asc" }, limit });
    return page.items.map((note) => note.id);
  },
});

const adminNotes = defineQuery({
  name: "notes.count",
  description: "How many notes",
  projection: "notes",
  scope: "admin",
  schema: z.strictObject({}),
  execute: (_params, rm) => rm.count(notes),
});

const unbuilt = defineQuery({
  name: "drafts.count",
  description: "A projection that never ran",
  projection: "drafts",
  schema: z.strictObject({}),
  execute: async () => 0,
});

async function setUp(options: { pollMs?: number } = {}) {
  const store = new InMemoryReadModelStore();
  const target = { projection: notesProjection, generation: 1 };
  await store.createGeneration(target);
  await store.activate(target);
  let position = 0;
  const write = async (next: number, rows: NoteRow[] = []) => {
    expect(await store.applyBatch(target, { expected: position, next }, async () => [{ table: notes.name, upserts: rows, deletes: [] }])).toBe("applied");
    position = next;
  };
  await write(3, [
    { id: "n1", author: "ada", text: "first" },
    { id: "n2", author: "bob", text: "second" },
    { id: "n3", author: "ada", text: "third" },
    { id: "n4", author: "secret", text: "hush" },
  ]);
  const bus = new QueryBus({ source: store, ...options });
  bus.register(getNote);
  bus.register(byAuthor);
  bus.register(adminNotes);
  bus.register(unbuilt);
  return { bus, write };
}

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string; issues: unknown; retryAfterSeconds: number | undefined }> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isEngineError(error)) throw new Error(`expected an EngineError, got ${String(error)}`);
  return { code: error.code, message: error.message, issues: error.issues, retryAfterSeconds: error.retryAfterSeconds };
}

describe("QueryBus", () => {
  it("lists every query with its scope, projection and the JSON Schema of what clients send", async () => {
    const { bus } = await setUp();
    const listed = bus.list();

    expect(listed.map(({ name, scope, projection }) => ({ name, scope, projection }))).toEqual([
      { name: "notes.get", scope: "queries:read", projection: "notes" },
      { name: "notes.by_author", scope: "queries:read", projection: "notes" },
      { name: "notes.count", scope: "admin", projection: "notes" },
      { name: "drafts.count", scope: "queries:read", projection: "drafts" },
    ]);
    const schema = listed[1]?.schema;
    expect(schema).toMatchObject({ type: "object", required: ["author"], additionalProperties: false });
    expect(Object.keys((schema?.properties ?? {}) as object)).toEqual(["author", "limit"]);
    expect(listed[1]?.description).toBe("An author's notes");
  });

  it("refuses a second query of the same name", async () => {
    const { bus } = await setUp();
    expect(() => bus.register(getNote)).toThrow("already registered");
  });

  it("answers the result and the position the read model had applied", async () => {
    const { bus } = await setUp();
    expect(await bus.execute("notes.get", { id: "n2" }, { principal: reader })).toEqual({
      result: { id: "n2", author: "bob", text: "second" },
      position: 3,
    });
    // Parameters arrive as strings from a URL: the schema coerces them.
    expect(await bus.execute("notes.by_author", { author: "ada", limit: "1" }, { principal: reader })).toEqual({ result: ["n1"], position: 3 });
  });

  it("is NotFoundError for an unknown query, and passes on the query's own NotFoundError", async () => {
    const { bus } = await setUp();
    expect(await failure(bus.execute("notes.nope", {}, { principal: reader }))).toMatchObject({ code: "not_found", message: 'Unknown query "notes.nope"' });
    expect(await failure(bus.execute("notes.get", { id: "n9" }, { principal: reader }))).toMatchObject({ code: "not_found", message: "No note n9" });
  });

  it("names every invalid parameter, minPosition included", async () => {
    const { bus } = await setUp();
    const invalid = await failure(bus.execute("notes.by_author", { limit: "0", colour: "red", minPosition: "-1" }, { principal: reader }));

    expect(invalid.code).toBe("validation");
    expect(invalid.issues).toEqual(
      expect.arrayContaining([
        { path: "minPosition", message: "must be a non-negative integer" },
        { path: "author", message: "is required" },
        { path: "limit", message: expect.any(String) },
        { path: "colour", message: "is not allowed" },
      ]),
    );
    expect(invalid.issues).toHaveLength(4);
  });

  it("takes minPosition out before the query's (strict) schema sees the parameters", async () => {
    const { bus } = await setUp();
    expect(await bus.execute("notes.get", { id: "n1", minPosition: "2" }, { principal: reader })).toMatchObject({ position: 3 });
    expect(await bus.execute("notes.get", { id: "n1", minPosition: 3 }, { principal: reader })).toMatchObject({ position: 3 });
    for (const bad of ["1.5", "", "abc", " 2", -1, 2.5, null, true, Number.MAX_SAFE_INTEGER + 2]) {
      const refused = await failure(bus.execute("notes.get", { id: "n1", minPosition: bad }, { principal: reader }));
      expect(refused.issues, String(bad)).toEqual([{ path: "minPosition", message: "must be a non-negative integer" }]);
    }
  });

  it("is forbidden without queries:read or the query's own scope; admin holds every scope", async () => {
    const { bus } = await setUp();
    expect(await failure(bus.execute("notes.get", { id: "n1" }, { principal: principal("events:read") }))).toMatchObject({
      code: "forbidden",
      message: "Query notes.get needs the queries:read scope",
    });
    expect(await failure(bus.execute("notes.count", {}, { principal: reader }))).toMatchObject({
      code: "forbidden",
      message: "Query notes.count needs the admin scope",
    });
    expect(await bus.execute("notes.count", {}, { principal: principal("admin") })).toEqual({ result: 4, position: 3 });
  });

  it("asks the query's policy with the parsed parameters", async () => {
    const { bus } = await setUp();
    expect(await failure(bus.execute("notes.by_author", { author: "secret" }, { principal: reader }))).toMatchObject({
      code: "forbidden",
      message: "Only users read secret notes",
    });
    const user: Principal = { kind: "user", id: "u1", name: "ada@example.com", scopes: ["queries:read"], role: "analyst" };
    expect(await bus.execute("notes.by_author", { author: "secret" }, { principal: user })).toEqual({ result: ["n4"], position: 3 });
  });

  it("is unavailable, retry after 1 s, while the projection has no generation", async () => {
    const { bus } = await setUp();
    expect(await failure(bus.execute("drafts.count", {}, { principal: reader }))).toMatchObject({
      code: "unavailable",
      message: "read model drafts is not built yet",
      retryAfterSeconds: 1,
    });
  });

  it("with minPosition, waits out a projection that has no generation yet, then says it is not built", async () => {
    const { bus } = await setUp({ pollMs: 5 });
    expect(await failure(bus.execute("drafts.count", {}, { principal: reader, minPosition: 1, waitMs: 30 }))).toMatchObject({
      code: "unavailable",
      message: "read model drafts not built yet and has not reached minPosition 1",
      retryAfterSeconds: 1,
    });
  });

  it("waits for minPosition and answers from the read model that reached it", async () => {
    const { bus, write } = await setUp({ pollMs: 5 });
    const started = Date.now();
    const answer = bus.execute("notes.get", { id: "n5", minPosition: "7" }, { principal: reader });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await write(5);
    await write(8, [{ id: "n5", author: "cy", text: "late" }]);

    expect(await answer).toEqual({ result: { id: "n5", author: "cy", text: "late" }, position: 8 });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("is unavailable after waitMs when minPosition is not reached, naming both positions", async () => {
    const { bus } = await setUp({ pollMs: 5 });
    const started = Date.now();
    expect(await failure(bus.execute("notes.get", { id: "n1" }, { principal: reader, minPosition: 4, waitMs: 60 }))).toMatchObject({
      code: "unavailable",
      message: "read model notes at position 3 has not reached minPosition 4",
      retryAfterSeconds: 1,
    });
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(55);
    expect(waited).toBeLessThan(2_000);
  });

  it("uses the context's minPosition over one in the parameters", async () => {
    const { bus } = await setUp({ pollMs: 5 });
    expect(await bus.execute("notes.get", { id: "n1", minPosition: "100" }, { principal: reader, minPosition: 2, waitMs: 10 })).toMatchObject({
      position: 3,
    });
  });
});
