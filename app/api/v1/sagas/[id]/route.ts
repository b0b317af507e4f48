import { restRoute } from "@/server/api/rest/route";
import { getSaga } from "@/server/api/rest/sagas";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const GET = restRoute<{ id: string }>({ scope: "events:read", handler: getSaga });
