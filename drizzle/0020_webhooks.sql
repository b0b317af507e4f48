CREATE TABLE "eventloom_webhook_attempts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"delivery_id" uuid NOT NULL,
	"endpoint_id" uuid NOT NULL,
	"event_id" text NOT NULL,
	"event_type" text NOT NULL,
	"attempt" integer NOT NULL,
	"status" text NOT NULL,
	"trigger" text NOT NULL,
	"request" jsonb NOT NULL,
	"response" jsonb,
	"duration_ms" double precision NOT NULL,
	"error" text,
	"next_attempt_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "eventloom_webhook_attempts_status_check" CHECK ("eventloom_webhook_attempts"."status" in ('succeeded', 'failed')),
	CONSTRAINT "eventloom_webhook_attempts_trigger_check" CHECK ("eventloom_webhook_attempts"."trigger" in ('scheduled', 'manual', 'recover', 'test'))
);
--> statement-breakpoint
CREATE TABLE "eventloom_webhook_deliveries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"endpoint_id" uuid NOT NULL,
	"event_id" text NOT NULL,
	"event_type" text NOT NULL,
	"position" bigint NOT NULL,
	"partition_key" text,
	"status" text NOT NULL,
	"attempts" integer NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"last_attempt_at" timestamp with time zone,
	"last_response_status" integer,
	"last_error" text,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"lease_owner" text,
	"lease_until" timestamp with time zone,
	CONSTRAINT "eventloom_webhook_deliveries_event_key" UNIQUE("endpoint_id","event_id"),
	CONSTRAINT "eventloom_webhook_deliveries_status_check" CHECK ("eventloom_webhook_deliveries"."status" in ('pending', 'succeeded', 'failed', 'skipped'))
);
--> statement-breakpoint
CREATE TABLE "eventloom_webhook_endpoints" (
	"id" uuid PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"description" text NOT NULL,
	"event_types" text[] NOT NULL,
	"filter" text,
	"headers" jsonb NOT NULL,
	"rate_limit_per_second" integer,
	"ordered_by_key" boolean NOT NULL,
	"status" text NOT NULL,
	"disabled_reason" text,
	"disabled_at" timestamp with time zone,
	"failing_since" timestamp with time zone,
	"secrets" jsonb NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"version" integer NOT NULL,
	CONSTRAINT "eventloom_webhook_endpoints_status_check" CHECK ("eventloom_webhook_endpoints"."status" in ('enabled', 'disabled')),
	CONSTRAINT "eventloom_webhook_endpoints_disabled_reason_check" CHECK ("eventloom_webhook_endpoints"."disabled_reason" in ('manual', 'gone', 'failing'))
);
--> statement-breakpoint
CREATE TABLE "eventloom_webhook_endpoints_revision" (
	"id" smallint PRIMARY KEY NOT NULL,
	"revision" bigint NOT NULL,
	CONSTRAINT "eventloom_webhook_endpoints_revision_single_row" CHECK ("eventloom_webhook_endpoints_revision"."id" = 1)
);
--> statement-breakpoint
ALTER TABLE "eventloom_webhook_attempts" ADD CONSTRAINT "eventloom_webhook_attempts_delivery_id_eventloom_webhook_deliveries_id_fk" FOREIGN KEY ("delivery_id") REFERENCES "eventloom_webhook_deliveries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "eventloom_webhook_deliveries" ADD CONSTRAINT "eventloom_webhook_deliveries_endpoint_id_eventloom_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "eventloom_webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "eventloom_webhook_attempts_endpoint_idx" ON "eventloom_webhook_attempts" USING btree ("endpoint_id","created_at","id");--> statement-breakpoint
CREATE INDEX "eventloom_webhook_attempts_delivery_idx" ON "eventloom_webhook_attempts" USING btree ("delivery_id","created_at","id");--> statement-breakpoint
CREATE INDEX "eventloom_webhook_attempts_created_idx" ON "eventloom_webhook_attempts" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "eventloom_webhook_deliveries_due_idx" ON "eventloom_webhook_deliveries" USING btree ("next_attempt_at","id") WHERE "eventloom_webhook_deliveries"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "eventloom_webhook_deliveries_endpoint_status_idx" ON "eventloom_webhook_deliveries" USING btree ("endpoint_id","status","created_at");--> statement-breakpoint
CREATE INDEX "eventloom_webhook_deliveries_ordered_idx" ON "eventloom_webhook_deliveries" USING btree ("endpoint_id","partition_key","position") WHERE "eventloom_webhook_deliveries"."status" in ('pending', 'skipped') and "eventloom_webhook_deliveries"."partition_key" is not null;--> statement-breakpoint
CREATE INDEX "eventloom_webhook_deliveries_skipped_idx" ON "eventloom_webhook_deliveries" USING btree ("endpoint_id","position") WHERE "eventloom_webhook_deliveries"."status" = 'skipped';--> statement-breakpoint
CREATE INDEX "eventloom_webhook_endpoints_created_idx" ON "eventloom_webhook_endpoints" USING btree ("created_at","id");