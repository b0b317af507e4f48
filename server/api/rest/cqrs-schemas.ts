import { z } from "zod";
import "zod-openapi";
import { scopes } from "@/server/engine/core/principal";
import { IDEMPOTENCY_KEY_FORMAT } from "./idempotency";

/**
 * The zod schemas of REST v1's commands and queries: the catalogs, a command's headers and result,
 * a query's `minPosition`. Like schemas.ts, they validate requests and generate the OpenAPI
 * document. The input of each command and the parameters of each query are the domain's own zod
 * schemas, listed as JSON Schema in the catalogs.
 */

const MAX_VERSION_DIGITS = 15;
const jsonSchema = z.record(z.string(), z.unknown()).meta({ description: "JSON Schema (draft 2020-12)." });
const dottedName = (example: string) => z.string().meta({ description: "Dotted name", example });

// ---------------------------------------------------------------------------------------------
// Requests

export const commandNameParams = z.object({ name: dottedName("exam.create").meta({ description: "The command's name (see GET /api/v1/commands)." }) });
export const queryNameParams = z.object({ name: dottedName("exams.list").meta({ description: "The query's name (see GET /api/v1/queries)." }) });

const correlationHeader = z.string().min(1).max(200);

/**
 * A command's request headers. The body is the command's input, so the metadata of the events it
 * causes comes from headers: `If-Match` (the stream version the client based it on, plain or as the
 * ETag a previous command answered), and the CloudEvents HTTP binding's `ce-correlationid` and
 * `ce-causationid`.
 */
export const commandHeaders = z.object({
  "if-match": z
    .string()
    .regex(new RegExp(`^(?:\\d{1,${MAX_VERSION_DIGITS}}|"\\d{1,${MAX_VERSION_DIGITS}}")$`), 'If-Match must be a stream version: 3, or the ETag "3"')
    .transform((value) => Number(value.replaceAll('"', "")))
    .optional()
    .meta({
      description:
        'The stream version the command is based on (`3`, or the ETag `"3"` a previous command answered); 0 for a stream that must not exist yet. Another version: 409 with `expected` and `actual`, and no retry.',
    }),
  "idempotency-key": z
    .string()
    .regex(IDEMPOTENCY_KEY_FORMAT, "Idempotency-Key must be 1 to 255 visible ASCII characters")
    .optional()
    .meta({ description: "Repeat a command safely: the same key with the same input returns the first result (Idempotent-Replayed: true); with another input, 409." }),
  traceparent: z.string().optional().meta({ description: "W3C trace context to continue; otherwise a new trace starts." }),
  "ce-correlationid": correlationHeader.optional().meta({ description: "Conversation id the command's events carry; default: the first event's id." }),
  "ce-causationid": correlationHeader.optional().meta({ description: "Id of the message that caused this command." }),
});
export type CommandHeaders = z.output<typeof commandHeaders>;

/** `minPosition` is the REST layer's; every other parameter belongs to the query. */
export const MIN_POSITION_PARAM = "minPosition";

export const minPositionParam = z
  .string()
  .regex(new RegExp(`^\\d{1,${MAX_VERSION_DIGITS}}$`), "must be a log position (a non-negative integer)")
  .transform(Number)
  .optional()
  .meta({
    description:
      "Read your writes: wait (up to a few seconds) until the read model has applied this log position, e.g. the last `position` a command answered. When it has not in time: 503 with Retry-After.",
    override: { type: "string", pattern: "^\\d+$" },
  });

/** What the OpenAPI document shows of a query's query string (the rest is in each query's schema). */
export const queryRequestParams = z.object({ [MIN_POSITION_PARAM]: minPositionParam });

// ---------------------------------------------------------------------------------------------
// Responses

const scope = z.enum(scopes);

export const commandDescriptor = z
  .object({
    name: dottedName("exam.create"),
    description: z.string(),
    scope: scope.meta({ description: "The scope a caller needs for this command, besides commands:execute." }),
    schema: jsonSchema.meta({ description: "JSON Schema (draft 2020-12) of the command's input (the request body)." }),
  })
  .meta({ id: "CommandDescriptor" });

export const commandCatalog = z.object({ items: z.array(commandDescriptor) }).meta({ id: "CommandCatalog" });

export const queryDescriptor = z
  .object({
    name: dottedName("exams.list"),
    description: z.string(),
    scope: scope.meta({ description: "The scope a caller needs for this query." }),
    projection: z.string().meta({ description: "The projection whose read model the query reads (see `projections` in GET /api/v1/status)." }),
    schema: jsonSchema.meta({ description: "JSON Schema (draft 2020-12) of the query's parameters (query string values are strings)." }),
  })
  .meta({ id: "QueryDescriptor" });

export const queryCatalog = z.object({ items: z.array(queryDescriptor) }).meta({ id: "QueryCatalog" });

export const commandResult = z
  .object({
    streamId: z.string().meta({ description: "The stream (aggregate) the command acted on.", example: "exam-0190a3c2-7b7e-7c1a-9d1e-2f3b4c5d6e7f" }),
    version: z.int().min(0).meta({ description: "The stream's version after the command (unchanged when it decided no events)." }),
    events: z
      .array(
        z.object({
          id: z.string().meta({ format: "uuid" }),
          type: z.string().meta({ example: "exam.created" }),
          position: z.int().min(1).meta({ description: "The event's place in the global log: pass the last one as a query's `minPosition`." }),
        }),
      )
      .meta({ description: "The events the command appended, in order." }),
  })
  .meta({ id: "CommandResult" });
export type CommandResultResource = z.infer<typeof commandResult>;
