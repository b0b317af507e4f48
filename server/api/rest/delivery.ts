import type { ProjectionStatus } from "@/server/engine/cqrs/projection-runner-types";
import type { Replay } from "@/server/engine/transport/replay";
import type { SubscriptionFigures } from "@/server/runtime/subscriptions";
import { toDeadLetterView, type DeadLetterView } from "@/server/runtime/dead-letters";
import { probeHealth } from "@/server/runtime/health";
import { overviewStats } from "../trpc/overview-stats";
import { IDEMPOTENT_REPLAYED_HEADER, idempotencyClaimFor } from "./idempotency";
import { problemResponse } from "./problem";
import { json, type RestContext } from "./route";
import { createReplayBody, listDeadLettersQuery, listReplaysQuery, redriveMatchingBody } from "./delivery-schemas";

/**
 * REST v1 delivery: subscriptions and their figures, dead letters (list, redrive, delete),
 * replays of the log to a subscription, and the status overview (with the projections' lag and
 * the sagas per type and status).
 */

const JSON_TYPE = ["application/json"] as const;

function subscriptionResource(figures: SubscriptionFigures) {
  return {
    name: figures.name,
    transport: figures.transport,
    topic: figures.topic,
    group: figures.group,
    depth: figures.depth,
    lag: figures.lag,
    inFlight: figures.inFlight,
    deadLettered: figures.deadLettered,
    ratePerSecond: figures.ratePerSecond,
  };
}

export async function listSubscriptions(context: RestContext<unknown>): Promise<Response> {
  const figures = await context.container.transport.subscriptions.figures();
  return json({ items: figures.map(subscriptionResource) });
}

function projectionResource(status: ProjectionStatus) {
  return {
    name: status.name,
    state: status.state,
    generation: status.generation,
    position: status.position,
    headPosition: status.headPosition,
    lag: status.lag,
    rebuild: status.rebuild,
  };
}

function deadLetterResource(view: DeadLetterView) {
  return {
    id: view.id,
    subscription: view.subscription,
    event: view.event,
    error: view.error,
    attempts: view.attempts,
    firstFailedAt: view.firstFailedAt,
    lastFailedAt: view.lastFailedAt,
  };
}

export async function listDeadLetters(context: RestContext<unknown>): Promise<Response> {
  const query = context.query(listDeadLettersQuery);
  const page = await context.container.transport.deadLetters.list({
    subscription: query.subscription,
    errorType: query.errorType,
    after: query.after?.toLowerCase(),
    limit: query.limit,
  });
  return json({ items: page.items.map((letter) => deadLetterResource(toDeadLetterView(letter))), next: page.next });
}

export async function getDeadLetter(context: RestContext<{ id: string }>): Promise<Response> {
  const letter = await context.container.transport.deadLetters.get(context.params.id.toLowerCase());
  if (!letter) return problemResponse("not_found", `No dead letter with id ${context.params.id}`);
  return json(deadLetterResource(toDeadLetterView(letter)));
}

export async function redriveDeadLetter(context: RestContext<{ id: string }>): Promise<Response> {
  // NotFoundError -> 404 through the route's catch.
  await context.container.transport.deadLetterActions.redriveOne(context.params.id.toLowerCase());
  return new Response(null, { status: 202, headers: { "cache-control": "no-store" } });
}

export async function redriveDeadLetters(context: RestContext<unknown>): Promise<Response> {
  const body = context.body(redriveMatchingBody, (await context.readJson(JSON_TYPE)).value);
  const { matched } = await context.container.transport.deadLetterActions.redriveMatching(body);
  return json({ matched }, 202);
}

export async function deleteDeadLetter(context: RestContext<{ id: string }>): Promise<Response> {
  await context.container.transport.deadLetterActions.deleteOne(context.params.id.toLowerCase());
  return new Response(null, { status: 204, headers: { "cache-control": "no-store" } });
}

function replayResource(replay: Replay) {
  return {
    id: replay.id,
    status: replay.status,
    progress: { total: replay.total, done: replay.done },
    target: replay.target,
    error: replay.error,
  };
}

export async function createReplay(context: RestContext<unknown>): Promise<Response> {
  const raw = (await context.readJson(JSON_TYPE)).value;
  const body = context.body(createReplayBody, raw);
  const idempotency = idempotencyClaimFor(context.request, context.principal, "POST /replays", raw);
  const result = await context.container.transport.replays.create(
    {
      fromPosition: body.fromPosition,
      toPosition: body.toPosition,
      from: body.from,
      to: body.to,
      types: body.type,
      subject: body.subject,
      target: body.target,
      ratePerSecond: body.ratePerSecond,
      dryRun: body.dryRun,
    },
    { createdBy: context.principal.name, idempotency },
  );
  switch (result.status) {
    case "dry_run":
      return json({ id: null, status: "dry_run", matched: result.matched }, 202);
    case "idempotency_mismatch":
      return problemResponse("conflict", "This Idempotency-Key was already used with a different request body");
    case "replayed":
    case "created": {
      const headers: Record<string, string> = { location: `/api/v1/replays/${result.replay.id}` };
      if (result.status === "replayed") headers[IDEMPOTENT_REPLAYED_HEADER] = "true";
      return json({ id: result.replay.id, status: result.replay.status, matched: result.matched }, 202, headers);
    }
  }
}

export async function getReplay(context: RestContext<{ id: string }>): Promise<Response> {
  const replay = await context.container.transport.replays.get(context.params.id);
  if (!replay) return problemResponse("not_found", `No replay with id ${context.params.id}`);
  return json(replayResource(replay));
}

export async function listReplays(context: RestContext<unknown>): Promise<Response> {
  const query = context.query(listReplaysQuery);
  const items = await context.container.transport.replays.list(query.limit);
  return json({ items: items.map(replayResource) });
}

export async function cancelReplay(context: RestContext<{ id: string }>): Promise<Response> {
  const replay = await context.container.transport.replays.cancel(context.params.id);
  if (!replay) return problemResponse("not_found", `No replay with id ${context.params.id}`);
  if (replay.status === "done" || replay.status === "failed") {
    return problemResponse("conflict", `Replay ${replay.id} already ended (${replay.status}); there is nothing to cancel`);
  }
  return json(replayResource(replay));
}

/** Events per second over the last minute, from the per-minute counts of the log (by event time). */
export function eventsPerSecondOfLastMinute(perMinute: ReadonlyArray<{ count: number }>, now: number): number {
  const current = perMinute.at(-1)?.count ?? 0;
  const previous = perMinute.at(-2)?.count ?? 0;
  // The last 60 s: all of the current minute so far, and the part of the previous one still inside.
  const intoMinute = (now % 60_000) / 60_000;
  return Math.round(((current + previous * (1 - intoMinute)) / 60) * 100) / 100;
}

export async function status(context: RestContext<unknown>): Promise<Response> {
  const { container } = context;
  const now = Date.now();
  const [health, figures, projections, stats, sagaCounts] = await Promise.all([
    probeHealth(container),
    container.transport.subscriptions.figures(),
    container.cqrs.projections.status(),
    overviewStats(container.store, now),
    container.sagas.orchestrator.counts(),
  ]);
  return json({
    status: health.status,
    components: health.components,
    subscriptions: figures.map(subscriptionResource),
    projections: projections.map(projectionResource),
    sagas: sagaCounts.byType,
    throughput: { eventsPerSecond: eventsPerSecondOfLastMinute(stats.perMinute, now), headPosition: stats.headPosition },
  });
}
