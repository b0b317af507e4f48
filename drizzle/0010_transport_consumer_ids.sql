-- Consumers' rows are renewed every few seconds by live consumers, which write them again on
-- their next claim; the rows of any consumer at the time of this migration would lack ids.
DELETE FROM "eventloom_transport_consumers";--> statement-breakpoint
ALTER TABLE "eventloom_transport_consumers" ADD COLUMN "ids" bigint[] NOT NULL;