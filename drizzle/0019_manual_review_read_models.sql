ALTER TABLE "rm_exam_sheets" ADD COLUMN "manual_review_reason" text;--> statement-breakpoint
ALTER TABLE "rm_exam_sheets" ADD COLUMN "overdue_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "rm_grading_stats" ADD COLUMN "manual_review_count" integer DEFAULT 0 NOT NULL;