import { Redis } from "ioredis";

/**
 * For tests and benches, which keep their keys under a random prefix: deletes every key under
 * `${keyPrefix}:`, through `redis`, or a connection of its own to that URL.
 */
export async function deleteRedisKeys(redis: Redis | string, keyPrefix: string): Promise<void> {
  const connection = typeof redis === "string" ? new Redis(redis) : redis;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await connection.scan(cursor, "MATCH", `${keyPrefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await connection.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    if (connection !== redis) await connection.quit();
  }
}
