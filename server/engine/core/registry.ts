import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { z } from "zod";
import { canonicalJson } from "./canonical-json";
import { systemClock, type Clock } from "./clock";
import type { EventEnvelope } from "./envelope";
import { EngineError, ValidationError, type FieldIssue } from "./errors";
import { fieldPath, zodIssues } from "./field-issues";
import { err, ok, type Result } from "./result";

/**
 * The event-type registry: every event type the platform accepts, its versions and their schemas.
 *
 * Two origins share one interface:
 * - `code`: defined at startup with zod schemas ({@link EventTypeRegistry.define}); may carry
 *   upcasters, so events stored under an old version are read as the latest.
 * - `runtime`: registered through the API with a JSON Schema (draft 2020-12, checked by Ajv) and
 *   persisted through {@link EventTypeRepository}. A JSON document cannot carry code, so runtime
 *   versions have no upcasters: an event keeps the version it was written with.
 */

export type JsonSchema = { readonly [keyword: string]: unknown };

export type EventTypeOrigin = "code" | "runtime";

export interface Upcaster {
  /** Transforms data of `fromVersion` into `fromVersion + 1`. */
  fromVersion: number;
  upcast(data: unknown): unknown;
}

export interface CodeEventTypeDefinition<TSchema extends z.ZodType = z.ZodType> {
  type: string;
  version: number;
  description: string;
  schema: TSchema;
  /** Steps that lead up to `version`; together with earlier definitions they must chain every version to the next. */
  upcasters?: Upcaster[];
}

export interface RuntimeEventTypeInput {
  type: string;
  /** Defaults to 1 for a new type and to the latest version for a known one. */
  version?: number;
  description?: string;
  schema: unknown;
}

export interface RuntimeEventTypeRecord {
  type: string;
  version: number;
  description?: string;
  schema: JsonSchema;
  /** RFC 3339. */
  registeredAt: string;
}

export interface EventTypeDescriptor {
  type: string;
  /** The latest version: the default for new events. */
  version: number;
  /** Ascending. */
  versions: number[];
  description: string;
  /** JSON Schema (draft 2020-12) of the latest version. */
  schema: JsonSchema;
  origin: EventTypeOrigin;
}

/**
 * Persistence port for runtime-registered types. Contract for implementations: `save` of a record
 * whose type+version is already stored with the same schema is a no-op; with a different schema it
 * rejects with an EngineError `conflict` (two processes raced to register different schemas).
 */
export interface EventTypeRepository {
  loadAll(): Promise<RuntimeEventTypeRecord[]>;
  save(record: RuntimeEventTypeRecord): Promise<void>;
}

export interface RuntimeTypesLoadReport {
  /** Records now registered (new or already present with the same schema). */
  loaded: number;
  /** Records the registry refused, e.g. a type since taken over by code; the others still load. */
  skipped: Array<{ type: string; version: number; reason: string }>;
}

export const TYPE_NAME_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

const JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema";

type DataValidator = (data: unknown) => Result<unknown, FieldIssue[]>;

interface VersionEntry {
  version: number;
  description: string;
  schema: JsonSchema;
  validate: DataValidator;
  /** Runtime versions only: returned again when the same registration is repeated. */
  registeredAt?: string;
}

interface TypeEntry {
  type: string;
  origin: EventTypeOrigin;
  versions: Map<number, VersionEntry>;
  /** Ascending, kept sorted on insert. */
  versionList: number[];
  upcasters: Map<number, Upcaster>;
}

export class EventTypeRegistry {
  private readonly types = new Map<string, TypeEntry>();
  private readonly clock: Clock;
  private readonly ajv: Ajv2020;

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
    this.ajv = new Ajv2020({
      allErrors: true,
      // Unknown keywords and formats are rejected: a typo such as `requried` would otherwise
      // silently accept everything.
      strictSchema: true,
      // These strict checks reject legitimate schemas people write by hand.
      strictTypes: false,
      strictTuples: false,
      strictRequired: false,
      allowUnionTypes: true,
      // Runtime schemas often reuse a `$id` across versions; keeping them out of the instance's
      // shared namespace lets every version compile independently.
      addUsedSchema: false,
    });
    addFormats(this.ajv);
  }

  /** Registers one version of a type whose schema lives in code. Versions must be defined in ascending order. */
  define<TSchema extends z.ZodType>(definition: CodeEventTypeDefinition<TSchema>): void {
    const { type, version, description, schema } = definition;
    assertTypeName(type);
    assertVersion(version);
    const existing = this.types.get(type);
    if (existing && existing.origin !== "code") {
      throw new EngineError("conflict", `Event type ${type} was registered at run time; it cannot also be defined in code`);
    }
    const latest = existing ? latestOf(existing) : undefined;
    if (latest !== undefined && version !== latest + 1) {
      throw new ValidationError(`Event type ${type}: define versions in ascending order without gaps; next is ${latest + 1}`, [
        { path: "version", message: `expected ${latest + 1}, got ${version}` },
      ]);
    }

    const upcasters = definition.upcasters ?? [];
    const first = existing?.versionList[0] ?? version;
    const added = new Map<number, Upcaster>();
    for (const upcaster of upcasters) {
      const from = upcaster.fromVersion;
      if (!Number.isInteger(from) || from < first || from >= version) {
        throw new ValidationError(`Event type ${type} v${version}: upcaster fromVersion ${from} is not a defined earlier version`, [
          { path: "upcasters", message: `fromVersion must be between ${first} and ${version - 1}` },
        ]);
      }
      if (existing?.upcasters.has(from) || added.has(from)) {
        throw new ValidationError(`Event type ${type}: more than one upcaster from version ${from}`, [
          { path: "upcasters", message: `duplicate fromVersion ${from}` },
        ]);
      }
      added.set(from, upcaster);
    }
    if (latest !== undefined && !existing?.upcasters.has(latest) && !added.has(latest)) {
      throw new ValidationError(`Event type ${type} v${version} needs an upcaster from version ${latest}`, [
        { path: "upcasters", message: `missing fromVersion ${latest}` },
      ]);
    }

    let jsonSchema: JsonSchema;
    try {
      // `input`: the schema describes what producers may send (before zod's defaults and transforms).
      jsonSchema = z.toJSONSchema(schema, { target: "draft-2020-12", io: "input", unrepresentable: "throw" }) as JsonSchema;
    } catch (cause) {
      throw new ValidationError(`Event type ${type} v${version}: the zod schema cannot be exported as JSON Schema (${messageOf(cause)})`, [
        { path: "schema", message: "not representable in JSON Schema" },
      ]);
    }

    const entry = existing ?? this.newTypeEntry(type, "code");
    for (const [from, upcaster] of added) entry.upcasters.set(from, upcaster);
    addVersion(entry, {
      version,
      description,
      schema: deepFreeze(jsonSchema),
      validate: zodValidator(schema),
    });
  }

  /**
   * Registers a type (or a new version of one) from a JSON Schema. Synchronous so the API can
   * answer at once; the caller persists the returned record through an {@link EventTypeRepository}.
   * Repeating an identical registration returns the original record.
   */
  registerJsonSchema(input: RuntimeEventTypeInput): RuntimeEventTypeRecord {
    return this.registerRuntime(input, undefined);
  }

  /** Registers every persisted runtime type; safe to call again to pick up other processes' registrations. */
  async loadRuntimeTypes(repository: EventTypeRepository): Promise<RuntimeTypesLoadReport> {
    const records = [...(await repository.loadAll())].sort(
      (a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : a.version - b.version),
    );
    const report: RuntimeTypesLoadReport = { loaded: 0, skipped: [] };
    for (const record of records) {
      try {
        this.registerRuntime(record, record.registeredAt);
        report.loaded += 1;
      } catch (error) {
        if (!(error instanceof EngineError)) throw error;
        report.skipped.push({ type: record.type, version: record.version, reason: error.message });
      }
    }
    return report;
  }

  /**
   * Validates event data against a version of its type (the latest by default). On success the
   * value is the parsed data (zod may apply defaults and strip unknown keys). Issue paths start with
   * `data` so callers can prefix them (`events[3].data.examId`).
   */
  validate(type: string, data: unknown, version?: number): Result<unknown, FieldIssue[]> {
    const entry = this.types.get(type);
    if (!entry) return err([{ path: "type", message: `unknown event type ${JSON.stringify(type)}` }]);
    const target = entry.versions.get(version ?? latestOf(entry));
    if (!target) {
      return err([
        { path: "schemaversion", message: `${type} has no version ${version}; known versions: ${entry.versionList.join(", ")}` },
      ]);
    }
    return target.validate(data);
  }

  /**
   * Returns the event as the latest version of its type, applying upcasters in sequence. An event
   * that is already latest, of an unknown type, or of a version without an upcaster (runtime types)
   * comes back unchanged: that is the furthest it can be read. Upcaster output is not re-validated.
   */
  upcast<E extends EventEnvelope>(event: E): E {
    const entry = this.types.get(event.type);
    if (!entry || entry.upcasters.size === 0) return event;
    const latest = latestOf(entry);
    let version = event.schemaversion;
    let data: unknown = event.data;
    while (version < latest) {
      const upcaster = entry.upcasters.get(version);
      if (!upcaster) break;
      try {
        data = upcaster.upcast(data);
      } catch (cause) {
        throw new EngineError("internal", `Upcasting ${event.type} ${event.id} from v${version} to v${version + 1} failed`, { cause });
      }
      version += 1;
    }
    if (version === event.schemaversion) return event;
    return { ...event, data, schemaversion: version };
  }

  get(type: string): EventTypeDescriptor | undefined {
    const entry = this.types.get(type);
    return entry && describe(entry);
  }

  list(): EventTypeDescriptor[] {
    return [...this.types.values()].sort((a, b) => (a.type < b.type ? -1 : 1)).map(describe);
  }

  /** JSON Schema of one version (the latest by default), e.g. to serve an event's `dataschema`. */
  schemaOf(type: string, version?: number): JsonSchema | undefined {
    const entry = this.types.get(type);
    if (!entry) return undefined;
    return entry.versions.get(version ?? latestOf(entry))?.schema;
  }

  private registerRuntime(input: RuntimeEventTypeInput, registeredAt: string | undefined): RuntimeEventTypeRecord {
    const { type } = input;
    assertTypeName(type);
    if (input.version !== undefined) assertVersion(input.version);
    const schema = toJsonSchemaDocument(input.schema);

    const existing = this.types.get(type);
    if (existing?.origin === "code") {
      throw new ValidationError(`Event type ${type} is defined in code; change it there, not at run time`, [
        { path: "type", message: "defined in code" },
      ]);
    }
    const latest = existing ? latestOf(existing) : undefined;
    const version = input.version ?? latest ?? 1;
    const current = existing?.versions.get(version);
    if (current) {
      if (canonicalJson(current.schema) === canonicalJson(schema)) {
        return runtimeRecord(type, current, current.registeredAt ?? registeredAt ?? this.nowIso());
      }
      throw new ValidationError(
        `Event type ${type} version ${version} is already registered with a different schema; register the change as version ${(latest ?? version) + 1}`,
        [{ path: "version", message: `version ${version} exists with another schema; a new version is needed` }],
      );
    }
    if (latest !== undefined && version < latest) {
      throw new ValidationError(`Event type ${type}: versions only increase; the latest is ${latest}`, [
        { path: "version", message: `must be greater than ${latest}` },
      ]);
    }

    const validate = this.compileJsonSchema(schema);
    const entry = existing ?? this.newTypeEntry(type, "runtime");
    const versionEntry: VersionEntry = {
      version,
      description: input.description ?? "",
      schema: deepFreeze(schema),
      validate,
      registeredAt: registeredAt ?? this.nowIso(),
    };
    addVersion(entry, versionEntry);
    return runtimeRecord(type, versionEntry, versionEntry.registeredAt ?? this.nowIso());
  }

  private compileJsonSchema(schema: JsonSchema): DataValidator {
    const dialect = schema["$schema"];
    if (dialect !== undefined && dialect !== JSON_SCHEMA_DIALECT) {
      throw new ValidationError("Only JSON Schema draft 2020-12 is supported", [
        { path: "schema.$schema", message: `must be ${JSON_SCHEMA_DIALECT} or absent` },
      ]);
    }
    if (!this.ajv.validateSchema(schema)) {
      const issues = (this.ajv.errors ?? []).map((error) => ({
        path: fieldPath("schema", pointerSegments(error.instancePath, schema)),
        message: error.message ?? "is invalid",
      }));
      throw new ValidationError("Invalid JSON Schema", dedupeIssues(issues));
    }
    let compiled: ValidateFunction;
    try {
      compiled = this.ajv.compile(schema);
    } catch (cause) {
      throw new ValidationError("Invalid JSON Schema", [{ path: "schema", message: messageOf(cause) }]);
    }
    return (data) => (compiled(data) ? ok(data) : err(ajvIssues(compiled.errors ?? [], data)));
  }

  private newTypeEntry(type: string, origin: EventTypeOrigin): TypeEntry {
    const entry: TypeEntry = { type, origin, versions: new Map(), versionList: [], upcasters: new Map() };
    this.types.set(type, entry);
    return entry;
  }

  private nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }
}

/** Keeps runtime records in a map; for tests and for running without a database. */
export class InMemoryEventTypeRepository implements EventTypeRepository {
  private readonly records = new Map<string, RuntimeEventTypeRecord>();

  async loadAll(): Promise<RuntimeEventTypeRecord[]> {
    return [...this.records.values()].map((record) => structuredClone(record));
  }

  async save(record: RuntimeEventTypeRecord): Promise<void> {
    const key = `${record.type}@${record.version}`;
    const stored = this.records.get(key);
    if (stored) {
      if (canonicalJson(stored.schema) === canonicalJson(record.schema)) return;
      throw new EngineError("conflict", `Event type ${record.type} version ${record.version} is already stored with another schema`);
    }
    this.records.set(key, structuredClone(record));
  }
}

function latestOf(entry: TypeEntry): number {
  // A TypeEntry is only created together with its first version.
  return entry.versionList[entry.versionList.length - 1] as number;
}

function addVersion(entry: TypeEntry, version: VersionEntry): void {
  entry.versions.set(version.version, version);
  entry.versionList.push(version.version);
  entry.versionList.sort((a, b) => a - b);
}

function describe(entry: TypeEntry): EventTypeDescriptor {
  const latest = entry.versions.get(latestOf(entry)) as VersionEntry;
  return {
    type: entry.type,
    version: latest.version,
    versions: [...entry.versionList],
    description: latest.description,
    schema: latest.schema,
    origin: entry.origin,
  };
}

function runtimeRecord(type: string, entry: VersionEntry, registeredAt: string): RuntimeEventTypeRecord {
  const record: RuntimeEventTypeRecord = { type, version: entry.version, schema: entry.schema, registeredAt };
  if (entry.description !== "") record.description = entry.description;
  return record;
}

function assertTypeName(type: unknown): asserts type is string {
  if (typeof type !== "string" || !TYPE_NAME_PATTERN.test(type)) {
    throw new ValidationError(`Invalid event type name ${JSON.stringify(type)}`, [
      { path: "type", message: "must be dotted lowercase, e.g. exam.created" },
    ]);
  }
}

function assertVersion(version: unknown): asserts version is number {
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    throw new ValidationError(`Invalid version ${JSON.stringify(version)}`, [{ path: "version", message: "must be a positive integer" }]);
  }
}

/** A private, plain-JSON copy: the caller's object may be mutated later or hold non-JSON values. */
function toJsonSchemaDocument(schema: unknown): JsonSchema {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    throw new ValidationError("The schema must be a JSON Schema object", [{ path: "schema", message: "must be an object" }]);
  }
  let copy: unknown;
  try {
    copy = JSON.parse(JSON.stringify(schema));
  } catch (cause) {
    throw new ValidationError("The schema is not JSON", [{ path: "schema", message: messageOf(cause) }]);
  }
  return copy as JsonSchema;
}

function zodValidator(schema: z.ZodType): DataValidator {
  return (data) => {
    const parsed = schema.safeParse(data);
    return parsed.success ? ok(parsed.data) : err(zodIssues(parsed.error, "data"));
  };
}

function ajvIssues(errors: readonly ErrorObject[], data: unknown): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const error of errors) {
    const segments = pointerSegments(error.instancePath, data);
    const params = error.params as Record<string, unknown>;
    // Ajv reports a missing or extra property on the parent object; point at the property instead.
    const property = params.missingProperty ?? params.additionalProperty ?? params.unevaluatedProperty ?? params.propertyName;
    if (typeof property === "string") segments.push(property);
    const message = error.keyword === "required" || error.keyword === "dependentRequired" ? "is required"
      : error.keyword === "additionalProperties" || error.keyword === "unevaluatedProperties" ? "is not allowed"
      : (error.message ?? "is invalid");
    issues.push({ path: fieldPath("data", segments), message });
  }
  return dedupeIssues(issues);
}

/** JSON Pointer to path segments; a segment is an index only where the value at that point is an array. */
function pointerSegments(pointer: string, root: unknown): Array<string | number> {
  if (pointer === "") return [];
  const segments: Array<string | number> = [];
  let current: unknown = root;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(current) && /^\d+$/.test(key)) {
      const index = Number(key);
      segments.push(index);
      current = current[index];
    } else {
      segments.push(key);
      current = typeof current === "object" && current !== null ? (current as Record<string, unknown>)[key] : undefined;
    }
  }
  return segments;
}

function dedupeIssues(issues: FieldIssue[]): FieldIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}


/** Schemas are shared with every caller of get()/list(); freezing keeps one caller from altering them for all. */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
