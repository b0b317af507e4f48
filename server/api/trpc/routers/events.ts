import { z } from "zod";
import type { EventDraft, StoredEvent } from "@/server/engine/core/envelope";
import { NotFoundError } from "@/server/engine/core/errors";
import type { EventStore, ReadAllFilter } from "@/server/engine/store/event-store";
import { createTRPCRouter, scoped } from "../init";

const isoTime = z.iso.datetime({ offset: true });

const filterInput = z.object({
  /** Type patterns: exact (`exam.created`), trailing wildcard (`exam.*`) or `*`. */
  types: z.array(z.string().trim().min(1).max(200)).max(50).optional(),
  subject: z.string().trim().min(1).max(500).optional(),
  correlationid: z.string().trim().min(1).max(200).optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
});
type SearchFilter = z.infer<typeof filterInput>;

const searchInput = filterInput.extend({
  order: z.enum(["newest", "oldest"]).default("newest"),
  /** newest: exclusive upper position; oldest: exclusive lower position. From the previous page's `next`. */
  cursor: z.number().int().nonnegative().nullish(),
  limit: z.number().int().min(1).max(200).default(50),
});

/** Positions scanned per backward read, and at most per request (the client pages on). */
const WINDOW = 500;
const MAX_SCAN = 50_000;

function storeFilter(filter: SearchFilter): Omit<ReadAllFilter, "limit"> {
  return {
    types: filter.types && filter.types.length > 0 ? filter.types : undefined,
    subject: filter.subject,
    correlationid: filter.correlationid,
    from: filter.from,
    to: filter.to,
  };
}

/**
 * Newest first: the log reads forward only, so walk it backwards in windows of positions
 * (positions are gap-free) until a page is full or the scan budget for one request is spent.
 */
async function searchNewest(store: EventStore, filter: SearchFilter, before: number | null | undefined, limit: number) {
  const head = await store.headPosition();
  let upper = before == null ? head : Math.min(before - 1, head); // inclusive
  const found: StoredEvent[] = [];
  let scanned = 0;
  while (upper > 0 && found.length < limit && scanned < MAX_SCAN) {
    const lower = Math.max(0, upper - WINDOW); // exclusive
    const page = await store.readAll({ ...storeFilter(filter), after: lower, toPosition: upper, limit: WINDOW });
    const inWindow = page.events.filter((event) => event.position <= upper);
    for (let index = inWindow.length - 1; index >= 0; index--) found.push(inWindow[index]!);
    scanned += upper - lower;
    upper = lower;
  }
  if (found.length > limit) {
    const items = found.slice(0, limit);
    return { items, next: items[items.length - 1]!.position, head, scannedTo: items[items.length - 1]!.position };
  }
  return { items: found, next: upper > 0 ? upper + 1 : null, head, scannedTo: upper + 1 };
}

async function searchOldest(store: EventStore, filter: SearchFilter, after: number | null | undefined, limit: number) {
  const head = await store.headPosition();
  const page = await store.readAll({ ...storeFilter(filter), after: after ?? 0, limit });
  const next = page.lastPosition < head ? page.lastPosition : null;
  return { items: page.events, next, head, scannedTo: page.lastPosition };
}

export const eventsRouter = createTRPCRouter({
  /** Highest committed position (where a live tail starts). */
  head: scoped("events:read").query(async ({ ctx }) => ({ position: await ctx.container.store.headPosition() })),

  search: scoped("events:read")
    .input(searchInput)
    .query(({ ctx, input }) =>
      input.order === "newest"
        ? searchNewest(ctx.container.store, input, input.cursor, input.limit)
        : searchOldest(ctx.container.store, input, input.cursor, input.limit),
    ),

  byId: scoped("events:read")
    .input(z.object({ id: z.string().trim().min(1).max(200) }))
    .query(async ({ ctx, input }) => {
      const event = await ctx.container.store.getById(input.id);
      if (!event) throw new NotFoundError(`No event with id ${input.id}`);
      return event;
    }),

  /** Every event of one conversation (same correlationid), in log order. */
  correlated: scoped("events:read")
    .input(z.object({ correlationid: z.string().trim().min(1).max(200), limit: z.number().int().min(1).max(1000).default(200) }))
    .query(async ({ ctx, input }) => {
      const page = await ctx.container.store.readAll({ correlationid: input.correlationid, limit: input.limit + 1 });
      return { items: page.events.slice(0, input.limit), truncated: page.events.length > input.limit };
    }),

  publish: scoped("events:publish")
    .input(
      z.object({
        type: z.string().trim().min(1).max(200),
        data: z.unknown(),
        subject: z.string().trim().min(1).max(500).optional(),
        priority: z.enum(["high", "normal", "low"]).optional(),
        partitionkey: z.string().trim().min(1).max(500).optional(),
        correlationid: z.string().trim().min(1).max(200).optional(),
        causationid: z.string().trim().min(1).max(200).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const draft: EventDraft = { ...input, data: input.data ?? null, source: "urn:eventloom:dashboard" };
      const outcome = await ctx.container.publisher.publish([draft]);
      if (outcome.status === "idempotency_mismatch") throw new Error("unexpected idempotency mismatch without a key");
      const event = outcome.events[0]!;
      return {
        id: event.id,
        position: event.position,
        type: event.type,
        correlationid: event.correlationid,
        traceparent: event.traceparent,
        duplicate: outcome.status === "replayed" || ("duplicate" in event && event.duplicate === true),
      };
    }),
});
