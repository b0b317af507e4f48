import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";

/**
 * JSON Schema helpers for the publish form: an example payload generated from a type's schema,
 * validation in the browser (the same checks the registry runs on the server), and mapping an
 * issue's path (`data.items[0].score`) to the line of the editor text where it sits.
 */
export type JsonSchema = boolean | { [keyword: string]: unknown };
type SchemaObject = { [keyword: string]: unknown };

export interface Issue {
  path: string;
  message: string;
}

function isObject(value: unknown): value is SchemaObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function resolveRef(ref: string, root: SchemaObject): JsonSchema | undefined {
  if (!ref.startsWith("#")) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(1).split("/").filter(Boolean)) {
    const part = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return isObject(node) || typeof node === "boolean" ? node : undefined;
}

function exampleString(schema: SchemaObject, key: string): string {
  const format = typeof schema.format === "string" ? schema.format : undefined;
  const now = new Date();
  switch (format) {
    case "date-time":
      return now.toISOString();
    case "date":
      return now.toISOString().slice(0, 10);
    case "time":
      return now.toISOString().slice(11, 19) + "Z";
    case "email":
    case "idn-email":
      return "someone@example.com";
    case "uri":
    case "url":
    case "iri":
      return "https://example.com/resource";
    case "uuid":
      return typeof crypto !== "undefined" && "randomUUID" in crypto ? crypto.randomUUID() : "0190f5e2-6a4b-7c3d-8e9f-0123456789ab";
    case "hostname":
      return "example.com";
    case "ipv4":
      return "192.0.2.1";
    case "ipv6":
      return "2001:db8::1";
    case "duration":
      return "PT1M";
  }
  const minLength = typeof schema.minLength === "number" ? schema.minLength : 0;
  const maxLength = typeof schema.maxLength === "number" ? schema.maxLength : Infinity;
  const base = key ? key.replace(/([a-z])([A-Z])/g, "$1-$2").toLowerCase() : "text";
  let value = /id$/i.test(key) ? `${base.replace(/-?id$/, "")}-${Math.floor(Math.random() * 9000 + 1000)}` : `example ${base}`;
  while (value.length < minLength) value += "x";
  return value.slice(0, maxLength === Infinity ? undefined : maxLength);
}

function exampleNumber(schema: SchemaObject, integer: boolean): number {
  const step = integer ? 1 : 0.5;
  const lower = typeof schema.minimum === "number" ? schema.minimum : typeof schema.exclusiveMinimum === "number" ? schema.exclusiveMinimum + step : undefined;
  const upper = typeof schema.maximum === "number" ? schema.maximum : typeof schema.exclusiveMaximum === "number" ? schema.exclusiveMaximum - step : undefined;
  // A small, readable number just inside the range (not the midpoint of 0..2^53).
  let value = lower !== undefined ? lower + step : 1;
  if (upper !== undefined && value > upper) value = lower !== undefined ? Math.max(lower, upper) : upper;
  if (typeof schema.multipleOf === "number" && schema.multipleOf > 0) value = Math.ceil(value / schema.multipleOf) * schema.multipleOf;
  return integer ? Math.round(value) : value;
}

/** A value that conforms to `schema` as far as a generator reasonably can (patterns are not synthesised). */
export function exampleFromSchema(schema: JsonSchema, root: SchemaObject = isObject(schema) ? schema : {}, key = "", depth = 0): unknown {
  if (depth > 10 || typeof schema === "boolean") return null;
  if (typeof schema.$ref === "string") {
    const target = resolveRef(schema.$ref, root);
    return target === undefined ? null : exampleFromSchema(target, root, key, depth + 1);
  }
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if ("example" in schema) return schema.example;
  if ("default" in schema) return schema.default;
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (Array.isArray(schema.allOf)) {
    const parts = schema.allOf.map((part) => exampleFromSchema(part as JsonSchema, root, key, depth + 1));
    if (parts.every(isObject)) return Object.assign({}, ...parts);
    return parts[0] ?? null;
  }
  for (const keyword of ["oneOf", "anyOf"] as const) {
    const options = schema[keyword];
    if (Array.isArray(options) && options.length > 0) {
      const preferred = options.find((option) => !(isObject(option) && option.type === "null")) ?? options[0];
      return exampleFromSchema(preferred as JsonSchema, root, key, depth + 1);
    }
  }
  let type = schema.type;
  if (Array.isArray(type)) type = type.find((candidate) => candidate !== "null") ?? type[0];
  if (type === undefined) {
    if (isObject(schema.properties)) type = "object";
    else if ("items" in schema || "prefixItems" in schema) type = "array";
  }
  switch (type) {
    case "object": {
      const properties = isObject(schema.properties) ? schema.properties : {};
      const out: Record<string, unknown> = {};
      for (const [name, propertySchema] of Object.entries(properties)) {
        out[name] = exampleFromSchema(propertySchema as JsonSchema, root, name, depth + 1);
      }
      return out;
    }
    case "array": {
      const count = Math.max(1, typeof schema.minItems === "number" ? schema.minItems : 1);
      if (Array.isArray(schema.prefixItems)) return schema.prefixItems.map((item) => exampleFromSchema(item as JsonSchema, root, key, depth + 1));
      const items = (schema.items ?? {}) as JsonSchema;
      const singular = key.endsWith("s") ? key.slice(0, -1) : key;
      return Array.from({ length: Math.min(count, 3) }, () => exampleFromSchema(items, root, singular, depth + 1));
    }
    case "string":
      return exampleString(schema, key);
    case "integer":
      return exampleNumber(schema, true);
    case "number":
      return exampleNumber(schema, false);
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return {};
  }
}

let ajv: Ajv2020 | undefined;
const compiled = new WeakMap<object, ValidateFunction | Error>();

function validatorFor(schema: JsonSchema): ValidateFunction | Error {
  const key = isObject(schema) ? schema : { const: schema };
  const cached = compiled.get(key);
  if (cached) return cached;
  if (!ajv) {
    ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: true });
    addFormats(ajv);
  }
  let result: ValidateFunction | Error;
  try {
    // Runtime types may name another draft in $schema; the keywords used in practice agree.
    const { $schema: _ignored, $id: _id, ...rest } = isObject(schema) ? schema : { const: schema };
    result = ajv.compile(typeof schema === "boolean" ? schema : rest);
  } catch (error) {
    result = error instanceof Error ? error : new Error(String(error));
  }
  compiled.set(key, result);
  return result;
}

/** Joins a JSON Pointer (`/items/0/score`) as `items[0].score`. */
function pointerToPath(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((raw) => raw.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), "");
}

function describe(error: ErrorObject, root: string): Issue {
  let path = pointerToPath(error.instancePath);
  let message = error.message ?? "is invalid";
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "required" && typeof params.missingProperty === "string") {
    path = path ? `${path}.${params.missingProperty}` : params.missingProperty;
    message = "is required";
  } else if (error.keyword === "additionalProperties" && typeof params.additionalProperty === "string") {
    path = path ? `${path}.${params.additionalProperty}` : params.additionalProperty;
    message = "is not allowed by the schema";
  } else if (error.keyword === "pattern" && typeof params.pattern === "string" && params.pattern.length > 32) {
    message = "does not have the expected form";
  } else if (error.keyword === "enum" && Array.isArray(params.allowedValues)) {
    message = `must be one of ${params.allowedValues.map((value) => JSON.stringify(value)).join(", ")}`;
  }
  return { path: root && path ? `${root}.${path}` : path || root, message };
}

/**
 * Validates `data` against `schema`; issue paths start at `root` like the server's (an event's
 * `data.title`; a command input's plain `title` with root "").
 */
export function validateAgainstSchema(
  schema: JsonSchema,
  data: unknown,
  root = "data",
): { ok: true } | { ok: false; issues: Issue[] } | { ok: "unchecked"; reason: string } {
  const validate = validatorFor(schema);
  if (validate instanceof Error) return { ok: "unchecked", reason: validate.message };
  if (validate(data)) return { ok: true };
  const seen = new Set<string>();
  const issues: Issue[] = [];
  const errors = validate.errors ?? [];
  // A value failing its `format` (uuid, email) usually fails the generated `pattern` too: say it once.
  const formatPaths = new Set(errors.filter((error) => error.keyword === "format").map((error) => error.instancePath));
  for (const error of errors) {
    if (error.keyword === "pattern" && formatPaths.has(error.instancePath)) continue;
    const issue = describe(error, root);
    const id = `${issue.path}\u0000${issue.message}`;
    if (!seen.has(id)) {
      seen.add(id);
      issues.push(issue);
    }
  }
  return { ok: false, issues };
}

/**
 * `data.items[0].score` (or `/items/0/score`, `items.0.score`, `data["odd key"]`) as path segments
 * under `root` (dropped when the path starts with it).
 */
export function pathSegments(path: string, root = "data"): string[] {
  const normalized = path.trim();
  if (normalized.startsWith("/")) return normalized.split("/").slice(1).map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"));
  const segments: string[] = [];
  for (const match of normalized.replace(/^\$\.?/, "").matchAll(/\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|([^.[\]]+)/g)) {
    if (match[1] !== undefined) segments.push(match[1]);
    else if (match[2] !== undefined) segments.push(JSON.parse(match[2]) as string);
    else if (match[3] !== undefined) segments.push(match[3]);
  }
  if (root && segments[0] === root) segments.shift();
  return segments;
}

/**
 * Line (1-based) of every value in a JSON text, keyed by its segments joined with "/". A tiny
 * scanner, tolerant enough for text that already parsed with JSON.parse.
 */
export function lineIndex(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  let index = 0;
  let line = 1;

  const skipSpace = () => {
    while (index < text.length) {
      const char = text[index]!;
      if (char === "\n") line++;
      else if (char !== " " && char !== "\t" && char !== "\r") break;
      index++;
    }
  };
  const readString = (): string => {
    const start = index;
    index++; // opening quote
    while (index < text.length && text[index] !== '"') index += text[index] === "\\" ? 2 : 1;
    index++;
    try {
      return JSON.parse(text.slice(start, index)) as string;
    } catch {
      return text.slice(start + 1, index - 1);
    }
  };
  const readValue = (path: string[], keyLine: number) => {
    skipSpace();
    lines.set(path.join("/"), keyLine);
    const char = text[index];
    if (char === "{") {
      index++;
      for (;;) {
        skipSpace();
        if (text[index] === "}") {
          index++;
          return;
        }
        if (text[index] !== '"') return;
        const memberLine = line;
        const key = readString();
        skipSpace();
        if (text[index] !== ":") return;
        index++;
        readValue([...path, key], memberLine);
        skipSpace();
        if (text[index] === ",") index++;
        else if (text[index] === "}") {
          index++;
          return;
        } else return;
      }
    } else if (char === "[") {
      index++;
      for (let item = 0; ; item++) {
        skipSpace();
        if (text[index] === "]") {
          index++;
          return;
        }
        readValue([...path, String(item)], line);
        skipSpace();
        if (text[index] === ",") index++;
        else if (text[index] === "]") {
          index++;
          return;
        } else return;
      }
    } else if (char === '"') {
      readString();
    } else {
      while (index < text.length && !/[\s,\]}]/.test(text[index]!)) index++;
    }
  };
  skipSpace();
  readValue([], line);
  return lines;
}

/** The editor line of an issue: its own value, else the nearest parent that exists (missing fields). */
export function lineOfPath(index: Map<string, number>, path: string, root = "data"): number | undefined {
  const segments = pathSegments(path, root);
  for (let length = segments.length; length >= 0; length--) {
    const line = index.get(segments.slice(0, length).join("/"));
    if (line !== undefined) return line;
  }
  return undefined;
}

/** Where JSON.parse failed, as a line number (engines report a position or a line). */
export function parseErrorLine(text: string, error: unknown): number | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const lineMatch = /line (\d+)/i.exec(message);
  if (lineMatch) return Number(lineMatch[1]);
  const positionMatch = /position (\d+)/i.exec(message);
  if (positionMatch) return text.slice(0, Number(positionMatch[1])).split("\n").length;
  return undefined;
}
