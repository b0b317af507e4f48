import { createTRPCRouter, scoped } from "../init";
import { overviewStats } from "../overview-stats";

export const overviewRouter = createTRPCRouter({
  /** Head position, totals per type and events per minute over the last hour. */
  stats: scoped("events:read").query(({ ctx }) => overviewStats(ctx.container.store)),
});
