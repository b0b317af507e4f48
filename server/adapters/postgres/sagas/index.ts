export { PostgresTimerStore } from "./postgres-timer-store";
