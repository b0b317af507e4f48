import { restRoute } from "@/server/api/rest/route";
import { deleteWebhookEndpoint, getWebhookEndpoint, updateWebhookEndpoint } from "@/server/api/rest/webhooks";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const GET = restRoute<{ id: string }>({ scope: "webhooks:manage", handler: getWebhookEndpoint });
export const PATCH = restRoute<{ id: string }>({ scope: "webhooks:manage", handler: updateWebhookEndpoint });
export const DELETE = restRoute<{ id: string }>({ scope: "webhooks:manage", handler: deleteWebhookEndpoint });
