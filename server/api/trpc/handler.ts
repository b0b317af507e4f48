import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { logger } from "@/server/runtime/logger";
import { createTRPCContext } from "./init";
import { appRouter } from "./root";

/** Serves tRPC over fetch at /api/trpc (the dashboard's API). */
export function handleTRPCRequest(request: Request): Promise<Response> {
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req: request,
    router: appRouter,
    createContext: () => createTRPCContext({ request }),
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") logger.error("trpc procedure failed", { path, error: error.cause ?? error });
    },
  });
}
