CREATE TABLE "eventloom_tasks" (
	"id" uuid PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"priority" text NOT NULL,
	"key" text,
	"status" text NOT NULL,
	"input" jsonb NOT NULL,
	"result" jsonb,
	"error" jsonb,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"timeout_ms" integer NOT NULL,
	"progress" jsonb,
	"idempotency_key" text,
	"fingerprint" text,
	"correlationid" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"next_attempt_at" timestamp with time zone,
	CONSTRAINT "eventloom_tasks_idempotency_key_key" UNIQUE("idempotency_key"),
	CONSTRAINT "eventloom_tasks_status_check" CHECK ("eventloom_tasks"."status" in ('queued', 'running', 'succeeded', 'failed', 'dead')),
	CONSTRAINT "eventloom_tasks_priority_check" CHECK ("eventloom_tasks"."priority" in ('high', 'normal', 'low'))
);
--> statement-breakpoint
CREATE INDEX "eventloom_tasks_status_idx" ON "eventloom_tasks" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "eventloom_tasks_type_idx" ON "eventloom_tasks" USING btree ("type","status","id");