CREATE TABLE "eventloom_replays" (
	"id" uuid PRIMARY KEY NOT NULL,
	"target" jsonb NOT NULL,
	"filter" jsonb NOT NULL,
	"status" text NOT NULL,
	"total" integer NOT NULL,
	"done" integer DEFAULT 0 NOT NULL,
	"position" bigint NOT NULL,
	"rate_per_second" double precision,
	"error" text,
	"created_by" text NOT NULL,
	"idempotency_key" text,
	"fingerprint" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "eventloom_replays_idempotency_key" UNIQUE("idempotency_key")
);
--> statement-breakpoint
CREATE INDEX "eventloom_replays_created_idx" ON "eventloom_replays" USING btree ("created_at");