CREATE TABLE "rm_exam_sheets" (
	"sheet_id" uuid PRIMARY KEY NOT NULL,
	"exam_id" uuid NOT NULL,
	"student_id" text NOT NULL,
	"batch_id" uuid NOT NULL,
	"status" text NOT NULL,
	"page_count" integer NOT NULL,
	"max_score" double precision NOT NULL,
	"submitted_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"ocr_engine" text,
	"ocr_confidence" double precision,
	"answers_detected" integer,
	"ocr_duration_ms" bigint,
	"ocr_error" text,
	"grader_id" text,
	"grading_method" text,
	"score" double precision,
	"grading_duration_ms" bigint,
	"grading_error" text,
	"reviewer_id" text,
	"review_reason" text,
	"score_before_review" double precision,
	"reviewed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "rm_exams" (
	"exam_id" uuid PRIMARY KEY NOT NULL,
	"title" text NOT NULL,
	"subject" text NOT NULL,
	"status" text NOT NULL,
	"total_score" double precision NOT NULL,
	"question_count" integer NOT NULL,
	"duration_minutes" integer,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"results_published_at" timestamp with time zone,
	"sheet_count" integer NOT NULL,
	"sheet_counts" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rm_grading_stats" (
	"exam_id" uuid PRIMARY KEY NOT NULL,
	"graded_count" integer NOT NULL,
	"mean_percent" double precision,
	"min_percent" double precision,
	"max_percent" double precision,
	"histogram" jsonb NOT NULL,
	"score_counts" jsonb NOT NULL,
	"reviewed_count" integer NOT NULL,
	"review_adjustment_sum" double precision NOT NULL,
	"mean_review_adjustment" double precision,
	"ocr_failed_count" integer NOT NULL,
	"grading_failed_count" integer NOT NULL,
	"grading_ms_sum" bigint NOT NULL,
	"mean_grading_ms" double precision,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "rm_exam_sheets_exam_idx" ON "rm_exam_sheets" USING btree ("exam_id","submitted_at","sheet_id");--> statement-breakpoint
CREATE INDEX "rm_exams_created_idx" ON "rm_exams" USING btree ("created_at","exam_id");--> statement-breakpoint
CREATE INDEX "rm_exams_created_by_idx" ON "rm_exams" USING btree ("created_by","created_at","exam_id");--> statement-breakpoint
CREATE INDEX "rm_exams_status_idx" ON "rm_exams" USING btree ("status","created_at","exam_id");