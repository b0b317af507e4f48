#!/usr/bin/env node
// `npm start`: check the configuration, build the app if the build is missing or older than the
// sources, then serve it. One process, embedded defaults unless the environment says otherwise.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const buildMarker = join(root, ".next", "BUILD_ID");
const sources = ["app", "components", "server", "drizzle", "instrumentation.ts", "proxy.ts", "next.config.ts", "package-lock.json", "postcss.config.mjs", "tsconfig.json"];
const ignored = new Set(["node_modules", ".next", ".data"]);

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (ignored.has(entry) || entry.endsWith(".test.ts")) continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", env: process.env });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// Fail in a second on a bad variable rather than after a build of several minutes.
run(process.execPath, ["--import", "tsx", join(root, "scripts", "check-env.ts")]);

const builtAt = existsSync(buildMarker) ? statSync(buildMarker).mtimeMs : 0;
const changedAt = Math.max(...sources.map((source) => newestMtime(join(root, source))));
if (builtAt < changedAt) {
  console.log(builtAt === 0 ? "No build yet: building the app (first start takes a few minutes)..." : "Sources changed since the last build: rebuilding...");
  run(join(root, "node_modules", ".bin", "next"), ["build"]);
}

const port = process.env.PORT ?? "3000";
const server = spawn(join(root, "node_modules", ".bin", "next"), ["start", "--port", port, "--hostname", process.env.HOST ?? "127.0.0.1"], {
  cwd: root,
  stdio: "inherit",
  env: process.env,
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
server.on("exit", (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
