import { setTimeout as wait } from "node:timers/promises";
import { z } from "zod";
import { NotFoundError } from "@/server/engine/core/errors";
import type { SagaOperations } from "@/server/engine/sagas/ports";
import { sagaStatuses, type SagaListQuery, type SagaRecord, type SagaStepRecord } from "@/server/engine/sagas/saga-store";
import { authedProcedure, createTRPCRouter, scoped } from "../init";

/**
 * The dashboard's Sagas page: the list (filters, counts, paging), one saga's timeline, the catalog
 * of saga types, and the operator's actions (start, retry, cancel). Reading needs a signed-in user;
 * acting on sagas runs commands on the user's behalf, so it needs `commands:execute` (operators and
 * admins), like the Commands console.
 */

const sagaId = z.string().trim().min(1).max(200);

const listFilters = z.object({
  type: z.string().trim().min(1).max(100).optional(),
  status: z.enum(sagaStatuses).optional(),
  correlationid: z.string().trim().min(1).max(200).optional(),
  kind: z.enum(["orchestrated", "choreographed"]).optional(),
  /** Children of this saga. */
  parentId: sagaId.optional(),
  cursor: z.string().min(1).max(1_000).optional(),
  limit: z.number().int().min(1).max(200).default(25),
});
type ListFilters = z.infer<typeof listFilters>;

const liveInterval = z.number().int().min(1_000).max(60_000).default(2_000);

/** Where a saga is now: the forward step it runs, or the step whose compensation runs or failed. */
export interface SagaPosition {
  step: string;
  phase: "forward" | "compensation";
  index: number;
  total: number;
}

function positionOf(saga: SagaRecord): SagaPosition | null {
  const total = saga.steps.length;
  if (saga.status === "running") {
    const step: SagaStepRecord | undefined = saga.steps[saga.cursor];
    return step ? { step: step.name, phase: "forward", index: saga.cursor, total } : null;
  }
  if (saga.status === "compensating" || saga.status === "failed") {
    // The compensation at work is the latest one not completed; before it starts, the cursor's step.
    const open = saga.compensations.findLast((compensation) => compensation.status !== "completed" && compensation.status !== "skipped");
    const name = open?.name ?? saga.steps[saga.cursor]?.name;
    if (name === undefined) return null;
    return { step: name, phase: "compensation", index: saga.steps.findIndex((step) => step.name === name), total };
  }
  return null;
}

/** A list row: what the table shows, without the saga's input, data, signals and per-step detail. */
function summaryOf(saga: SagaRecord) {
  return {
    id: saga.id,
    type: saga.type,
    kind: saga.kind,
    status: saga.status,
    subject: saga.subject,
    correlationid: saga.correlationid,
    parentId: saga.parentId,
    error: saga.error,
    startedAt: saga.startedAt,
    updatedAt: saga.updatedAt,
    endedAt: saga.endedAt,
    position: positionOf(saga),
    stepsDone: saga.steps.filter((step) => step.status === "completed" || step.status === "skipped").length,
    stepCount: saga.steps.length,
  };
}
export type SagaSummary = ReturnType<typeof summaryOf>;

async function pageOf(sagas: SagaOperations, filters: ListFilters) {
  const query: SagaListQuery = { limit: filters.limit };
  if (filters.type) query.type = filters.type;
  if (filters.status) query.status = filters.status;
  if (filters.correlationid) query.correlationid = filters.correlationid;
  if (filters.kind) query.kind = filters.kind;
  if (filters.parentId) query.parentId = filters.parentId;
  if (filters.cursor) query.cursor = filters.cursor;
  const page = await sagas.list(query);
  return { items: page.items.map(summaryOf), nextCursor: page.nextCursor };
}

async function sagaOrThrow(sagas: SagaOperations, id: string): Promise<SagaRecord> {
  const saga = await sagas.get(id);
  if (!saga) throw new NotFoundError(`No saga with id ${id}`);
  return saga;
}

/** The saga as the timeline needs it; the lease and the raw signals stay on the server. */
function detailOf(saga: SagaRecord) {
  const { leaseOwner: _leaseOwner, leaseUntil: _leaseUntil, signals, ...shown } = saga;
  return { ...shown, signalKeys: Object.keys(signals), position: positionOf(saga) };
}
export type SagaDetail = ReturnType<typeof detailOf>;

/** Yields `read()` at once and then every `intervalMs` while the client listens. */
async function* poll<T>(read: () => Promise<T>, intervalMs: number, signal: AbortSignal | undefined, changed: (previous: T, next: T) => boolean = () => true) {
  let previous: T | undefined;
  while (!signal?.aborted) {
    const next = await read();
    if (previous === undefined || changed(previous, next)) yield next;
    previous = next;
    try {
      await wait(intervalMs, undefined, { signal });
    } catch {
      return; // aborted: the page stopped listening
    }
  }
}

export const sagasRouter = createTRPCRouter({
  /** Newest first, filtered; `nextCursor` pages to older sagas. */
  list: authedProcedure.input(listFilters).query(({ ctx, input }) => pageOf(ctx.container.sagas.orchestrator, input)),

  /** Per type, per status (the filter chips' figures). */
  counts: authedProcedure.query(({ ctx }) => ctx.container.sagas.orchestrator.counts()),

  /**
   * The list and the counts over Server-Sent Events: at once, then every `intervalMs` while the
   * page listens, so sagas move through their statuses in front of the operator.
   */
  live: authedProcedure.input(listFilters.extend({ intervalMs: liveInterval })).subscription(async function* ({ ctx, input, signal }) {
    const sagas = ctx.container.sagas.orchestrator;
    const { intervalMs, ...filters } = input;
    yield* poll(async () => ({ at: Date.now(), page: await pageOf(sagas, filters), counts: await sagas.counts() }), intervalMs, signal);
  }),

  /** Every saga type (orchestrated and choreographed) with its steps and start-input schema. */
  types: authedProcedure.query(({ ctx }) => [...ctx.container.sagas.orchestrator.listTypes()].sort((a, b) => a.type.localeCompare(b.type))),

  get: authedProcedure.input(z.object({ id: sagaId })).query(async ({ ctx, input }) => detailOf(await sagaOrThrow(ctx.container.sagas.orchestrator, input.id))),

  /** One saga, again whenever it moves (a new revision or update): the open timeline follows it live. */
  watch: authedProcedure.input(z.object({ id: sagaId, intervalMs: liveInterval })).subscription(async function* ({ ctx, input, signal }) {
    const sagas = ctx.container.sagas.orchestrator;
    yield* poll(
      async () => detailOf(await sagaOrThrow(sagas, input.id)),
      input.intervalMs,
      signal,
      (previous, next) => previous.revision !== next.revision || previous.updatedAt !== next.updatedAt || previous.status !== next.status,
    );
  }),

  /** Durable timers kept for a saga (its deadline), soonest first. */
  timers: authedProcedure
    .input(z.object({ id: sagaId }))
    .query(({ ctx, input }) => ctx.container.sagas.orchestrator.timers({ key: input.id, limit: 20 })),

  /**
   * Starts a saga of an orchestrated type. The same `id` again answers with the saga that exists
   * (`created: false`), so a double submission starts one.
   */
  start: scoped("commands:execute")
    .input(
      z.object({
        type: z.string().trim().min(1).max(100),
        input: z.unknown(),
        id: z.uuid().optional(),
        correlationid: z.string().trim().min(1).max(200).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const started = await ctx.container.sagas.orchestrator.start(input.type, input.input ?? {}, {
        ...(input.id === undefined ? {} : { id: input.id }),
        ...(input.correlationid === undefined ? {} : { correlationid: input.correlationid }),
      });
      return { created: started.created, saga: detailOf(started.saga) };
    }),

  /** A `failed` saga tries its failed compensation again (attempts start over), then the rest. */
  retry: scoped("commands:execute")
    .input(z.object({ id: sagaId }))
    .mutation(async ({ ctx, input }) => detailOf(await ctx.container.sagas.orchestrator.retry(input.id))),

  /** Compensates what a running saga completed, then ends it `cancelled`. */
  cancel: scoped("commands:execute")
    .input(z.object({ id: sagaId, reason: z.string().trim().min(1).max(500).default("Cancelled from the dashboard") }))
    .mutation(async ({ ctx, input }) => detailOf(await ctx.container.sagas.orchestrator.cancel(input.id, `${input.reason} (by ${ctx.principal.name})`))),
});
