CREATE TABLE "eventloom_dead_letters" (
	"id" uuid PRIMARY KEY NOT NULL,
	"subscription" text NOT NULL,
	"topic" text NOT NULL,
	"message_id" text NOT NULL,
	"message_key" text NOT NULL,
	"priority" text NOT NULL,
	"headers" jsonb NOT NULL,
	"body" text NOT NULL,
	"error_type" text NOT NULL,
	"error_message" text NOT NULL,
	"attempts" integer NOT NULL,
	"first_failed_at" timestamp with time zone NOT NULL,
	"last_failed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "eventloom_dead_letters_subscription_message_key" UNIQUE("subscription","message_id")
);
--> statement-breakpoint
CREATE TABLE "eventloom_inbox" (
	"subscription" text NOT NULL,
	"message_id" text NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "eventloom_inbox_pkey" PRIMARY KEY("subscription","message_id")
);
--> statement-breakpoint
CREATE TABLE "eventloom_transport_consumers" (
	"topic" text NOT NULL,
	"group_name" text NOT NULL,
	"consumer" text NOT NULL,
	"keys" text[] NOT NULL,
	"claimed" bigint NOT NULL,
	"settled" bigint DEFAULT 0 NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "eventloom_transport_consumers_pkey" PRIMARY KEY("topic","group_name","consumer")
);
--> statement-breakpoint
CREATE TABLE "eventloom_transport_groups" (
	"topic" text NOT NULL,
	"group_name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "eventloom_transport_groups_pkey" PRIMARY KEY("topic","group_name")
);
--> statement-breakpoint
CREATE TABLE "eventloom_transport_messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"topic" text NOT NULL,
	"group_name" text NOT NULL,
	"message_id" text NOT NULL,
	"key" text NOT NULL,
	"priority" smallint NOT NULL,
	"headers" jsonb NOT NULL,
	"body" text NOT NULL,
	"attempt" integer DEFAULT 0 NOT NULL,
	"available_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_owner" text,
	"lease_expires_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "eventloom_dead_letters_error_idx" ON "eventloom_dead_letters" USING btree ("subscription","error_type","id");--> statement-breakpoint
CREATE INDEX "eventloom_transport_messages_claim_idx" ON "eventloom_transport_messages" USING btree ("topic","group_name","priority","id");