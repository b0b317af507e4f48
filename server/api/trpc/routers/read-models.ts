import { setTimeout as wait } from "node:timers/promises";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { hasScope } from "@/server/engine/core/principal";
import { authedProcedure, createTRPCRouter, scoped } from "../init";

/** Rebuilding is operations work: admins and operators, not analysts (who only read). */
const operatorProcedure = authedProcedure.use(({ ctx, next }) => {
  if (!hasScope(ctx.principal, "admin") && ctx.principal.role !== "operator") {
    throw new TRPCError({ code: "FORBIDDEN", message: "Rebuilding a read model needs the operator or admin role" });
  }
  return next();
});

export const readModelsRouter = createTRPCRouter({
  /** Every projection: state, generation, position against the head, rate, last error, rebuild progress. */
  list: scoped("queries:read").query(({ ctx }) => ctx.container.cqrs.projections.status()),

  /**
   * The same, live over Server-Sent Events (like the Queues page): at once, then every
   * `intervalMs` for as long as the page listens.
   */
  live: scoped("queries:read")
    .input(z.object({ intervalMs: z.number().int().min(1_000).max(60_000).default(1_000) }))
    .subscription(async function* ({ ctx, input, signal }) {
      const projections = ctx.container.cqrs.projections;
      while (!signal?.aborted) {
        yield { at: Date.now(), items: await projections.status() };
        try {
          await wait(input.intervalMs, undefined, { signal });
        } catch {
          return; // aborted: the page stopped listening
        }
      }
    }),

  /**
   * Starts a blue/green rebuild: a fresh generation fills from position 0 while queries keep
   * reading the active one, and takes over once it has caught up.
   */
  rebuild: operatorProcedure
    .input(z.object({ name: z.string().trim().min(1).max(200) }))
    .mutation(({ ctx, input }) => ctx.container.cqrs.projections.rebuild(input.name)),
});
