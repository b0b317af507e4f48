/**
 * What a projection runner reports (status API, Read models page, `/api/v1/status`). The runner
 * itself lives in projection-runner.ts.
 */
export type ProjectionState = "catching_up" | "live" | "rebuilding" | "stopped" | "failing";

export interface ProjectionStatus {
  name: string;
  description: string;
  version: number;
  state: ProjectionState;
  /** Active generation, or null before the first start. */
  generation: number | null;
  /** Position the active generation has applied. */
  position: number;
  /** Head of the log when last measured. */
  headPosition: number;
  /** headPosition - position. */
  lag: number;
  /** A rebuild in progress: the new generation and how far it got (0..1 of the head). */
  rebuild: { generation: number; position: number; progress: number; startedAt: string } | null;
  /** Events applied per second over the last few seconds (this process). */
  eventsPerSecond: number;
  lastError: { message: string; at: string } | null;
  /** True when this process holds the projection's lease (runs it); otherwise figures come from the database. */
  runningHere: boolean;
}
