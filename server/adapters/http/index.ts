export { RESPONSE_BODY_LIMIT_BYTES, UndiciWebhookSender, type UndiciWebhookSenderOptions } from "./webhook-sender";
