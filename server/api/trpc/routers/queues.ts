import { z } from "zod";
import { createTRPCRouter, scoped } from "../init";
import { queueFeedFor, watchQueues } from "../queue-feed";

export const queuesRouter = createTRPCRouter({
  /** Every subscription's figures now, with the last minute of rates. */
  list: scoped("events:read").query(({ ctx }) => queueFeedFor(ctx.container.transport.subscriptions).snapshot()),

  /**
   * The same, live over Server-Sent Events: a snapshot at once, then one every `intervalMs`
   * (1 to 60 s) for as long as the page listens.
   */
  live: scoped("events:read")
    .input(z.object({ intervalMs: z.number().int().min(1_000).max(60_000).default(1_000) }))
    .subscription(async function* ({ ctx, input, signal }) {
      yield* watchQueues(queueFeedFor(ctx.container.transport.subscriptions), input.intervalMs, signal);
    }),
});
