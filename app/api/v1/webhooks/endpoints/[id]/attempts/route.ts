import { restRoute } from "@/server/api/rest/route";
import { listWebhookAttempts } from "@/server/api/rest/webhooks";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const GET = restRoute<{ id: string }>({ scope: "webhooks:manage", handler: listWebhookAttempts });
