export { createPostgresDriver, PostgresDriver, type PostgresDriverOptions } from "./transport/postgres-driver";
export { PostgresDeadLetterStore } from "./transport/postgres-dead-letter-store";
export { PostgresInbox, withInbox, type EventloomTransaction } from "./transport/postgres-inbox";
