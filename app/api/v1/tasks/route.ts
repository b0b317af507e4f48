import { restRoute } from "@/server/api/rest/route";
import { listTasks, submitTask } from "@/server/api/rest/tasks";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const GET = restRoute({ scope: "queries:read", handler: listTasks });
export const POST = restRoute({ scope: "commands:execute", handler: submitTask });
