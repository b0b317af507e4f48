export { createRabbitmqDriver, RabbitmqDriver } from "./rabbitmq-driver";
export { DEFAULT_RETRY_TIERS_MS, type RabbitmqDriverOptions } from "./options";
