import { z } from "zod";
import { NotFoundError } from "@/server/engine/core/errors";
import { isUuid } from "@/server/engine/core/ids";
import { toDeadLetterView } from "@/server/runtime/dead-letters";
import { createTRPCRouter, scoped } from "../init";

const match = z.object({
  subscription: z.string().trim().min(1).max(200).optional(),
  errorType: z.string().trim().min(1).max(200).optional(),
});

const idInput = z.object({ id: z.string().trim().min(1).max(100) });

export const deadLettersRouter = createTRPCRouter({
  /** Dead letters in order of first failure, filtered; `cursor` is the previous page's `next`. */
  list: scoped("events:read")
    .input(
      match.extend({
        cursor: z.string().refine(isUuid, "not a cursor of this list").nullish(),
        limit: z.number().int().min(1).max(500).default(50),
      }),
    )
    .query(async ({ ctx, input }) => {
      const page = await ctx.container.transport.deadLetters.list({
        subscription: input.subscription,
        errorType: input.errorType,
        limit: input.limit,
        ...(input.cursor ? { after: input.cursor } : {}),
      });
      return { items: page.items.map(toDeadLetterView), next: page.next };
    }),

  /** Counts grouped by error type, with each type's subscriptions (largest first). */
  summary: scoped("events:read").query(async ({ ctx }) => {
    const rows = await ctx.container.transport.deadLetters.summary();
    const groups = new Map<string, { errorType: string; count: number; subscriptions: Array<{ subscription: string; count: number }> }>();
    for (const row of rows) {
      const group = groups.get(row.errorType) ?? { errorType: row.errorType, count: 0, subscriptions: [] };
      group.count += row.count;
      group.subscriptions.push({ subscription: row.subscription, count: row.count });
      groups.set(row.errorType, group);
    }
    const byErrorType = [...groups.values()]
      .map((group) => ({ ...group, subscriptions: group.subscriptions.sort((a, b) => b.count - a.count || a.subscription.localeCompare(b.subscription)) }))
      .sort((a, b) => b.count - a.count || a.errorType.localeCompare(b.errorType));
    return { total: rows.reduce((sum, row) => sum + row.count, 0), byErrorType };
  }),

  get: scoped("events:read")
    .input(idInput)
    .query(async ({ ctx, input }) => {
      const letter = await ctx.container.transport.deadLetters.get(input.id.toLowerCase());
      if (!letter) throw new NotFoundError(`No dead letter with id ${input.id}`);
      return toDeadLetterView(letter);
    }),

  redrive: scoped("admin")
    .input(idInput)
    .mutation(async ({ ctx, input }) => {
      const letter = await ctx.container.transport.deadLetterActions.redriveOne(input.id.toLowerCase());
      return { id: letter.id, subscription: letter.subscription };
    }),

  /** A dry run: how many dead letters match now (what a redrive or delete of the filter would touch). */
  countMatching: scoped("events:read")
    .input(match)
    .query(({ ctx, input }) => ctx.container.transport.deadLetterActions.redriveMatching({ ...input, dryRun: true })),

  /** With `dryRun`: only the count. Otherwise redriven in the background. */
  redriveMatching: scoped("admin")
    .input(match.extend({ dryRun: z.boolean().default(false), ratePerSecond: z.number().positive().max(10_000).optional() }))
    .mutation(({ ctx, input }) => ctx.container.transport.deadLetterActions.redriveMatching(input)),

  delete: scoped("admin")
    .input(idInput)
    .mutation(async ({ ctx, input }) => {
      await ctx.container.transport.deadLetterActions.deleteOne(input.id.toLowerCase());
      return { id: input.id };
    }),

  deleteMatching: scoped("admin")
    .input(match.extend({ dryRun: z.boolean().default(false) }))
    .mutation(({ ctx, input }) => ctx.container.transport.deadLetterActions.deleteMatching(input)),
});
