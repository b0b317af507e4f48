import { describeTaskStoreContract } from "./task-store.contract";
import { InMemoryTaskStore } from "./task-store";

describeTaskStoreContract("memory", async () => new InMemoryTaskStore());
