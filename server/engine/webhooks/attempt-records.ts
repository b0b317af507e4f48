import type { AttemptRecord } from "./webhook-store";

/**
 * The record that decides each delivery's state when a batch holds several for it: the highest
 * attempt number, the later record on a tie. Postgres updates a row once per statement, so every
 * store applies this one alone.
 */
export function latestPerDelivery(records: AttemptRecord[]): AttemptRecord[] {
  const latest = new Map<string, AttemptRecord>();
  for (const record of records) {
    const seen = latest.get(record.delivery.id);
    if (!seen || record.attempt.attempt >= seen.attempt.attempt) latest.set(record.delivery.id, record);
  }
  return [...latest.values()];
}
