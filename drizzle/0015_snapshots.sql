CREATE TABLE "eventloom_snapshots" (
	"stream_id" text PRIMARY KEY NOT NULL,
	"aggregate" text NOT NULL,
	"schema_version" integer NOT NULL,
	"version" integer NOT NULL,
	"state" jsonb NOT NULL,
	"saved_at" timestamp with time zone DEFAULT now() NOT NULL
);
