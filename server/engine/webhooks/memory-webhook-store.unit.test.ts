import { InMemoryWebhookStore } from "./memory-webhook-store";
import { describeWebhookStoreContract } from "./webhook-store.contract";

describeWebhookStoreContract("in memory", async () => ({ store: new InMemoryWebhookStore() }));
