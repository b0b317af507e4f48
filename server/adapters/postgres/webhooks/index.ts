export { PostgresWebhookStore, type PostgresWebhookStoreOptions } from "./postgres-webhook-store";
export { SecretBox, SecretBoxError } from "./secret-box";
