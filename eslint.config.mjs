import js from "@eslint/js";
import tseslint from "typescript-eslint";

const frameworkAndSdkImports = [
  "next", "next/*", "react", "react/*", "react-dom", "react-dom/*",
  "drizzle-orm", "drizzle-orm/*", "postgres", "@electric-sql/pglite", "@electric-sql/pglite/*",
  "ioredis", "kafkajs", "amqplib", "better-auth", "better-auth/*", "@trpc/*",
];

export default tseslint.config(
  { ignores: [".next/**", "node_modules/**", ".data/**", ".services/**", "drizzle/**", "next-env.d.ts", "playwright-report/**", "test-results/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Plain Node scripts (start, Kafka readiness) run outside TypeScript's view of globals.
    files: ["**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly" } },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The one dependency rule (ARCHITECTURE.md): the engine is pure TypeScript.
    files: ["server/engine/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [
          { group: frameworkAndSdkImports, message: "server/engine must not import frameworks, drizzle or broker SDKs: put it in server/adapters." },
          { group: ["@/server/adapters/*", "@/server/runtime/*", "@/server/api/*", "@/server/domain/*", "@/app/*", "@/components/*", "**/adapters/**", "**/runtime/**", "**/api/**", "**/domain/**"], message: "server/engine imports nothing outside server/engine." },
        ],
      }],
    },
  },
  {
    files: ["server/adapters/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["@/server/runtime/*", "@/server/api/*", "@/app/*", "@/components/*"], message: "adapters depend only on server/engine." }] }],
    },
  },
  {
    files: ["components/**/*.tsx", "components/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["@/server/adapters/*", "@/server/runtime/*", "@/server/engine/*/!(*types)"], message: "components import no server code (types only)." }] }],
    },
  },
);
