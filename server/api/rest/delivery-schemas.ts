import { z } from "zod";
import "zod-openapi";
import { sagaStatuses } from "@/server/engine/sagas/saga-store";
import { replayStatuses } from "@/server/engine/transport/replay";
import { pageCursor, pageLimit } from "./list-params";

/**
 * The zod schemas of REST v1's delivery side: subscriptions, dead letters, replays and status.
 * Like schemas.ts, they validate the requests and generate the OpenAPI document.
 */

export const MAX_RATE_PER_SECOND = 10_000;

const typePattern = /^(?:\*|[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*(?:\.\*)?)$/;
const rfc3339 = z.iso.datetime({ offset: true }).meta({ description: "RFC 3339 timestamp" });
const ratePerSecond = z
  .number()
  .positive()
  .max(MAX_RATE_PER_SECOND)
  .meta({ description: `Deliveries per second at most (up to ${MAX_RATE_PER_SECOND}); default: as fast as the broker takes them.` });
const subscriptionName = z.string().min(1).max(200);
const errorTypeName = z.string().min(1).max(200);

// ---------------------------------------------------------------------------------------------
// Requests

export const listDeadLettersQuery = z.strictObject({
  subscription: subscriptionName.optional().meta({ description: "Only this subscription's dead letters." }),
  errorType: errorTypeName.optional().meta({ description: "Only failures of this error type (e.g. ProbeFailure, DecodeError)." }),
  after: pageCursor,
  limit: pageLimit(),
});

export const deadLetterIdParams = z.object({ id: z.string().meta({ description: "Dead-letter id" }) });
export const replayIdParams = z.object({ id: z.string().meta({ description: "Replay id" }) });

export const redriveMatchingBody = z
  .strictObject({
    subscription: subscriptionName.optional().meta({ description: "Only this subscription's dead letters; default: every subscription." }),
    errorType: errorTypeName.optional().meta({ description: "Only failures of this error type." }),
    dryRun: z.boolean().optional().meta({ description: "Count what would be redriven, change nothing." }),
    ratePerSecond: ratePerSecond.optional(),
  })
  .meta({ id: "RedriveMatching", description: "Redrives every dead letter matching (those present now), in the background." });

const replayType = z
  .union([
    z.string().transform((value) => value.split(",").map((part) => part.trim()).filter((part) => part.length > 0)),
    z.array(z.string()),
  ])
  .refine((patterns) => patterns.length > 0 && patterns.length <= 50, { message: "must name 1 to 50 types" })
  .refine((patterns) => patterns.every((pattern) => typePattern.test(pattern)), {
    message: "must be type names, each optionally ending in .* (e.g. exam.created,grading.*)",
  })
  .meta({ description: "Event types (comma-separated, or an array); a trailing `.*` matches a prefix.", example: "diagnostics.probe" });

const replayTarget = z
  .union([
    z.strictObject({ subscription: subscriptionName.meta({ description: "A subscription's name (GET /api/v1/subscriptions)." }) }),
    z.strictObject({ webhookEndpoint: z.string().min(1).max(200).meta({ description: "A webhook endpoint's id (not available yet)." }) }),
  ])
  .meta({ description: "Where the events go: exactly one subscription (or, later, one webhook endpoint)." });

export const createReplayBody = z
  .strictObject({
    fromPosition: z.int().min(1).optional().meta({ description: "First position (inclusive). Not with `from`." }),
    from: rfc3339.optional().meta({ description: "Only events whose time is at or after this. Not with `fromPosition`." }),
    toPosition: z.int().min(1).optional().meta({ description: "Last position (inclusive); default: the head when the replay is accepted. Not with `to`." }),
    to: rfc3339.optional().meta({ description: "Only events whose time is at or before this. Not with `toPosition`." }),
    type: replayType.optional(),
    subject: z.string().min(1).max(500).optional().meta({ description: "Only events about this subject." }),
    target: replayTarget,
    ratePerSecond: ratePerSecond.optional(),
    dryRun: z.boolean().optional().meta({ description: "Count the matching events, start nothing." }),
  })
  .superRefine((body, context) => {
    if (body.fromPosition !== undefined && body.from !== undefined) context.addIssue({ code: "custom", path: ["from"], message: "give either fromPosition or from, not both" });
    if (body.toPosition !== undefined && body.to !== undefined) context.addIssue({ code: "custom", path: ["to"], message: "give either toPosition or to, not both" });
    if (body.fromPosition !== undefined && body.toPosition !== undefined && body.toPosition < body.fromPosition) {
      context.addIssue({ code: "custom", path: ["toPosition"], message: "must be at least fromPosition" });
    }
  })
  .meta({ id: "CreateReplay", description: "Events of the log to deliver again to one subscription." });
export type CreateReplayBody = z.infer<typeof createReplayBody>;

export const listReplaysQuery = z.strictObject({
  limit: pageLimit(100, 20, "How many, newest first; 1 to 100, default 20."),
});

// ---------------------------------------------------------------------------------------------
// Responses

export const subscriptionResource = z
  .object({
    name: z.string(),
    transport: z.string().meta({ description: "The broker: memory, postgres, redis, kafka or rabbitmq." }),
    topic: z.string(),
    group: z.string().meta({ description: "The consumer group on the broker (one per subscription)." }),
    depth: z.int().meta({ description: "Published to the topic and not yet settled by the group." }),
    lag: z.int().meta({ description: "Not yet handed out to any consumer of the group." }),
    inFlight: z.int().meta({ description: "Handed out and not yet settled." }),
    deadLettered: z.int().meta({ description: "Dead letters kept for this subscription now." }),
    ratePerSecond: z.number().meta({ description: "Processed per second over the last 10 seconds (this process)." }),
  })
  .meta({ id: "Subscription" });

export const subscriptionList = z.object({ items: z.array(subscriptionResource) }).meta({ id: "SubscriptionList" });

export const deadLetterResource = z
  .object({
    id: z.string(),
    subscription: z.string(),
    event: z
      .record(z.string(), z.unknown())
      .meta({
        description:
          "The event (CloudEvents attributes, `data`, `position`), decoded from the message; when it cannot be decoded (a DecodeError put it here), the raw message `{id, key, priority, headers, body}`.",
      }),
    error: z.object({ type: z.string().meta({ example: "ProbeFailure" }), message: z.string() }),
    attempts: z.int().meta({ description: "Deliveries made before it was dead-lettered." }),
    firstFailedAt: z.string().meta({ format: "date-time" }),
    lastFailedAt: z.string().meta({ format: "date-time" }),
  })
  .meta({ id: "DeadLetter" });

export const deadLetterPage = z
  .object({
    items: z.array(deadLetterResource),
    next: z.string().nullable().meta({ description: "Cursor for the next page (pass as `after`), or null." }),
  })
  .meta({ id: "DeadLetterPage" });

export const redriveAccepted = z.object({ matched: z.int().meta({ description: "Dead letters matched (and, unless dryRun, being redriven)." }) }).meta({ id: "RedriveAccepted" });

export const replayAccepted = z
  .object({
    id: z.string().nullable().meta({ description: "The replay's id; null for a dry run." }),
    status: z.enum([...replayStatuses, "dry_run"]),
    matched: z.int().meta({ description: "Events the replay covers." }),
  })
  .meta({ id: "ReplayAccepted" });

export const replayResource = z
  .object({
    id: z.string(),
    status: z.enum(replayStatuses),
    progress: z.object({ total: z.int(), done: z.int() }),
    target: z.object({ subscription: z.string() }),
    error: z.string().nullable().meta({ description: "Why it failed, when it did." }),
  })
  .meta({ id: "Replay" });

export const replayList = z.object({ items: z.array(replayResource) }).meta({ id: "ReplayList" });

export const projectionResource = z
  .object({
    name: z.string().meta({ example: "exams" }),
    state: z.enum(["catching_up", "live", "rebuilding", "stopped", "failing"]).meta({
      description:
        "live (within a batch of the head), catching_up, rebuilding (a new generation is being filled; the active one keeps answering), failing (its batches fail and are retried; seen by the process running it), stopped (never started).",
    }),
    generation: z.int().min(1).nullable().meta({ description: "The generation queries read, or null before the projection first ran." }),
    position: z.int().min(0).meta({ description: "The log position the active generation has applied (queries' X-Read-Model-Position)." }),
    headPosition: z.int().min(0).meta({ description: "The head of the log when measured." }),
    lag: z.int().min(0).meta({ description: "headPosition - position: events not applied yet." }),
    rebuild: z
      .object({
        generation: z.int().min(1),
        position: z.int().min(0),
        progress: z.number().min(0).max(1).meta({ description: "position / headPosition" }),
        startedAt: z.string().meta({ format: "date-time" }),
      })
      .nullable()
      .meta({ description: "A blue/green rebuild under way, or null." }),
  })
  .meta({ id: "ProjectionStatus" });

export const statusResponse = z
  .object({
    status: z.enum(["healthy", "degraded", "unhealthy"]),
    components: z.array(
      z.object({
        name: z.string().meta({ example: "database" }),
        status: z.enum(["up", "degraded", "down"]),
        latencyMs: z.number().nullable(),
        reason: z.string().optional(),
      }),
    ),
    subscriptions: z.array(subscriptionResource),
    projections: z.array(projectionResource),
    sagas: z
      .record(z.string(), z.partialRecord(z.enum(sagaStatuses), z.int().min(0)))
      .meta({ description: "Sagas per type, per status (statuses with none left out); see GET /api/v1/sagas." }),
    throughput: z.object({
      eventsPerSecond: z.number().meta({ description: "Events appended per second over the last minute (by event time, from the log)." }),
      headPosition: z.int().meta({ description: "Highest committed position." }),
    }),
  })
  .meta({ id: "Status" });
