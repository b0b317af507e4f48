import { defineConfig, devices } from "@playwright/test";
import { admin, E2E_BASE_URL, E2E_PORT } from "./e2e/fixtures";

const isCI = !!process.env.CI;

// One data dir per `playwright test` run. Worker processes load this file again; they inherit the
// runner's environment, so the id is fixed once here and reused by them.
process.env.EVENTLOOM_E2E_RUN_ID ??= `${Date.now()}`;
const dataDir = `.data/e2e-${process.env.EVENTLOOM_E2E_RUN_ID}`;

export default defineConfig({
  testDir: "e2e",
  fullyParallel: false,
  workers: 1,
  retries: isCI ? 1 : 0,
  forbidOnly: isCI,
  reporter: "list",
  use: {
    baseURL: E2E_BASE_URL,
    headless: true,
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        headless: true,
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
          ],
        },
      },
    },
  ],
  webServer: {
    command: "node scripts/start.mjs",
    url: E2E_BASE_URL,
    timeout: 300_000,
    reuseExistingServer: !isCI,
    stdout: "pipe",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 10_000 },
    env: {
      PORT: String(E2E_PORT),
      DEMO: "off",
      DATA_DIR: dataDir,
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      ADMIN_API_KEY: admin.apiKey,
      BETTER_AUTH_SECRET: "e2e-only-better-auth-secret-0123456789abcdef",
      BETTER_AUTH_URL: E2E_BASE_URL,
      NEXT_TELEMETRY_DISABLED: "1",
      // The webhooks spec's receiver listens on loopback, which the SSRF rules refuse otherwise.
      WEBHOOK_ALLOWED_HOSTS: "127.0.0.1,localhost",
    },
  },
});
