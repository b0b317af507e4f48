import { restRoute } from "@/server/api/rest/route";
import { listTaskTypes } from "@/server/api/rest/tasks";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

// Any authenticated caller may read the catalogue (submitters need the input schemas).
export const GET = restRoute({ handler: listTaskTypes });
