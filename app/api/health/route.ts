import { health } from "@/server/api/rest/health";
import { publicRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const GET = publicRoute(health);
