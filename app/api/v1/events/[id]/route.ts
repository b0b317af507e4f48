import { getEvent } from "@/server/api/rest/events";
import { restRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const GET = restRoute<{ id: string }>({ scope: "events:read", handler: getEvent });
