import { Environment, type ASTNode } from "@marcbachmann/cel-js";

/**
 * Content filters on events: a CEL expression (https://cel.dev) over the event resource, e.g.
 * `type.startsWith("grading.") && data.score >= 50`. CEL is not Turing-complete and is
 * interpreted by @marcbachmann/cel-js from its own AST: nothing is ever handed to `eval`.
 *
 * Variables are the event resource's attributes: `type`, `id`, `source`, `subject`, `time`,
 * `priority`, `partitionkey`, `correlationid`, `causationid`, ... as strings, and `data`,
 * `position`, `schemaversion` as dynamic values. Any other name is a compile error (a typo such as
 * `tpye` is caught when the filter is saved, not silently never matching).
 *
 * Compile time (when saved): syntax, unknown variables and type errors (`subject > 5`), and the
 * result type: an expression whose static type is known and not bool (`size(data.tags)`) is
 * refused. When the type is only known at run time (`data.flag`), anything but `true` is no
 * match.
 *
 * Run time: an evaluation error (a missing key such as `data.batchId` or an absent `subject`, a
 * value of the wrong type) is no match, never an exception: one odd event must not stop delivery.
 */

/** Also the API's limit; checked here too so that no caller can hand the parser more. */
export const MAX_FILTER_LENGTH = 2000;

const STRING_VARIABLES = [
  "specversion",
  "id",
  "type",
  "source",
  "time",
  "subject",
  "datacontenttype",
  "dataschema",
  "correlationid",
  "causationid",
  "traceparent",
  "tracestate",
  "priority",
  "partitionkey",
] as const;
const DYNAMIC_VARIABLES = ["data", "position", "schemaversion"] as const;

/** The names a filter may use. */
export const FILTER_VARIABLES: readonly string[] = [...STRING_VARIABLES, ...DYNAMIC_VARIABLES];

/**
 * CEL predeclares `type` (the type of types, for `type(x) == string`), and cel-js does not let a
 * variable take the name over. The event's `type` is by far the most used attribute, so the
 * expression is rewritten before it is compiled: every free identifier `type` becomes this alias,
 * which has the same length so that error positions still point into the text as written.
 * `type(x)` calls and `data.type` fields are not identifiers and stay as they are.
 */
const TYPE_ALIAS = "ty_e";

/**
 * `matches()` runs the pattern as a JavaScript RegExp, which backtracks: `(a+)+$` against a long
 * string from an event would stall the dispatcher. Filters get the linear string functions instead.
 */
const REFUSED_FUNCTIONS = new Map([["matches", "matches() is not available in filters (regular expressions can take exponential time); use startsWith, endsWith or contains"]]);

/** Macros that loop over a list or map; one inside another would be quadratic in the event's size. */
const COMPREHENSIONS = new Set(["all", "exists", "exists_one", "map", "filter"]);

const environment = createEnvironment();

function createEnvironment(): Environment {
  // Structural limits well above anything a 2,000-character filter needs, well below what would
  // make the parser or evaluator recurse deeply.
  const env = new Environment({ limits: { maxAstNodes: 2000, maxDepth: 32, maxListElements: 500, maxMapEntries: 500, maxCallArguments: 8 } });
  for (const name of STRING_VARIABLES) env.registerVariable(name === "type" ? TYPE_ALIAS : name, "string");
  for (const name of DYNAMIC_VARIABLES) env.registerVariable(name, "dyn");
  return env;
}

export class FilterExpressionError extends Error {
  constructor(
    /** What is wrong, without the position. */
    readonly summary: string,
    /** 0-based character offset into the expression, when known. */
    readonly position: number | undefined,
  ) {
    super(position === undefined ? summary : `${summary} (at position ${position})`);
    this.name = "FilterExpressionError";
  }
}

export interface CompiledFilter {
  readonly expression: string;
  /** True only when the expression evaluates to `true` for this event resource. Never throws. */
  matches(resource: object): boolean;
}

type Evaluate = (context: Record<string, unknown>) => unknown;

/** Parses and type-checks once; the result is evaluated per event. Throws {@link FilterExpressionError}. */
export function compileFilter(expression: string): CompiledFilter {
  if (expression.length > MAX_FILTER_LENGTH) {
    throw new FilterExpressionError(`the filter is longer than ${MAX_FILTER_LENGTH} characters`, MAX_FILTER_LENGTH);
  }
  if (expression.trim() === "") throw new FilterExpressionError("the filter is empty", 0);

  const typeStarts: number[] = [];
  inspect(parse(expression).ast, 0, typeStarts);
  const compiled = parse(replaceAt(expression, typeStarts, TYPE_ALIAS));
  const checked = compiled.check();
  if (!checked.valid) throw fromLibraryError(checked.error);
  if (checked.type !== "bool" && checked.type !== "dyn") {
    throw new FilterExpressionError(`the filter must give true or false, but gives a ${checked.type}`, 0);
  }
  const evaluate: Evaluate = compiled;

  return {
    expression,
    matches(resource: object): boolean {
      try {
        return evaluate({ ...resource, [TYPE_ALIAS]: (resource as { type?: unknown }).type }) === true;
      } catch {
        return false;
      }
    },
  };
}

function parse(expression: string): ReturnType<Environment["parse"]> {
  try {
    return environment.parse(expression);
  } catch (error) {
    throw fromLibraryError(error);
  }
}

/**
 * Walks the filter as written: refuses what the library would accept but a filter must not do
 * (see the constants above), and notes where the identifier `type` starts.
 */
function inspect(node: ASTNode, comprehensionDepth: number, typeStarts: number[]): void {
  if (node.op === "id") {
    if (node.args === "type") typeStarts.push(node.start);
    if (node.args === TYPE_ALIAS) throw new FilterExpressionError(`unknown variable ${TYPE_ALIAS}`, node.start);
    return;
  }
  if (node.op === "call" || node.op === "rcall") {
    const name = node.args[0];
    const refusal = REFUSED_FUNCTIONS.get(name);
    if (refusal) throw new FilterExpressionError(refusal, node.start);
    const isComprehension = node.op === "rcall" && COMPREHENSIONS.has(name);
    if (isComprehension && comprehensionDepth > 0) {
      throw new FilterExpressionError(`${name}() inside another list macro is not allowed in filters (its cost grows with the square of the event's size)`, node.start);
    }
    if (node.op === "rcall") inspect(node.args[1], comprehensionDepth, typeStarts);
    const argumentDepth = isComprehension ? comprehensionDepth + 1 : comprehensionDepth;
    for (const argument of node.op === "rcall" ? node.args[2] : node.args[1]) inspect(argument, argumentDepth, typeStarts);
    return;
  }
  for (const child of childNodes(node.args)) inspect(child, comprehensionDepth, typeStarts);
}

function replaceAt(text: string, starts: readonly number[], replacement: string): string {
  let result = text;
  for (const start of starts) result = result.slice(0, start) + replacement + result.slice(start + replacement.length);
  return result;
}

/** The AST nodes among an operator's operands (names and literal payloads are skipped). */
function* childNodes(args: unknown): Generator<ASTNode> {
  if (Array.isArray(args)) {
    for (const item of args) yield* childNodes(item);
  } else if (typeof args === "object" && args !== null && "op" in args) {
    yield args as ASTNode;
  }
}

/** The library's ParseError / TypeError / EvaluationError carry `summary` and a source `range`. */
function fromLibraryError(error: unknown): FilterExpressionError {
  if (error instanceof FilterExpressionError) return error;
  const details = error as { summary?: unknown; message?: unknown; range?: { start?: unknown } } | undefined;
  const summary = typeof details?.summary === "string" ? details.summary : typeof details?.message === "string" ? details.message : String(error);
  const start = details?.range?.start;
  return new FilterExpressionError(summary.replaceAll(TYPE_ALIAS, "type"), typeof start === "number" ? start : undefined);
}
