CREATE TABLE "eventloom_checkpoints" (
	"name" text PRIMARY KEY NOT NULL,
	"position" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "eventloom_event_types" (
	"type" text NOT NULL,
	"version" integer NOT NULL,
	"description" text,
	"schema" jsonb NOT NULL,
	"registered_at" timestamp with time zone NOT NULL,
	CONSTRAINT "eventloom_event_types_pkey" PRIMARY KEY("type","version")
);
--> statement-breakpoint
CREATE TABLE "eventloom_events" (
	"position" bigint PRIMARY KEY NOT NULL,
	"id" uuid NOT NULL,
	"stream_id" text NOT NULL,
	"stream_version" integer NOT NULL,
	"type" text NOT NULL,
	"source" text NOT NULL,
	"specversion" text NOT NULL,
	"time" timestamp with time zone NOT NULL,
	"subject" text,
	"datacontenttype" text NOT NULL,
	"dataschema" text,
	"data" jsonb NOT NULL,
	"correlationid" text NOT NULL,
	"causationid" text,
	"traceparent" text NOT NULL,
	"tracestate" text,
	"priority" text NOT NULL,
	"partitionkey" text,
	"schemaversion" integer NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "eventloom_events_id_key" UNIQUE("id"),
	CONSTRAINT "eventloom_events_stream_version_key" UNIQUE("stream_id","stream_version")
);
--> statement-breakpoint
CREATE TABLE "eventloom_idempotency_keys" (
	"key" text PRIMARY KEY NOT NULL,
	"fingerprint" text NOT NULL,
	"event_ids" uuid[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "eventloom_log_head" (
	"singleton" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"last_position" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "eventloom_log_head_singleton" CHECK ("eventloom_log_head"."singleton")
);
--> statement-breakpoint
CREATE TABLE "eventloom_streams" (
	"stream_id" text PRIMARY KEY NOT NULL,
	"version" integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX "eventloom_events_type_idx" ON "eventloom_events" USING btree ("type" text_pattern_ops,"position");--> statement-breakpoint
CREATE INDEX "eventloom_events_subject_idx" ON "eventloom_events" USING btree ("subject","position") WHERE "eventloom_events"."subject" is not null;--> statement-breakpoint
CREATE INDEX "eventloom_events_correlationid_idx" ON "eventloom_events" USING btree ("correlationid","position");--> statement-breakpoint
CREATE INDEX "eventloom_events_time_idx" ON "eventloom_events" USING btree ("time");