import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveWebhookSecretsKey, WEBHOOK_SECRETS_KEY_FILE } from "./webhooks";

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "eventloom-webhook-key-"));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe("resolveWebhookSecretsKey", () => {
  it("uses WEBHOOK_SECRETS_KEY when set, and writes no file", async () => {
    const configured = Buffer.alloc(32, 9);
    const key = await resolveWebhookSecretsKey({ WEBHOOK_SECRETS_KEY: configured.toString("base64"), DATA_DIR: dataDir, DATABASE_URL: undefined });
    expect(key.equals(configured)).toBe(true);
    await expect(stat(join(dataDir, WEBHOOK_SECRETS_KEY_FILE))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("otherwise generates 32 random bytes once into DATA_DIR, readable by the owner only, and keeps them", async () => {
    const env = { WEBHOOK_SECRETS_KEY: undefined, DATA_DIR: dataDir, DATABASE_URL: undefined };
    const first = await resolveWebhookSecretsKey(env);
    expect(first).toHaveLength(32);
    const path = join(dataDir, WEBHOOK_SECRETS_KEY_FILE);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(path, "utf8")).trim(), "base64").equals(first)).toBe(true);
    expect((await resolveWebhookSecretsKey(env)).equals(first)).toBe(true);
    // Another installation gets another key.
    const otherDir = await mkdtemp(join(tmpdir(), "eventloom-webhook-key-"));
    try {
      expect((await resolveWebhookSecretsKey({ ...env, DATA_DIR: otherDir })).equals(first)).toBe(false);
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it("refuses a key file that does not hold 32 bytes, naming the file", async () => {
    await writeFile(join(dataDir, WEBHOOK_SECRETS_KEY_FILE), Buffer.alloc(16, 1).toString("base64"), { mode: 0o600 });
    await expect(resolveWebhookSecretsKey({ WEBHOOK_SECRETS_KEY: undefined, DATA_DIR: dataDir, DATABASE_URL: undefined })).rejects.toThrow(
      new RegExp(`${WEBHOOK_SECRETS_KEY_FILE} does not hold the base64 of 32 bytes`),
    );
  });
});
