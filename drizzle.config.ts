import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./server/adapters/postgres/schema/index.ts",
  out: "./drizzle",
});
