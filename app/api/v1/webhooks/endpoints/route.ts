import { restRoute } from "@/server/api/rest/route";
import { createWebhookEndpoint, listWebhookEndpoints } from "@/server/api/rest/webhooks";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

// Managing webhooks needs webhooks:manage (admin implies it): endpoints hold URLs and headers receivers trust.
export const GET = restRoute({ scope: "webhooks:manage", handler: listWebhookEndpoints });
export const POST = restRoute({ scope: "webhooks:manage", handler: createWebhookEndpoint });
