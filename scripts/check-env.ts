import { ConfigError, loadEnv } from "../server/runtime/env";

try {
  loadEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
