import type { RouterOutputs } from "../trpc";

/** The saga shapes the dashboard receives (server/api/trpc/routers/sagas.ts). */
export type SagaDetail = RouterOutputs["sagas"]["get"];
export type SagaStep = SagaDetail["steps"][number];
export type SagaSummary = RouterOutputs["sagas"]["list"]["items"][number];
export type SagaType = RouterOutputs["sagas"]["types"][number];
export type SagaCounts = RouterOutputs["sagas"]["counts"];
