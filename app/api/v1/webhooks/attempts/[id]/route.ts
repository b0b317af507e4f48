import { restRoute } from "@/server/api/rest/route";
import { getWebhookAttempt } from "@/server/api/rest/webhooks";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const GET = restRoute<{ id: string }>({ scope: "webhooks:manage", handler: getWebhookAttempt });
