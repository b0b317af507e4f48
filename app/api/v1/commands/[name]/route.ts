import { executeCommand } from "@/server/api/rest/cqrs";
import { restRoute } from "@/server/api/rest/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

// The command's own scope and policy are checked by the command bus.
export const POST = restRoute<{ name: string }>({ scope: "commands:execute", handler: executeCommand });
