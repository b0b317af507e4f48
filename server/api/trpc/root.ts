import { createCallerFactory, createTRPCRouter } from "./init";
import { apiKeysRouter } from "./routers/api-keys";
import { eventTypesRouter } from "./routers/event-types";
import { eventsRouter } from "./routers/events";
import { overviewRouter } from "./routers/overview";
import { sessionRouter } from "./routers/session";
import { usersRouter } from "./routers/users";

export const appRouter = createTRPCRouter({
  session: sessionRouter,
  overview: overviewRouter,
  events: eventsRouter,
  eventTypes: eventTypesRouter,
  apiKeys: apiKeysRouter,
  users: usersRouter,
});

export type AppRouter = typeof appRouter;

/** Server-side caller (tests, server components). */
export const createCaller = createCallerFactory(appRouter);
