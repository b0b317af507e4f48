import { restRoute } from "@/server/api/rest/route";
import { listSagaTypes } from "@/server/api/rest/sagas";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

// Any authenticated caller may read the catalogue (starters need the input schemas).
export const GET = restRoute({ handler: listSagaTypes });
