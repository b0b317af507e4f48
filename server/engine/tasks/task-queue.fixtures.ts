import { z } from "zod";
import { NonRetryableError } from "../core/errors";
import { defineTaskType, type TaskTypeDefinition } from "./task-type";

/**
 * For end-to-end tests of a TaskQueue on a real transport or store: one task type per outcome,
 * each taking `{ name: string }`.
 *
 * - `note` succeeds at once, pushing its name to `order` (so a test sees the order tasks ran in);
 * - `flaky` fails its first two attempts, then succeeds with `{ tries }` (the attempt number);
 * - `doomed` fails for good (a NonRetryableError "never"): dead after one attempt.
 */
export function outcomeTaskTypes(order: string[]): Array<TaskTypeDefinition<z.ZodType, unknown>> {
  const input = z.object({ name: z.string() });
  return [
    defineTaskType({ type: "note", input, handler: async ({ name }) => void order.push(name) }),
    defineTaskType({
      type: "flaky",
      input,
      handler: async (_input, context) => {
        if (context.attempt < 3) throw new Error(`try ${context.attempt}`);
        return { tries: context.attempt };
      },
    }),
    defineTaskType({
      type: "doomed",
      input,
      handler: async () => {
        throw new NonRetryableError("never");
      },
    }),
  ];
}
