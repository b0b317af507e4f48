"use client";

import { createTRPCContext } from "@trpc/tanstack-react-query";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/trpc/root";

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type RouterInputs = inferRouterInputs<AppRouter>;

/** A stored event as the dashboard receives it (CloudEvents attributes + position). */
export type EventRecord = RouterOutputs["events"]["byId"];
export type EventTypeInfo = RouterOutputs["eventTypes"]["list"][number];
export type Me = RouterOutputs["session"]["me"];
