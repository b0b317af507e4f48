CREATE TABLE "eventloom_sagas" (
	"id" uuid PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"subject" text,
	"correlationid" text NOT NULL,
	"traceparent" text,
	"parent_id" uuid,
	"input" jsonb,
	"data" jsonb,
	"steps" jsonb NOT NULL,
	"compensations" jsonb NOT NULL,
	"error" jsonb,
	"cursor" integer NOT NULL,
	"wake_at" timestamp with time zone,
	"awaiting" text[] NOT NULL,
	"signals" jsonb NOT NULL,
	"cancel_requested" boolean NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	"revision" integer NOT NULL,
	"lease_owner" text,
	"lease_until" timestamp with time zone,
	CONSTRAINT "eventloom_sagas_status_check" CHECK ("eventloom_sagas"."status" in ('running', 'completed', 'compensating', 'compensated', 'failed', 'cancelled')),
	CONSTRAINT "eventloom_sagas_kind_check" CHECK ("eventloom_sagas"."kind" in ('orchestrated', 'choreographed'))
);
--> statement-breakpoint
CREATE INDEX "eventloom_sagas_due_idx" ON "eventloom_sagas" USING btree ("wake_at","id") WHERE "eventloom_sagas"."status" in ('running', 'compensating');--> statement-breakpoint
CREATE INDEX "eventloom_sagas_started_idx" ON "eventloom_sagas" USING btree ("started_at","id");--> statement-breakpoint
CREATE INDEX "eventloom_sagas_type_idx" ON "eventloom_sagas" USING btree ("type","started_at","id");--> statement-breakpoint
CREATE INDEX "eventloom_sagas_status_idx" ON "eventloom_sagas" USING btree ("status","started_at","id");--> statement-breakpoint
CREATE INDEX "eventloom_sagas_correlationid_idx" ON "eventloom_sagas" USING btree ("correlationid","started_at","id");--> statement-breakpoint
CREATE INDEX "eventloom_sagas_parent_idx" ON "eventloom_sagas" USING btree ("parent_id","started_at","id") WHERE "eventloom_sagas"."parent_id" is not null;--> statement-breakpoint
CREATE INDEX "eventloom_sagas_awaiting_idx" ON "eventloom_sagas" USING gin ("awaiting") WHERE "eventloom_sagas"."awaiting" <> '{}'::text[];