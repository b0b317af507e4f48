import { restRoute } from "@/server/api/rest/route";
import { getTask } from "@/server/api/rest/tasks";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const GET = restRoute<{ id: string }>({ scope: "queries:read", handler: getTask });
