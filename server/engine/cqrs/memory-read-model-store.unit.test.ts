import { InMemoryReadModelStore } from "./memory-read-model-store";
import { describeReadModelStoreContract } from "./read-model-store.contract";

describeReadModelStoreContract("in-memory", async () => ({ store: new InMemoryReadModelStore(), close: async () => {} }));
