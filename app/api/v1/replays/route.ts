import { createReplay, listReplays } from "@/server/api/rest/delivery";
import { restRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const GET = restRoute({ scope: "admin", handler: listReplays });
export const POST = restRoute({ scope: "admin", handler: createReplay });
