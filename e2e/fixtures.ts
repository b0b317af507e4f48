// Credentials of the admin the e2e server is started with (see playwright.config.ts, webServer.env).
// Specs import them from here so the config and the tests cannot drift apart.
export const admin = {
  email: "admin@example.com",
  password: "e2e-password-123",
  apiKey: "e2e-admin-key-0123456789",
} as const;

export const E2E_PORT = 3100;
export const E2E_BASE_URL = `http://127.0.0.1:${E2E_PORT}`;
