import { runQuery } from "@/server/api/rest/cqrs";
import { restRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

// A query with its own scope (not queries:read) is checked by the query bus.
export const GET = restRoute<{ name: string }>({ scope: "queries:read", handler: runQuery });
