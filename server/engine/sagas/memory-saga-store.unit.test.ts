import { InMemorySagaStore } from "./memory-saga-store";
import { describeSagaStoreContract } from "./saga-store.contract";

describeSagaStoreContract("in memory", async () => ({ store: new InMemorySagaStore() }));
