import { z } from "zod";
import type { EventTypeRegistry } from "@/server/engine/core/registry";
import type { SubscriptionDefinition } from "./subscriptions";

/**
 * A probe operators (and the browser tests) use to check the delivery path end to end: a
 * `diagnostics.probe` event flows through the transport to the `diagnostics` subscription, which
 * fails it on purpose while `failUntil` lies in the future. So a probe can be made to exhaust its
 * retries, land in the dead letters, and succeed when redriven later.
 */
export const diagnosticsProbeSchema = z.object({
  note: z.string().max(500).optional(),
  /** RFC 3339; the handler fails every attempt made before this time. */
  failUntil: z.iso.datetime({ offset: true }).optional(),
});

export function registerDiagnosticsEventTypes(registry: EventTypeRegistry): void {
  registry.define({
    type: "diagnostics.probe",
    version: 1,
    description: "Checks delivery end to end; fails on purpose until `failUntil`.",
    schema: diagnosticsProbeSchema,
  });
}

export class ProbeFailure extends Error {
  override name = "ProbeFailure";
}

export function diagnosticsSubscription(now: () => number = Date.now): SubscriptionDefinition {
  return {
    name: "diagnostics",
    description: "Receives diagnostics.probe events; fails them on purpose while failUntil is in the future.",
    types: ["diagnostics.probe"],
    retry: { maxAttempts: 3, initialDelayMs: 500, multiplier: 2 },
    async handle(event) {
      const { failUntil } = diagnosticsProbeSchema.parse(event.data);
      if (failUntil && Date.parse(failUntil) > now()) {
        throw new ProbeFailure(`probe ${event.id} fails on purpose until ${failUntil}`);
      }
    },
  };
}
