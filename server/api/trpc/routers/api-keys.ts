import { z } from "zod";
import { NotFoundError } from "@/server/engine/core/errors";
import { scopes, type Scope } from "@/server/engine/core/principal";
import { createTRPCRouter, scoped } from "../init";

const adminProcedure = scoped("admin");

/** What the dashboard may see of a stored key: never its hash. */
interface StoredKey {
  id: string;
  name: string;
  prefix: string;
  scopes: readonly Scope[];
  createdBy: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function publicKey(record: StoredKey) {
  return {
    id: record.id,
    name: record.name,
    prefix: record.prefix,
    scopes: [...record.scopes],
    createdBy: record.createdBy,
    createdAt: record.createdAt,
    lastUsedAt: record.lastUsedAt,
    revokedAt: record.revokedAt,
    status: record.revokedAt ? ("revoked" as const) : ("active" as const),
  };
}

export type ApiKeySummary = ReturnType<typeof publicKey>;

export const apiKeysRouter = createTRPCRouter({
  list: adminProcedure.query(async ({ ctx }) => {
    const records = await ctx.container.authServices.apiKeys.list();
    return records.map(publicKey);
  }),

  /** The plaintext key is in this answer only: it is stored hashed. */
  create: adminProcedure
    .input(
      z.object({
        name: z.string().trim().min(1, "Give the key a name").max(100, "At most 100 characters"),
        scopes: z.array(z.enum(scopes)).min(1, "Pick at least one scope"),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const created = await ctx.container.authServices.apiKeys.create({ name: input.name, scopes: input.scopes, createdBy: ctx.principal.name });
      return { key: created.key, record: publicKey(created.apiKey) };
    }),

  revoke: adminProcedure.input(z.object({ id: z.string().min(1) })).mutation(async ({ ctx, input }) => {
    const revoked = await ctx.container.authServices.apiKeys.revoke(input.id);
    if (!revoked) throw new NotFoundError("No active API key with this id");
    return { id: input.id };
  }),
});
