import { restRoute } from "@/server/api/rest/route";
import { cancelSaga } from "@/server/api/rest/sagas";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const POST = restRoute<{ id: string }>({ scope: "commands:execute", handler: cancelSaga });
