import { z } from "zod";
import { NotFoundError } from "@/server/engine/core/errors";
import { createTRPCRouter, scoped } from "../init";

const typePattern = /^(?:\*|[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*(?:\.\*)?)$/;
const isoTime = z.iso.datetime({ offset: true });

const createInput = z
  .object({
    subscription: z.string().trim().min(1).max(200),
    fromPosition: z.number().int().min(1).optional(),
    toPosition: z.number().int().min(1).optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
    types: z.array(z.string().trim().regex(typePattern, "must be a type, optionally ending in .*")).max(50).optional(),
    subject: z.string().trim().min(1).max(500).optional(),
    ratePerSecond: z.number().positive().max(10_000).optional(),
    dryRun: z.boolean().default(false),
  })
  .refine((input) => input.fromPosition === undefined || input.toPosition === undefined || input.toPosition >= input.fromPosition, {
    message: "must be at least the first position",
    path: ["toPosition"],
  });

const idInput = z.object({ id: z.string().trim().min(1).max(100) });

export const replaysRouter = createTRPCRouter({
  /** Counts (dryRun) or starts a replay to one subscription. */
  create: scoped("admin")
    .input(createInput)
    .mutation(async ({ ctx, input }) => {
      const { subscription, types, ...rest } = input;
      const result = await ctx.container.transport.replays.create(
        { ...rest, ...(types && types.length > 0 ? { types } : {}), target: { subscription } },
        { createdBy: ctx.principal.name },
      );
      if (result.status === "idempotency_mismatch") throw new Error("unexpected idempotency mismatch without a key");
      return result.status === "dry_run" ? { matched: result.matched, replay: null } : { matched: result.matched, replay: result.replay };
    }),

  get: scoped("admin")
    .input(idInput)
    .query(async ({ ctx, input }) => {
      const replay = await ctx.container.transport.replays.get(input.id);
      if (!replay) throw new NotFoundError(`No replay with id ${input.id}`);
      return replay;
    }),

  /** Newest first. */
  list: scoped("admin")
    .input(z.object({ limit: z.number().int().min(1).max(100).default(10) }))
    .query(({ ctx, input }) => ctx.container.transport.replays.list(input.limit)),

  cancel: scoped("admin")
    .input(idInput)
    .mutation(async ({ ctx, input }) => {
      const replay = await ctx.container.transport.replays.cancel(input.id);
      if (!replay) throw new NotFoundError(`No replay with id ${input.id}`);
      return replay;
    }),
});
