import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeContainer, createContainer, installContainer, type Container } from "@/server/runtime/container";
import { loadEnv, type Env } from "@/server/runtime/env";

/**
 * A container of its own for a REST integration suite: PGlite in a temp directory (or the server
 * at `DATABASE_URL` when given), installed as the process container the route handlers use.
 */
export const TEST_ADMIN_KEY = "test-admin-key-0123456789";

export interface TestApp {
  container: Container;
  dataDir: string;
  /** A Request to `path` on the app, with the admin key unless `key` says otherwise (null: no header). */
  request(path: string, init?: TestRequestInit): Request;
  close(): Promise<void>;
}

export interface TestRequestInit extends Omit<RequestInit, "body"> {
  key?: string | null;
  /** A string is sent as is, anything else as JSON; content-type is application/json unless given. */
  body?: unknown;
}

/**
 * `options.dataDir` reuses a directory (a restart of the same installation); it is then left for
 * the caller to remove.
 */
export async function startTestApp(overrides: Partial<Env> = {}, options: { dataDir?: string } = {}): Promise<TestApp> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "eventloom-rest-")));
  const container = await createContainer({
    ...loadEnv({}),
    DATA_DIR: dataDir,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    DEMO: "off",
    WORKERS: "off",
    ...overrides,
  });
  installContainer(container);
  return {
    container,
    dataDir,
    request(path, init = {}) {
      const { key = TEST_ADMIN_KEY, body, headers: given, ...rest } = init;
      const headers = new Headers(given);
      if (key !== null) headers.set("authorization", `Bearer ${key}`);
      const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      if (payload !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
      return new Request(`http://localhost${path}`, { ...rest, headers, body: payload });
    },
    async close() {
      await closeContainer();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Reads a response body as JSON, failing loudly (with the text) when it is not. */
export async function bodyOf<T = Record<string, unknown>>(response: Response): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`not JSON (${response.status}): ${text.slice(0, 500)}`);
  }
}
