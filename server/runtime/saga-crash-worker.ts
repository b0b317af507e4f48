/**
 * A worker process for the saga crash test (sagas-crash.int.test.ts): the real runtime (the
 * container on Postgres, the Redis transport, the task queue's workers, the saga orchestrator and
 * timers), which SIGKILLs itself at a chosen boundary of one sheet's `sheet_grading` saga.
 *
 *   node --import tsx server/runtime/saga-crash-worker.ts '<settings as JSON>'
 *
 * (node itself, not the tsx CLI, which would run the worker in a grandchild.) In order it:
 * 1. builds the container and starts the transport workers and the saga workers;
 * 2. with `resume`, waits until that sheet's saga (crashed by the worker before) has ended;
 * 3. with `sheet`, creates the exam (replayed after the first time) and submits the sheet, both
 *    under fixed idempotency keys, so a restarted worker changes nothing by doing it again;
 * 4. with `killAt`, SIGKILLs itself when the sheet's saga reaches that boundary: `action_done`
 *    (the step's action returned, its end not saved) or `saved` (a transition was saved).
 *
 * The demo task types run fast and never fail by chance (the test counts effects after crashes,
 * not the queue's retries), except grading of `alwaysFailsStudent`'s sheets, which fails for
 * good: the compensation path.
 *
 * stdout: one JSON object per line with `"worker": true`: `ready`, `resumed`, `submitted`,
 * `killing`, `stopped`. It exits by itself when its stdin closes (the test is gone) or after
 * `maxLifetimeMs`.
 */
import { writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { z } from "zod";
import { PostgresTaskStore } from "@/server/adapters/postgres/task-store";
import { gradingSagaId } from "@/server/domain/sagas";
import { demoTaskTypes } from "@/server/domain/tasks";
import { NonRetryableError } from "@/server/engine/core/errors";
import { systemPrincipal } from "@/server/engine/core/principal";
import type { SagaObservation } from "@/server/engine/sagas/orchestrator";
import { terminalSagaStatuses } from "@/server/engine/sagas/saga-store";
import { TaskQueue } from "@/server/engine/tasks/task-queue";
import type { TaskTypeDefinition } from "@/server/engine/tasks/task-type";
import { createContainer } from "./container";
import { loadEnv } from "./env";
import { startSagaWorkers } from "./sagas";
import { TASK_EVENT_SOURCE } from "./tasks";
import { startTransportWorkers } from "./transport-workers";

const uuid = z.uuid();

export const killPointSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("action_done"), step: z.string().min(1) }),
  z.object({ kind: z.literal("saved"), transition: z.string().min(1) }),
]);
export type KillPoint = z.infer<typeof killPointSchema>;

const settingsSchema = z.object({
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//),
  redisUrl: z.string().regex(/^rediss?:\/\//),
  topic: z.string().min(1),
  leaseMs: z.number().int().min(500).default(1_500),
  pollIntervalMs: z.number().int().min(10).default(100),
  /** Simulated time of one step of a demo task. */
  taskStepMs: z.number().int().min(1).default(20),
  examId: uuid,
  resume: uuid.optional(),
  sheet: z.object({ sheetId: uuid, studentId: z.string().min(1) }).optional(),
  killAt: killPointSchema.optional(),
  alwaysFailsStudent: z.string().min(1).default("stu-unmarkable"),
  maxLifetimeMs: z.number().int().min(1_000).default(5 * 60_000),
});

export type SagaCrashWorkerSettings = z.input<typeof settingsSchema>;

/** A line of the worker's stdout. (Import types only from this file: importing it runs the worker.) */
export interface SagaCrashWorkerReport {
  worker: true;
  event: "ready" | "resumed" | "submitted" | "killing" | "stopped";
  pid: number;
  detail?: string;
}

/** The test's exam and sheets are handed in as this principal: its idempotency keys hold across restarts. */
const CLIENT = systemPrincipal("saga-crash-test");
const END_POLL_MS = 100;

function report(event: SagaCrashWorkerReport["event"], detail?: string): void {
  const line: SagaCrashWorkerReport = { worker: true, event, pid: process.pid, ...(detail === undefined ? {} : { detail }) };
  // Synchronous: the line must be out before a SIGKILL that follows it.
  writeSync(1, `${JSON.stringify(line)}\n`);
}

function matches(observation: SagaObservation, killAt: KillPoint): boolean {
  if (killAt.kind === "action_done") return observation.kind === "action_done" && observation.phase === "forward" && observation.step === killAt.step;
  return observation.kind === "saved" && observation.transition === killAt.transition;
}

/** The demo task types, fast and without chance failures; grading one student's sheets always fails. */
function crashTaskTypes(settings: z.output<typeof settingsSchema>): Array<TaskTypeDefinition<z.ZodType, unknown>> {
  return demoTaskTypes({ stepMs: settings.taskStepMs, transientFailureRate: 0, permanentFailureRate: 0, random: () => 0.5 }).map((definition) =>
    definition.type !== "grading_execution"
      ? definition
      : {
          ...definition,
          handler: async (input, context) => {
            if ((input as { studentId: string }).studentId === settings.alwaysFailsStudent) throw new NonRetryableError("the answer key of this exam is missing");
            return definition.handler(input, context);
          },
        },
  );
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) throw new Error("usage: node --import tsx server/runtime/saga-crash-worker.ts '<settings JSON>'");
  const settings = settingsSchema.parse(JSON.parse(raw));
  const env = loadEnv({
    DATABASE_URL: settings.databaseUrl,
    DATA_DIR: tmpdir(),
    BUS_TRANSPORT: "redis",
    REDIS_URL: settings.redisUrl,
    TRANSPORT_TOPIC: settings.topic,
    DEMO: "off",
    LOG_LEVEL: "error",
    LOG_POLL_INTERVAL_MS: "50",
    SAGA_LEASE_MS: String(settings.leaseMs),
    SAGA_POLL_INTERVAL_MS: String(settings.pollIntervalMs),
  });
  const container = await createContainer(env);
  // The container's queue submits (the sagas' task steps); these workers run what it submits,
  // from the same task table and topic, with task types that fail only where the test says.
  const taskWorkers = new TaskQueue({
    driver: container.transport.driver,
    store: new PostgresTaskStore(container.database),
    events: container.publisher,
    deadLetters: container.transport.deadLetters,
    types: crashTaskTypes(settings),
    concurrency: 8,
    source: TASK_EVENT_SOURCE,
  });
  const transportWorkers = startTransportWorkers({ ...container, tasks: taskWorkers });
  await transportWorkers.ready;
  const sagaWorkers = startSagaWorkers(container.sagas);
  const { sheet, killAt } = settings;
  if (sheet && killAt) {
    const sagaId = gradingSagaId(sheet.sheetId);
    container.sagas.orchestrator.observe((observation) => {
      if (observation.saga.id !== sagaId || !matches(observation, killAt)) return;
      report("killing", JSON.stringify(killAt));
      process.kill(process.pid, "SIGKILL");
    });
  }

  let stopping: Promise<void> | undefined;
  const stop = (exitCode: number): Promise<void> =>
    (stopping ??= (async () => {
      await sagaWorkers.stop().catch(() => undefined);
      await transportWorkers.stop().catch(() => undefined);
      await taskWorkers.stop().catch(() => undefined);
      await container.close().catch(() => undefined);
      report("stopped");
      process.exit(exitCode);
    })());
  process.on("SIGTERM", () => void stop(0));
  process.on("SIGINT", () => void stop(0));
  process.stdin.on("end", () => void stop(0));
  process.stdin.on("error", () => void stop(0));
  process.stdin.resume();
  setTimeout(() => void stop(3), settings.maxLifetimeMs).unref();
  report("ready");

  if (settings.resume) {
    const sagaId = gradingSagaId(settings.resume);
    for (let polls = 0; ; polls += 1) {
      const saga = await container.sagas.store.get(sagaId);
      if (saga && terminalSagaStatuses.includes(saga.status)) break;
      if (polls * END_POLL_MS > settings.maxLifetimeMs) throw new Error(`saga ${sagaId} did not end: ${saga?.status ?? "missing"}`);
      await new Promise((resolve) => setTimeout(resolve, END_POLL_MS));
    }
    report("resumed", settings.resume);
  }
  if (sheet) {
    const { commands } = container.cqrs;
    await commands.execute(
      "exam.create",
      { examId: settings.examId, title: "Saga crash test", subject: "Mathematics", totalScore: 80, questionCount: 12 },
      { principal: CLIENT, idempotencyKey: `saga-crash-exam:${settings.examId}` },
    );
    // The sheet's own id as its conversation: everything its grading causes carries it.
    await commands.execute(
      "sheet.submit",
      { sheetId: sheet.sheetId, examId: settings.examId, studentId: sheet.studentId, pageCount: 2 },
      { principal: CLIENT, idempotencyKey: `saga-crash-sheet:${sheet.sheetId}`, correlationid: sheet.sheetId },
    );
    report("submitted", sheet.sheetId);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${JSON.stringify({ event: "fatal", pid: process.pid, message: error instanceof Error ? (error.stack ?? error.message) : String(error) })}\n`);
  process.exit(1);
});
