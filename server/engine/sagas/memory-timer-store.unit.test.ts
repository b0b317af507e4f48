import { InMemoryTimerStore } from "./memory-timer-store";
import { describeTimerStoreContract } from "./timer-store.contract";

describeTimerStoreContract("memory", async () => new InMemoryTimerStore());
