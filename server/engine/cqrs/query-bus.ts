import { z } from "zod";
import { EngineError, NotFoundError, ValidationError, type FieldIssue } from "../core/errors";
import { requiredFieldOptions, zodIssues } from "../core/field-issues";
import { hasScope, type Scope } from "../core/principal";
import type { QueryAnswer, QueryDefinition, QueryDescriptor, QueryExecutionContext } from "./query";
import type { ReadModelReader, ReadModelSource } from "./read-model";

export interface QueryBusOptions {
  source: ReadModelSource;
  /** How often a `minPosition` wait looks at the read model's position again. Default 25 ms. */
  pollMs?: number;
}

// Definitions of every parameter type share one registry, so the bus holds them alike.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyQueryDefinition = QueryDefinition<any, unknown>;

/** From a URL (`"12"`) or from JSON (`12`). */
const minPositionParam = z
  .union([z.number(), z.string().regex(/^\d+$/).transform(Number)])
  .pipe(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER));

const DEFAULT_WAIT_MS = 5_000;

/**
 * Runs queries: validate the parameters -> check the scope and the query's policy -> open the
 * projection's active read model (waiting, bounded, for `minPosition`) -> execute. The answer
 * carries the position the read model had applied, for X-Read-Model-Position.
 */
export class QueryBus {
  readonly #source: ReadModelSource;
  readonly #pollMs: number;
  readonly #definitions = new Map<string, { definition: AnyQueryDefinition; descriptor: QueryDescriptor }>();

  constructor(options: QueryBusOptions) {
    this.#source = options.source;
    this.#pollMs = options.pollMs ?? 25;
  }

  register<TParams, TResult>(definition: QueryDefinition<TParams, TResult>): void {
    if (this.#definitions.has(definition.name)) throw new Error(`Query ${definition.name} is already registered`);
    const descriptor: QueryDescriptor = {
      name: definition.name,
      description: definition.description,
      scope: definition.scope ?? "queries:read",
      projection: definition.projection,
      // `input`: the parameters as clients send them (strings that z.coerce turns into numbers).
      schema: z.toJSONSchema(definition.schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
    };
    this.#definitions.set(definition.name, { definition, descriptor });
  }

  get(name: string): AnyQueryDefinition | undefined {
    return this.#definitions.get(name)?.definition;
  }

  list(): QueryDescriptor[] {
    return [...this.#definitions.values()].map(({ descriptor }) => descriptor);
  }

  /**
   * `rawParams` are the query's parameters, and may carry `minPosition` too (a query string has
   * one namespace); `context.minPosition`, when given, is used instead.
   */
  async execute(name: string, rawParams: Record<string, unknown>, context: QueryExecutionContext): Promise<QueryAnswer> {
    const registered = this.#definitions.get(name);
    if (!registered) throw new NotFoundError(`Unknown query ${JSON.stringify(name)}`);
    const { definition, descriptor } = registered;

    const { minPosition: rawMinPosition, ...queryParams } = rawParams;
    const issues: FieldIssue[] = [];
    const minPosition = rawMinPosition === undefined ? undefined : minPositionParam.safeParse(rawMinPosition);
    if (minPosition && !minPosition.success) issues.push({ path: "minPosition", message: "must be a non-negative integer" });
    const parsed = definition.schema.safeParse(queryParams, requiredFieldOptions);
    if (!parsed.success) issues.push(...zodIssues(parsed.error));
    if (issues.length > 0 || !parsed.success) {
      throw new ValidationError(issues.length === 1 ? `Invalid parameter: ${issues[0]!.path}: ${issues[0]!.message}` : `${issues.length} invalid parameters`, issues);
    }

    for (const scope of new Set<Scope>(["queries:read", descriptor.scope])) {
      if (!hasScope(context.principal, scope)) throw new EngineError("forbidden", `Query ${name} needs the ${scope} scope`);
    }
    const verdict = definition.authorize?.({ principal: context.principal, params: parsed.data });
    if (verdict && !verdict.allowed) throw new EngineError("forbidden", verdict.reason);

    const wanted = context.minPosition ?? minPosition?.data;
    const opened = await this.#open(definition.projection, wanted, context.waitMs ?? DEFAULT_WAIT_MS);
    const result = await definition.execute(parsed.data, opened.reader);
    return { result, position: opened.position };
  }

  /** The projection's active read model, once it has applied `minPosition` (polled, at most `waitMs`). */
  async #open(projection: string, minPosition: number | undefined, waitMs: number): Promise<{ position: number; reader: ReadModelReader }> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const opened = await this.#source.open(projection);
      // A client waiting for its write also waits out the moment before the first generation exists.
      if (!opened && minPosition === undefined) {
        throw new EngineError("unavailable", `read model ${projection} is not built yet`, { retryAfterSeconds: 1 });
      }
      if (opened && (minPosition === undefined || opened.position >= minPosition)) return opened;
      const left = deadline - Date.now();
      if (left <= 0) {
        const where = opened ? `at position ${opened.position}` : "not built yet and";
        throw new EngineError("unavailable", `read model ${projection} ${where} has not reached minPosition ${minPosition}`, {
          retryAfterSeconds: 1,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.#pollMs, left)));
    }
  }
}
