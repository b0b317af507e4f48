import { toNextJsHandler } from "better-auth/next-js";
import { publicRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

// better-auth answers its own routes (sign-in, sign-out, session, admin); the wrapper supplies the
// process's auth instance and turns a container that cannot start into a 503 problem.
export const { GET, POST } = toNextJsHandler(
  publicRoute(async ({ request, container }) => (await container()).authServices.auth.handler(request)),
);
