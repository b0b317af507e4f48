import { parseRedisDriverOptions, type RedisDriverOptions } from "./options";
import { RedisStreamsDriver } from "./redis-driver";

export { RedisDedupInbox } from "./dedup-inbox";
export type { RedisDedupInboxOptions, RedisDriverOptions } from "./options";
export type { RedisStreamsDriver } from "./redis-driver";

/**
 * The Redis Streams transport driver (see {@link RedisStreamsDriver}). Options are validated at
 * once: a bad value throws a ValidationError naming the option. Call `connect()` before use.
 */
export function createRedisDriver(options: RedisDriverOptions): RedisStreamsDriver {
  return new RedisStreamsDriver(parseRedisDriverOptions(options));
}
