import { metrics } from "@/server/api/rest/metrics";
import { restRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

// A scraper's key needs events:read: the figures are the ones /api/v1/status shows.
export const GET = restRoute({ scope: "events:read", handler: metrics });
