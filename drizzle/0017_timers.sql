CREATE TABLE "eventloom_timers" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"key" text NOT NULL,
	"status" text NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"payload" jsonb NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"fired_at" timestamp with time zone,
	"last_error" text,
	"claimed_by" text,
	"claimed_until" timestamp with time zone,
	CONSTRAINT "eventloom_timers_status_check" CHECK ("eventloom_timers"."status" in ('scheduled', 'fired', 'cancelled'))
);
--> statement-breakpoint
CREATE INDEX "eventloom_timers_status_due_idx" ON "eventloom_timers" USING btree ("status","due_at");--> statement-breakpoint
CREATE INDEX "eventloom_timers_key_idx" ON "eventloom_timers" USING btree ("key");