import { restRoute } from "@/server/api/rest/route";
import { previewWebhookFilter } from "@/server/api/rest/webhooks";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const POST = restRoute({ scope: "webhooks:manage", handler: previewWebhookFilter });
