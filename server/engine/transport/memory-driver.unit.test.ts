import { afterAll } from "vitest";
import { MemoryBroker } from "./memory-driver";
import { describeTransportContract } from "./transport.contract";

// One broker for the whole suite: every test uses its own topic, and the crash test needs two
// drivers on the same broker.
const broker = new MemoryBroker();
afterAll(() => broker.dispose());

describeTransportContract("memory", async ({ redeliveryAfterMs }) => broker.driver({ redeliveryAfterMs }), {
  redeliveryAfterMs: 300,
  eventuallyMs: 5_000,
});
