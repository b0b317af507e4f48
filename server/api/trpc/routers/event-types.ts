import { createTRPCRouter, scoped } from "../init";

export const eventTypesRouter = createTRPCRouter({
  /** The registry: every type with its current version and JSON Schema, sorted by name. */
  list: scoped("events:read").query(({ ctx }) => {
    const items = ctx.container.registry.list();
    return [...items].sort((a, b) => a.type.localeCompare(b.type));
  }),
});
