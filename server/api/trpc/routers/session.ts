import { hasScope, scopes } from "@/server/engine/core/principal";
import { authedProcedure, createTRPCRouter } from "../init";

export const sessionRouter = createTRPCRouter({
  /** Who is signed in, and what the dashboard may offer them. */
  me: authedProcedure.query(({ ctx }) => {
    const principal = ctx.principal;
    return {
      kind: principal.kind,
      id: principal.id,
      name: principal.name,
      role: principal.role ?? null,
      scopes: [...principal.scopes],
      isAdmin: hasScope(principal, "admin"),
      canPublish: hasScope(principal, "events:publish"),
      /** Every scope an API key can carry (for the create-key form). */
      availableScopes: [...scopes],
    };
  }),
});
