import { serveOpenApiDocument } from "@/server/api/rest/openapi";
import { restRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

// Authenticated like every v1 route: the contract makes /api/health the only public one.
export const GET = restRoute({ handler: serveOpenApiDocument });
