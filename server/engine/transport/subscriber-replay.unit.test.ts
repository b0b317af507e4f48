import { describe, expect, it } from "vitest";
import { buildEnvelope } from "../core/envelope";
import { REPLAY_ID_HEADER, toWireMessage } from "./codec";
import type { WireMessage } from "./driver";
import { InMemoryDeadLetterStore, InMemoryInbox, MemoryDriver } from "./memory-driver";
import { startSubscriber, type DeliveryContext } from "./subscriber";
import { eventually } from "./transport.contract";

/**
 * A replay is an explicit request to process events again: the inbox (keyed by event id) must not
 * swallow a replayed delivery of an event the subscription already processed, yet a duplicate of
 * the replayed delivery itself (broker redelivery, a redrive) still has one effect.
 */
describe("Subscriber and replayed deliveries", () => {
  const replayed = (message: WireMessage, replayId: string): WireMessage => ({ ...message, headers: { ...message.headers, [REPLAY_ID_HEADER]: replayId } });

  it("processes a replayed delivery of an event its inbox recorded, once per replay, and says which replay", async () => {
    const driver = new MemoryDriver();
    const inbox = new InMemoryInbox();
    const seen: Array<{ id: string; context: DeliveryContext }> = [];
    const subscriber = await startSubscriber(driver, {
      topic: "t",
      subscription: "s",
      deadLetters: new InMemoryDeadLetterStore(),
      inbox,
      handler: async (event, context) => void seen.push({ id: event.id, context }),
    });
    const message = toWireMessage(buildEnvelope({ type: "unit.tested", data: { n: 1 } }));

    await driver.publish("t", [message]);
    await eventually(() => subscriber.stats().processed === 1);
    // The same event again without a replay id: a duplicate, skipped.
    await driver.redeliver("t", "s", message);
    await eventually(() => subscriber.stats().duplicates === 1);

    // Replayed: handled again, with the replay id in the context and the original event id.
    await driver.redeliver("t", "s", replayed(message, "r-1"));
    await eventually(() => subscriber.stats().processed === 2);
    // The replayed delivery delivered twice (at-least-once): one effect.
    await driver.redeliver("t", "s", replayed(message, "r-1"));
    await eventually(() => subscriber.stats().duplicates === 2);
    // A second replay is a second explicit request.
    await driver.redeliver("t", "s", replayed(message, "r-2"));
    await eventually(() => subscriber.stats().processed === 3);
    await subscriber.stop();

    expect(seen.map((entry) => [entry.id, entry.context.replayId])).toEqual([
      [message.id, undefined],
      [message.id, "r-1"],
      [message.id, "r-2"],
    ]);
    expect(seen[1]!.context.messageId).toBe(message.id);
    expect(await inbox.has("s", message.id)).toBe(true);
    expect(await inbox.has("s", `${message.id}/replay/r-1`)).toBe(true);
  });
});
