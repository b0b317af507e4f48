import { listEvents, publishEvent } from "@/server/api/rest/events";
import { restRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const GET = restRoute({ scope: "events:read", handler: listEvents });
export const POST = restRoute({ scope: "events:publish", handler: publishEvent });
