import { z } from "zod";
import { IDEMPOTENCY_KEY_FORMAT } from "../../rest/idempotency";
import { authedProcedure, createTRPCRouter, scoped } from "../init";

const idempotencyKey = z.string().regex(IDEMPOTENCY_KEY_FORMAT, "must be 1 to 255 visible ASCII characters");

export const commandsRouter = createTRPCRouter({
  /**
   * The catalog: every command with its description, scope and input JSON Schema. Anyone signed in
   * may read it (an analyst sees what exists and what it would need); running one is scoped.
   */
  list: authedProcedure.query(({ ctx }) => [...ctx.container.cqrs.commands.list()].sort((a, b) => a.name.localeCompare(b.name))),

  /**
   * Runs a command as the signed-in user. The console sends one idempotency key per form
   * submission, so a double click runs it once and answers both with the first result.
   */
  execute: scoped("commands:execute")
    .input(
      z.object({
        name: z.string().trim().min(1).max(200),
        input: z.unknown(),
        expectedVersion: z.number().int().nonnegative().optional(),
        idempotencyKey: idempotencyKey.optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      ctx.container.cqrs.commands.execute(input.name, input.input ?? {}, {
        principal: ctx.principal,
        ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
        ...(input.expectedVersion === undefined ? {} : { expectedVersion: input.expectedVersion }),
      }),
    ),
});
