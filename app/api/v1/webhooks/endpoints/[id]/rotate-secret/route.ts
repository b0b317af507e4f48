import { restRoute } from "@/server/api/rest/route";
import { rotateWebhookSecret } from "@/server/api/rest/webhooks";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const POST = restRoute<{ id: string }>({ scope: "webhooks:manage", handler: rotateWebhookSecret });
