import type { CommandExecutionContext, CommandResult } from "@/server/engine/cqrs/command";
import { isEngineError } from "@/server/engine/core/errors";
import { badQuery, parseHeaders, queryValues, safeParse } from "./http";
import { IDEMPOTENT_REPLAYED_HEADER } from "./idempotency";
import { problemResponse } from "./problem";
import { json, type RestContext } from "./route";
import { commandHeaders, MIN_POSITION_PARAM, minPositionParam, type CommandResultResource } from "./cqrs-schemas";

/**
 * REST v1 commands and queries: the two catalogs, running a command (POST) and asking a query
 * (GET). The command and query buses do the work (validation, scopes, policies, deciding,
 * appending, read-your-writes); this file turns HTTP into their calls and their answers into HTTP.
 */

export const READ_MODEL_POSITION_HEADER = "x-read-model-position";

export async function listCommands(context: RestContext<unknown>): Promise<Response> {
  return json({ items: context.container.cqrs.commands.list() });
}

export async function listQueries(context: RestContext<unknown>): Promise<Response> {
  return json({ items: context.container.cqrs.queries.list() });
}

function executionContext(context: RestContext<unknown>): CommandExecutionContext {
  const headers = parseHeaders(commandHeaders, context.request);
  const execution: CommandExecutionContext = { principal: context.principal };
  if (headers["if-match"] !== undefined) execution.expectedVersion = headers["if-match"];
  if (headers["idempotency-key"] !== undefined) execution.idempotencyKey = headers["idempotency-key"];
  if (headers["ce-correlationid"] !== undefined) execution.correlationid = headers["ce-correlationid"];
  if (headers["ce-causationid"] !== undefined) execution.causationid = headers["ce-causationid"];
  if (headers.traceparent !== undefined) execution.traceparent = headers.traceparent;
  return execution;
}

function commandResource(result: CommandResult): CommandResultResource {
  return { streamId: result.streamId, version: result.version, events: result.events };
}

/**
 * `POST /api/v1/commands/{name}`: 200 with the stream, its new version (also as the ETag a next
 * command can send as If-Match) and the events appended. An unknown command is a 404 before the
 * body is read; every rejection after it (422 input or rule, 403 policy, 409 version) appends nothing.
 */
export async function executeCommand(context: RestContext<{ name: string }>): Promise<Response> {
  const { name } = context.params;
  const { commands } = context.container.cqrs;
  if (!commands.get(name)) return problemResponse("not_found", `No command named ${name}; GET /api/v1/commands lists them`);
  const execution = executionContext(context);
  const { value } = await context.readJson(["application/json"]);
  const result = await commands.execute(name, value, execution);
  const headers: Record<string, string> = { etag: `"${result.version}"` };
  if (result.replayed) headers[IDEMPOTENT_REPLAYED_HEADER] = "true";
  return json(commandResource(result), 200, headers);
}

/**
 * `GET /api/v1/queries/{name}?<params>`: the query's answer, with X-Read-Model-Position. Every
 * parameter but `minPosition` is the query's; like every other query string in REST v1, one it
 * refuses is a 400 naming the parameter (so is a bad page cursor). A `minPosition` the read model
 * does not reach within QUERY_WAIT_MS is a 503 with Retry-After (from the query bus).
 */
export async function runQuery(context: RestContext<{ name: string }>): Promise<Response> {
  const { name } = context.params;
  const { queries } = context.container.cqrs;
  if (!queries.get(name)) return problemResponse("not_found", `No query named ${name}; GET /api/v1/queries lists them`);
  const { values, issues } = queryValues(context.url);
  const { [MIN_POSITION_PARAM]: rawMinPosition, ...params } = values;
  const minPosition = safeParse(minPositionParam, rawMinPosition);
  if ("issues" in minPosition) issues.push(...minPosition.issues.map((issue) => ({ ...issue, path: MIN_POSITION_PARAM })));
  if (issues.length > 0) throw badQuery(issues);

  let answer;
  try {
    answer = await queries.execute(name, params, {
      principal: context.principal,
      waitMs: context.container.env.QUERY_WAIT_MS,
      ...("data" in minPosition && minPosition.data !== undefined ? { minPosition: minPosition.data } : {}),
    });
  } catch (error) {
    if (isEngineError(error) && error.code === "validation") throw badQuery(error.issues.length > 0 ? error.issues : [{ path: "", message: error.message }]);
    throw error;
  }
  return json(answer.result, 200, { [READ_MODEL_POSITION_HEADER]: String(answer.position) });
}
