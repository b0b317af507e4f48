import type { RouterOutputs } from "../trpc";

/** What the webhooks router sends the dashboard (signing secrets never included). */
export type EndpointWithStats = RouterOutputs["webhooks"]["get"];
export type EndpointView = RouterOutputs["webhooks"]["update"];
export type EndpointStats = EndpointWithStats["stats"];
export type AttemptSummary = RouterOutputs["webhooks"]["attempts"]["items"][number];
export type AttemptDetail = RouterOutputs["webhooks"]["attempt"];
export type WebhookEventType = RouterOutputs["webhooks"]["eventTypes"][number];
export type FilterPreviewResult = RouterOutputs["webhooks"]["previewFilter"];
