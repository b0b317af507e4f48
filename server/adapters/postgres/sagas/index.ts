export { PostgresTimerStore } from "./postgres-timer-store";
export { PostgresSagaStore } from "./postgres-saga-store";
