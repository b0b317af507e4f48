import { restRoute } from "@/server/api/rest/route";
import { listSagas, startSaga } from "@/server/api/rest/sagas";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

// Sagas are operational state, read like the log and the status; starting one is acting, like a command.
export const GET = restRoute({ scope: "events:read", handler: listSagas });
export const POST = restRoute({ scope: "commands:execute", handler: startSaga });
