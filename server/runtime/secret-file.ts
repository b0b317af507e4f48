import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The secret kept in `${dataDir}/${fileName}`, generated on first use and readable by this user
 * only (0600), so an installation without configured secrets keeps the same ones across restarts.
 * Deployments with several hosts must configure the secret instead: each host would otherwise
 * generate its own file.
 */
export async function readOrCreateSecretFile(dataDir: string, fileName: string, generate: () => string): Promise<{ path: string; secret: string }> {
  const path = join(dataDir, fileName);
  await mkdir(dataDir, { recursive: true });
  try {
    // `wx`: only the first process to get here writes; one that loses the race reads the winner's.
    await writeFile(path, generate(), { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return { path, secret: (await readFile(path, "utf8")).trim() };
}
