import type { EventRecord } from "../trpc";

/** The attributes tables and the live tail need; both the REST stream and tRPC provide them. */
export type TailEvent = Pick<EventRecord, "id" | "type" | "time" | "position" | "correlationid" | "source" | "data" | "priority"> &
  Partial<Pick<EventRecord, "subject" | "causationid" | "traceparent">>;
