import { listQueries } from "@/server/api/rest/cqrs";
import { restRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const GET = restRoute({ scope: "queries:read", handler: listQueries });
