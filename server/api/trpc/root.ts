import { createCallerFactory, createTRPCRouter } from "./init";
import { apiKeysRouter } from "./routers/api-keys";
import { commandsRouter } from "./routers/commands";
import { deadLettersRouter } from "./routers/dead-letters";
import { eventTypesRouter } from "./routers/event-types";
import { eventsRouter } from "./routers/events";
import { overviewRouter } from "./routers/overview";
import { queriesRouter } from "./routers/queries";
import { queuesRouter } from "./routers/queues";
import { readModelsRouter } from "./routers/read-models";
import { replaysRouter } from "./routers/replays";
import { sagasRouter } from "./routers/sagas";
import { sessionRouter } from "./routers/session";
import { usersRouter } from "./routers/users";
import { webhooksRouter } from "./routers/webhooks";

export const appRouter = createTRPCRouter({
  session: sessionRouter,
  overview: overviewRouter,
  events: eventsRouter,
  eventTypes: eventTypesRouter,
  apiKeys: apiKeysRouter,
  users: usersRouter,
  queues: queuesRouter,
  deadLetters: deadLettersRouter,
  replays: replaysRouter,
  commands: commandsRouter,
  queries: queriesRouter,
  readModels: readModelsRouter,
  sagas: sagasRouter,
  webhooks: webhooksRouter,
});

export type AppRouter = typeof appRouter;

/** Server-side caller (tests, server components). */
export const createCaller = createCallerFactory(appRouter);
