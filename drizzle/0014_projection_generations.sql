CREATE TABLE "eventloom_projection_generations" (
	"projection" text NOT NULL,
	"generation" integer NOT NULL,
	"version" integer NOT NULL,
	"position" bigint DEFAULT 0 NOT NULL,
	"status" text NOT NULL,
	"tables" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"activated_at" timestamp with time zone,
	CONSTRAINT "eventloom_projection_generations_pkey" PRIMARY KEY("projection","generation"),
	CONSTRAINT "eventloom_projection_generations_status" CHECK ("eventloom_projection_generations"."status" in ('building', 'active', 'retired'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "eventloom_projection_generations_one_active" ON "eventloom_projection_generations" USING btree ("projection") WHERE "eventloom_projection_generations"."status" = 'active';