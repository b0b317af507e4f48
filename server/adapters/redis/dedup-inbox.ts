import type { Redis } from "ioredis";
import type { Inbox } from "@/server/engine/transport/dead-letters";
import { bounded, openConnection, unavailable, whenReady } from "./connection";
import { inboxKey } from "./keys";
import { parseRedisDedupInboxOptions, type RedisDedupInboxOptions } from "./options";

/**
 * A dedup window for effects outside Postgres (an HTTP call, an email): a message id is
 * remembered for `windowSeconds` (SET NX EX), so a redelivery within the window is recognised.
 * Effects committed in Postgres use the Postgres inbox instead, which commits with the effect;
 * here the check and the effect are not atomic, so a crash between effect and `record` lets one
 * duplicate through, and a duplicate arriving after the window is not recognised.
 */
export class RedisDedupInbox implements Inbox {
  private readonly options: Required<RedisDedupInboxOptions>;
  private readonly redis: Redis;
  private connecting: Promise<void> | undefined;

  constructor(options: RedisDedupInboxOptions) {
    this.options = parseRedisDedupInboxOptions(options);
    this.redis = openConnection(this.options.url, "eventloom:inbox");
    // Failures reach callers through their commands; the event only needs a listener.
    this.redis.on("error", () => undefined);
  }

  async has(subscription: string, messageId: string): Promise<boolean> {
    await this.ready();
    const found = await bounded(this.redis.exists(this.key(subscription, messageId)), this.options.operationTimeoutMs, "an inbox lookup");
    return found === 1;
  }

  async record(subscription: string, messageId: string): Promise<void> {
    await this.ready();
    // NX keeps the first record's expiry: the window runs from the first time the effect happened.
    await bounded(this.redis.set(this.key(subscription, messageId), "1", "EX", this.options.windowSeconds, "NX"), this.options.operationTimeoutMs, "an inbox record");
  }

  async close(): Promise<void> {
    if (this.redis.status === "wait" || this.redis.status === "end") return;
    await bounded(this.redis.quit(), this.options.operationTimeoutMs, "QUIT").catch(() => this.redis.disconnect());
  }

  private key(subscription: string, messageId: string): string {
    return inboxKey(this.options.keyPrefix, subscription, messageId);
  }

  private ready(): Promise<void> {
    if (this.redis.status !== "wait") return whenReady(this.redis, this.options.operationTimeoutMs);
    this.connecting ??= this.redis.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw unavailable("Redis is unreachable", error);
    });
    return this.connecting;
  }
}
