import { listEventTypes, registerEventType } from "@/server/api/rest/event-types";
import { restRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

// Any authenticated caller may read the catalogue (publishers need the schemas); only admins add to it.
export const GET = restRoute({ handler: listEventTypes });
export const POST = restRoute({ scope: "admin", handler: registerEventType });
