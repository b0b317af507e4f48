import { redriveDeadLetter } from "@/server/api/rest/delivery";
import { restRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const POST = restRoute<{ id: string }>({ scope: "admin", handler: redriveDeadLetter });
