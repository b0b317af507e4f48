import { describeEventStoreContract } from "./event-store.contract";
import { InMemoryEventStore } from "./memory-event-store";

describeEventStoreContract("in-memory", async () => new InMemoryEventStore());
