import { z } from "zod";
import { createTRPCRouter, scoped } from "../init";

export const queriesRouter = createTRPCRouter({
  /** The catalog: every query with its projection and parameters' JSON Schema. */
  list: scoped("queries:read").query(({ ctx }) => [...ctx.container.cqrs.queries.list()].sort((a, b) => a.name.localeCompare(b.name))),

  /**
   * Runs a query; the answer carries the position its read model had reached. With `minPosition`
   * it waits (bounded) until the read model includes that position (read-your-writes).
   */
  run: scoped("queries:read")
    .input(
      z.object({
        name: z.string().trim().min(1).max(200),
        params: z.record(z.string(), z.unknown()).default({}),
        minPosition: z.number().int().nonnegative().optional(),
      }),
    )
    .query(({ ctx, input }) =>
      ctx.container.cqrs.queries.execute(input.name, input.params, {
        principal: ctx.principal,
        ...(input.minPosition === undefined ? {} : { minPosition: input.minPosition }),
      }),
    ),
});
