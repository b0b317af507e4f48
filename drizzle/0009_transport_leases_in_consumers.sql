DROP INDEX "eventloom_transport_messages_claim_idx";--> statement-breakpoint
ALTER TABLE "eventloom_transport_messages" DROP CONSTRAINT "eventloom_transport_messages_pkey";--> statement-breakpoint
ALTER TABLE "eventloom_transport_messages" ADD CONSTRAINT "eventloom_transport_messages_pkey" PRIMARY KEY("topic","group_name","priority","id");--> statement-breakpoint
ALTER TABLE "eventloom_transport_consumers" DROP COLUMN "claimed";--> statement-breakpoint
ALTER TABLE "eventloom_transport_consumers" DROP COLUMN "settled";--> statement-breakpoint
ALTER TABLE "eventloom_transport_messages" DROP COLUMN "lease_owner";--> statement-breakpoint
ALTER TABLE "eventloom_transport_messages" DROP COLUMN "lease_expires_at";