import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  resolve: { alias: { "@": root } },
  test: {
    projects: [
      {
        resolve: { alias: { "@": root } },
        test: { name: "unit", include: ["**/*.unit.test.ts"], exclude: ["node_modules/**", ".next/**"] },
      },
      {
        resolve: { alias: { "@": root } },
        test: {
          name: "integration",
          include: ["**/*.int.test.ts"],
          exclude: ["node_modules/**", ".next/**"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Suites share real brokers on loopback; each uses its own schema/topic names, but running
          // files one at a time keeps a 2-core machine from starving the brokers.
          fileParallelism: false,
        },
      },
    ],
  },
});
