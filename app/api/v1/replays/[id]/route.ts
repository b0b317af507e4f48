import { cancelReplay, getReplay } from "@/server/api/rest/delivery";
import { restRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const GET = restRoute<{ id: string }>({ scope: "admin", handler: getReplay });
export const DELETE = restRoute<{ id: string }>({ scope: "admin", handler: cancelReplay });
