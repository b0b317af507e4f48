import { pathSegments, resolveRef, type Issue, type JsonSchema } from "../events/json-schema";

/**
 * The form the Commands console and the query runner generate from a JSON Schema (what the server
 * lists for each command's input and each query's parameters): which control each property gets,
 * the value a fresh form starts with, and where each validation issue belongs.
 *
 * The form's value is the JSON value itself (what is sent), so switching to the JSON editor and
 * back loses nothing. A schema with a shape no control fits (a union, a free-form object) has no
 * form layout: the caller offers the JSON editor alone.
 */
type SchemaNode = { [keyword: string]: unknown };

export type TextFormat = "uuid" | "date-time" | "date" | "email" | "uri";
const textFormats: ReadonlySet<string> = new Set<TextFormat>(["uuid", "date-time", "date", "email", "uri"]);

/** Strings this long or longer get a text area. */
const MULTILINE_LENGTH = 500;
/** Deeper nesting than this is left to the JSON editor. */
const MAX_DEPTH = 4;

export type Control =
  | { kind: "text"; format: TextFormat | undefined; multiline: boolean; minLength: number | undefined; maxLength: number | undefined }
  | { kind: "number"; integer: boolean; minimum: number | undefined; maximum: number | undefined; exclusiveMinimum: number | undefined; exclusiveMaximum: number | undefined }
  | { kind: "boolean" }
  /** One of a fixed set of values (an enum, or a const): a select. */
  | { kind: "choice"; options: ReadonlyArray<string | number | boolean> }
  /** An array of enum values: a multi-select. */
  | { kind: "choices"; options: readonly string[] }
  | { kind: "object"; fields: FormField[] }
  | { kind: "list"; item: Control; itemLabel: string; minItems: number; maxItems: number | undefined };

export interface FormField {
  key: string;
  label: string;
  description: string | undefined;
  required: boolean;
  /** The schema also allows null: a required nullable field left empty is sent as null. */
  nullable: boolean;
  /** The schema's default, undefined when it has none. */
  defaultValue: unknown;
  control: Control;
}

/** One of a discriminated union's branches: the discriminator's value, its fields, its own schema (to validate against). */
export interface Variant {
  value: string | number | boolean;
  fields: FormField[];
  schema: SchemaNode;
}

/**
 * What the form shows at the top: an object's fields, or a discriminated union's (zod's
 * `discriminatedUnion`): a select for the discriminator, then the chosen branch's fields.
 */
export type Shape = { kind: "object"; fields: FormField[] } | { kind: "variants"; discriminator: string; variants: Variant[] };

export type FormLayout = { ok: true; shape: Shape } | { ok: false; reason: string };

function isNode(value: unknown): value is SchemaNode {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Splits camelCase and snake_case keys into words: `questionCount` -> "Question count". */
export function humanize(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_-]+/g, " ")
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Follows a `$ref`, and strips a `null` alternative (`type: [T, "null"]`, `anyOf: [T, {type: "null"}]`). */
function unwrap(schema: unknown, root: SchemaNode): { node: SchemaNode; nullable: boolean } | string {
  let node = schema;
  for (let hops = 0; isNode(node) && typeof node.$ref === "string"; hops++) {
    if (hops > 10) return "a reference cycle";
    const { $ref, ...rest } = node;
    const target = resolveRef($ref as string, root);
    if (!isNode(target)) return `an unresolved reference ${String($ref)}`;
    node = { ...target, ...rest };
  }
  if (!isNode(node)) return "a boolean schema";
  for (const keyword of ["anyOf", "oneOf"] as const) {
    const options = node[keyword];
    if (!Array.isArray(options)) continue;
    const others = options.filter((option) => !(isNode(option) && option.type === "null"));
    if (others.length !== 1) return "a choice between several shapes";
    const { [keyword]: _options, ...outer } = node;
    const inner = unwrap(others[0], root);
    if (typeof inner === "string") return inner;
    return { node: { ...inner.node, ...outer }, nullable: inner.nullable || others.length < options.length };
  }
  if (Array.isArray(node.type)) {
    const types = node.type.filter((type) => type !== "null");
    if (types.length !== 1) return "a value of several types";
    return { node: { ...node, type: types[0] }, nullable: types.length < node.type.length };
  }
  if (Array.isArray(node.enum) && node.enum.includes(null)) {
    return { node: { ...node, enum: node.enum.filter((value) => value !== null) }, nullable: true };
  }
  return { node, nullable: false };
}

const finite = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) && Math.abs(value) < Number.MAX_SAFE_INTEGER ? value : undefined;

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

function singular(label: string): string {
  return label.endsWith("ies") ? `${label.slice(0, -3)}y` : label.endsWith("s") ? label.slice(0, -1) : label;
}

function controlOf(node: SchemaNode, root: SchemaNode, key: string, depth: number): Control | string {
  if (depth > MAX_DEPTH) return "deeply nested values";
  if ("const" in node) return isScalar(node.const) ? { kind: "choice", options: [node.const] } : "a fixed structured value";
  if (Array.isArray(node.enum)) {
    return node.enum.length > 0 && node.enum.every(isScalar) ? { kind: "choice", options: node.enum } : "an enumeration of structured values";
  }
  const type = node.type ?? (isNode(node.properties) ? "object" : undefined);
  switch (type) {
    case "string": {
      const format = typeof node.format === "string" && textFormats.has(node.format) ? (node.format as TextFormat) : undefined;
      const maxLength = finite(node.maxLength);
      return { kind: "text", format, multiline: format === undefined && maxLength !== undefined && maxLength >= MULTILINE_LENGTH, minLength: finite(node.minLength), maxLength };
    }
    case "integer":
    case "number":
      return {
        kind: "number",
        integer: type === "integer",
        minimum: finite(node.minimum),
        maximum: finite(node.maximum),
        exclusiveMinimum: finite(node.exclusiveMinimum),
        exclusiveMaximum: finite(node.exclusiveMaximum),
      };
    case "boolean":
      return { kind: "boolean" };
    case "object": {
      if (!isNode(node.properties) || Object.keys(node.properties).length === 0) return `a free-form object${key ? ` (${key})` : ""}`;
      const fields = fieldsOf(node, root, depth + 1);
      return typeof fields === "string" ? fields : { kind: "object", fields };
    }
    case "array": {
      const items = unwrap(node.items ?? {}, root);
      if (typeof items === "string") return items;
      const minItems = finite(node.minItems) ?? 0;
      const maxItems = finite(node.maxItems);
      if (Array.isArray(items.node.enum) && items.node.enum.every((value) => typeof value === "string") && !items.nullable) {
        return { kind: "choices", options: items.node.enum as string[] };
      }
      if (items.nullable) return `a list that may hold nulls${key ? ` (${key})` : ""}`;
      const item = controlOf(items.node, root, key, depth + 1);
      return typeof item === "string" ? item : { kind: "list", item, itemLabel: singular(humanize(key || "item")), minItems, maxItems };
    }
    default:
      return `a value of no declared type${key ? ` (${key})` : ""}`;
  }
}

/** Ids (UUIDs) first: which aggregate a command acts on reads best before what it does to it. */
function idsFirst(fields: FormField[]): FormField[] {
  const isId = (field: FormField) => field.control.kind === "text" && field.control.format === "uuid";
  return [...fields.filter(isId), ...fields.filter((field) => !isId(field))];
}

function fieldsOf(node: SchemaNode, root: SchemaNode, depth: number): FormField[] | string {
  const properties = isNode(node.properties) ? node.properties : {};
  const required = new Set(Array.isArray(node.required) ? node.required.filter((name): name is string => typeof name === "string") : []);
  const fields: FormField[] = [];
  for (const [key, schema] of Object.entries(properties)) {
    const unwrapped = unwrap(schema, root);
    if (typeof unwrapped === "string") return `${key}: ${unwrapped}`;
    const control = controlOf(unwrapped.node, root, key, depth);
    if (typeof control === "string") return control.includes(key) ? control : `${key}: ${control}`;
    const { node, nullable } = unwrapped;
    fields.push({
      key,
      label: typeof node.title === "string" ? node.title : humanize(key),
      description: typeof node.description === "string" ? node.description : undefined,
      required: required.has(key),
      nullable,
      defaultValue: node.default,
      control,
    });
  }
  return idsFirst(fields);
}

/** The property every branch fixes to its own value (a `const`, or a one-value enum), if there is one. */
function discriminatorOf(branches: readonly SchemaNode[]): string | undefined {
  const fixed = (branch: SchemaNode, key: string): unknown => {
    const property = isNode(branch.properties) ? branch.properties[key] : undefined;
    if (!isNode(property)) return undefined;
    if ("const" in property) return property.const;
    return Array.isArray(property.enum) && property.enum.length === 1 ? property.enum[0] : undefined;
  };
  const first = branches[0];
  if (!first || !isNode(first.properties)) return undefined;
  return Object.keys(first.properties).find((key) => {
    const values = branches.map((branch) => fixed(branch, key));
    return values.every(isScalar) && new Set(values).size === branches.length;
  });
}

function variantsOf(node: SchemaNode, root: SchemaNode): Shape | string {
  const alternatives = (Array.isArray(node.oneOf) ? node.oneOf : node.anyOf) as unknown[];
  const branches: SchemaNode[] = [];
  for (const option of alternatives) {
    const unwrapped = unwrap(option, root);
    if (typeof unwrapped === "string") return unwrapped;
    if (unwrapped.nullable || !isNode(unwrapped.node.properties)) return "a choice between several shapes";
    branches.push(unwrapped.node);
  }
  const discriminator = discriminatorOf(branches);
  if (discriminator === undefined) return "a choice between several shapes";
  const { oneOf: _oneOf, anyOf: _anyOf, ...outer } = node;
  const variants: Variant[] = [];
  for (const branch of branches) {
    const fields = fieldsOf(branch, root, 0);
    if (typeof fields === "string") return fields;
    const own = fields.find((field) => field.key === discriminator)!;
    const { options: [value] } = own.control as Extract<Control, { kind: "choice" }>;
    // Each branch validates alone (Ajv's oneOf errors would mix every branch's complaints); the
    // root's keywords ($defs for references) stay with it.
    variants.push({ value: value!, fields, schema: { ...outer, ...branch } });
  }
  const options = variants.map((variant) => variant.value);
  for (const variant of variants) {
    const index = variant.fields.findIndex((field) => field.key === discriminator);
    variant.fields[index] = { ...variant.fields[index]!, required: true, defaultValue: undefined, control: { kind: "choice", options } };
  }
  return { kind: "variants", discriminator, variants };
}

/** The branch a value is in (by its discriminator), else the first. */
export function variantOf(shape: Extract<Shape, { kind: "variants" }>, value: unknown): Variant {
  const chosen = isNode(value) ? value[shape.discriminator] : undefined;
  return shape.variants.find((variant) => Object.is(variant.value, chosen)) ?? shape.variants[0]!;
}

/** The fields the form shows for this value. */
export function fieldsFor(shape: Shape, value: unknown): FormField[] {
  return shape.kind === "object" ? shape.fields : variantOf(shape, value).fields;
}

/** The schema the value is checked against in the browser: the chosen branch's for a union. */
export function schemaFor(shape: Shape, schema: JsonSchema, value: unknown): JsonSchema {
  return shape.kind === "object" ? schema : variantOf(shape, value).schema;
}

/**
 * The value after the discriminator changed: the new branch's defaults, the values of the fields
 * both branches have, and none of the old branch's own.
 */
export function switchVariant(shape: Extract<Shape, { kind: "variants" }>, value: unknown, next: unknown): Record<string, unknown> {
  const variant = shape.variants.find((candidate) => Object.is(candidate.value, next)) ?? variantOf(shape, value);
  const fresh = initialValue(variant.fields);
  const switched: Record<string, unknown> = {};
  for (const { key } of variant.fields) {
    const kept = key === shape.discriminator ? variant.value : isNode(value) && key in value ? value[key] : fresh[key];
    if (kept !== undefined) switched[key] = kept;
  }
  return switched;
}

/** The form for an object schema (or a discriminated union of them), or why it has none. */
export function formLayout(schema: JsonSchema): FormLayout {
  const root = isNode(schema) ? schema : {};
  if (Array.isArray(root.oneOf) || Array.isArray(root.anyOf)) {
    const shape = variantsOf(root, root);
    return typeof shape === "string" ? { ok: false, reason: shape } : { ok: true, shape };
  }
  const unwrapped = unwrap(schema, root);
  if (typeof unwrapped === "string") return { ok: false, reason: unwrapped };
  const { node } = unwrapped;
  if (node.type !== "object" && !isNode(node.properties)) return { ok: false, reason: "the input is not an object" };
  const fields = fieldsOf(node, root, 0);
  return typeof fields === "string" ? { ok: false, reason: fields } : { ok: true, shape: { kind: "object", fields } };
}

/** What a fresh form holds: defaults, required nested objects with their own, the first branch of a union. */
export function initialShapeValue(shape: Shape): Record<string, unknown> {
  return shape.kind === "object" ? initialValue(shape.fields) : switchVariant(shape, undefined, shape.variants[0]!.value);
}

export function initialValue(fields: readonly FormField[]): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of fields) {
    const start = startValue(field);
    if (start !== undefined) value[field.key] = start;
  }
  return value;
}

function startValue(field: FormField): unknown {
  if (field.defaultValue !== undefined) return structuredClone(field.defaultValue);
  const { control } = field;
  if (!field.required) return undefined;
  if (control.kind === "object") return initialValue(control.fields);
  if (control.kind === "choice" && control.options.length === 1) return control.options[0];
  if (control.kind === "boolean") return false;
  return undefined;
}

/** What an emptied control sends: null for a required nullable field, otherwise nothing (the key is dropped). */
export function emptyValue(field: Pick<FormField, "required" | "nullable">): null | undefined {
  return field.required && field.nullable ? null : undefined;
}

export type PathSegment = string | number;

export function getAt(value: unknown, path: readonly PathSegment[]): unknown {
  let node = value;
  for (const segment of path) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<PathSegment, unknown>)[segment];
  }
  return node;
}

/** A copy of `value` with `next` at `path`; `undefined` removes an object's key. */
export function setAt(value: unknown, path: readonly PathSegment[], next: unknown): unknown {
  if (path.length === 0) return next;
  const [head, ...rest] = path as [PathSegment, ...PathSegment[]];
  if (typeof head === "number") {
    const list = Array.isArray(value) ? [...(value as unknown[])] : [];
    list[head] = setAt(list[head], rest, next);
    return list;
  }
  const record: Record<string, unknown> = typeof value === "object" && value !== null && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};
  const child = setAt(record[head], rest, next);
  if (child === undefined) delete record[head];
  else record[head] = child;
  return record;
}

/**
 * The key issues are grouped by: the path's segments joined by "/" ("" for the input as a whole).
 * Paths come as the server writes them (`answers[2].text`, `x["odd key"]`), and the browser's
 * validator alike (its root is "" for an input).
 */
export function issueKey(path: string | readonly PathSegment[]): string {
  return (typeof path === "string" ? pathSegments(path, "") : path.map(String)).join("/");
}

/** Every key the form shows a control (and so its issues) for, given the value it holds now. */
export function fieldKeys(fields: readonly FormField[], value: unknown, prefix: readonly PathSegment[] = []): Set<string> {
  const keys = new Set<string>();
  const visit = (control: Control, path: readonly PathSegment[]) => {
    keys.add(issueKey(path));
    if (control.kind === "object") for (const field of control.fields) visit(field.control, [...path, field.key]);
    if (control.kind === "list") {
      const items = getAt(value, path);
      if (Array.isArray(items)) items.forEach((_, index) => visit(control.item, [...path, index]));
    }
  };
  for (const field of fields) visit(field.control, [...prefix, field.key]);
  return keys;
}

/** Issues by the key of the control they belong to, and those no control shows (unknown keys, the whole input). */
export function placeIssues(issues: readonly Issue[], fields: readonly FormField[] | null, value: unknown): { byKey: Map<string, string[]>; unplaced: Issue[] } {
  const shown = fields ? fieldKeys(fields, value) : new Set<string>();
  const byKey = new Map<string, string[]>();
  const unplaced: Issue[] = [];
  for (const issue of issues) {
    const key = issueKey(issue.path);
    if (!shown.has(key)) {
      unplaced.push(issue);
      continue;
    }
    const messages = byKey.get(key) ?? [];
    if (!messages.includes(issue.message)) messages.push(issue.message);
    byKey.set(key, messages);
  }
  return { byKey, unplaced };
}

/** A short description of a control's constraints, for the hint under it. */
export function constraintHint(control: Control): string | undefined {
  switch (control.kind) {
    case "text": {
      if (control.format === "uuid") return "UUID";
      if (control.format === "date-time") return "Date and time, RFC 3339 (UTC)";
      if (control.format === "date") return "Date";
      if (control.format === "email") return "Email address";
      if (control.format === "uri") return "URL";
      const { minLength, maxLength } = control;
      if (maxLength !== undefined && (minLength ?? 0) > 1) return `${minLength}–${maxLength} characters`;
      if (maxLength !== undefined) return `Up to ${maxLength.toLocaleString()} characters`;
      return minLength !== undefined && minLength > 1 ? `At least ${minLength} characters` : undefined;
    }
    case "number": {
      const parts: string[] = [control.integer ? "Whole number" : "Number"];
      if (control.minimum !== undefined) parts.push(`≥ ${control.minimum}`);
      else if (control.exclusiveMinimum !== undefined) parts.push(`> ${control.exclusiveMinimum}`);
      if (control.maximum !== undefined) parts.push(`≤ ${control.maximum}`);
      else if (control.exclusiveMaximum !== undefined) parts.push(`< ${control.exclusiveMaximum}`);
      return parts.join(", ");
    }
    case "list":
      if (control.maxItems !== undefined) return `${control.minItems}–${control.maxItems} items`;
      return control.minItems > 0 ? `At least ${control.minItems}` : undefined;
    default:
      return undefined;
  }
}
