import type { z } from "zod";
import type { Principal, Scope } from "../core/principal";
import type { PolicyVerdict } from "./command";
import type { ReadModelReader } from "./read-model";

/**
 * Queries: named reads of one projection's read model, with zod-validated parameters (from a URL
 * query string, so numbers come in as strings: use z.coerce) and a scope. The answer carries the
 * position the read model had reached; `minPosition` lets a client that just wrote wait (bounded)
 * until the read model includes its write (read-your-writes).
 */
export interface QueryDefinition<TParams = unknown, TResult = unknown> {
  /** Dotted (`exams.list`). The REST route is /api/v1/queries/{name}. */
  name: string;
  description: string;
  schema: z.ZodType<TParams>;
  /** Default `queries:read`. */
  scope?: Scope;
  /** The projection whose read model it reads. */
  projection: string;
  authorize?(args: { principal: Principal; params: TParams }): PolicyVerdict;
  /** NotFoundError when the thing asked for does not exist (404). */
  execute(params: TParams, reader: ReadModelReader): Promise<TResult>;
}

export interface QueryExecutionContext {
  principal: Principal;
  /** Wait until the projection has applied this log position (bounded by `waitMs`). */
  minPosition?: number;
  /** Longest wait for `minPosition`. Default 5000 ms; then EngineError unavailable (503, Retry-After). */
  waitMs?: number;
}

export interface QueryAnswer<TResult = unknown> {
  result: TResult;
  /** Position the read model had applied when it answered (X-Read-Model-Position). */
  position: number;
}

export interface QueryDescriptor {
  name: string;
  description: string;
  scope: Scope;
  projection: string;
  /** JSON Schema (2020-12) of the parameters. */
  schema: Record<string, unknown>;
}

export function defineQuery<TParams, TResult>(definition: QueryDefinition<TParams, TResult>): QueryDefinition<TParams, TResult> {
  return definition;
}
