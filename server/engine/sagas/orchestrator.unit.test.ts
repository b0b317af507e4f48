import { describe, expect, it } from "vitest";
import { z } from "zod";
import { EngineError, isEngineError, NonRetryableError, RetryAfterError, ValidationError } from "../core/errors";
import { newId } from "../core/ids";
import { SAGA_EVENT_TYPES } from "./events";
import { deferred, harness } from "./orchestrator.fixtures";
import { defineSaga, type SagaAction, type SagaDefinition, type SagaHttpResponse, type SagaStepDefinition } from "./saga-definition";

/** Retry quickly and predictably: no jitter, 1 s then 2 s. */
const fastRetry = { maxAttempts: 3, initialDelayMs: 1_000, multiplier: 2, maxDelayMs: 60_000, jitter: 0 };

const orderInput = z.object({ orderId: z.string().min(1), amount: z.number().positive() });

function command(name: string): SagaAction<unknown> {
  return { kind: "command", command: name, input: (context) => ({ key: context.idempotencyKey }) };
}

function local(run: () => Promise<unknown> | unknown): SagaAction<unknown> {
  return { kind: "local", run: async () => run() };
}

/** A saga of the given steps over the order input, its data a log of what steps saw. */
function sagaOf(
  type: string,
  steps: Array<SagaStepDefinition<Record<string, unknown>>>,
  extra: Partial<Pick<SagaDefinition<z.infer<typeof orderInput>, Record<string, unknown>>, "deadline">> = {},
) {
  return defineSaga<z.infer<typeof orderInput>, Record<string, unknown>>({
    type,
    description: `${type} for tests`,
    input: orderInput,
    initialData: (input) => ({ orderId: input.orderId }) as Record<string, unknown>,
    subject: (input) => input.orderId,
    steps,
    ...extra,
  });
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe("SagaOrchestrator", () => {
  it("runs command, local and task steps in order, saving each completion with the next start", async () => {
    const saga = sagaOf("order", [
      { name: "reserve", action: command("stock.reserve"), apply: (data, result) => ({ ...data, reservedIn: (result as { streamId: string }).streamId }) },
      { name: "price", action: local(() => ({ total: 42 })), apply: (data, result) => ({ ...data, ...(result as object) }) },
      { name: "ship", action: { kind: "task", taskType: "shipping", input: (context) => ({ order: (context.data as { orderId: string }).orderId }) }, apply: (data, result) => ({ ...data, shipped: result }) },
    ]);
    const h = harness([saga]);
    const { saga: started, created } = await h.orchestrator.start("order", { orderId: "o-1", amount: 10 });
    expect(created).toBe(true);
    expect(started).toMatchObject({ status: "running", subject: "o-1", correlationid: started.id, steps: [{ status: "pending" }, { status: "pending" }, { status: "pending" }] });

    await h.orchestrator.runDue();
    const waiting = await h.orchestrator.get(started.id);
    const task = h.tasks.only("shipping");
    expect(task).toMatchObject({ input: { order: "o-1" }, idempotencyKey: `saga:${started.id}:ship`, correlationid: started.id });
    expect(waiting).toMatchObject({ status: "running", cursor: 2, awaiting: [`task:${task.id}`], steps: [{ status: "completed" }, { status: "completed" }, { status: "waiting", attempts: 1 }] });
    expect(h.commands.calls).toHaveLength(1);
    expect(h.commands.calls[0]?.context).toMatchObject({ idempotencyKey: `saga:${started.id}:reserve`, correlationid: started.id, principal: { id: "system:sagas" } });

    const succeeded = h.tasks.succeed(task.id, { carrier: "dhl" });
    await h.orchestrator.handleEvent(succeeded);
    await h.orchestrator.runDue();

    const done = await h.orchestrator.get(started.id);
    expect(done).toMatchObject({ status: "completed", cursor: 3, awaiting: [], signals: {}, wakeAt: null, leaseOwner: null });
    expect(done?.endedAt).not.toBeNull();
    expect(done?.data).toEqual({ orderId: "o-1", reservedIn: "stream-stock.reserve", total: 42, shipped: { carrier: "dhl" } });
    expect(done?.steps.map((step) => [step.name, step.status, step.attempts])).toEqual([
      ["reserve", "completed", 1],
      ["price", "completed", 1],
      ["ship", "completed", 1],
    ]);
    expect(done?.steps[0]?.events).toEqual([expect.objectContaining({ type: "stock.reserve.done" })]);
    expect(done?.steps[2]?.events).toEqual([{ id: succeeded.id, type: "task.succeeded" }]);
    expect(done?.steps[0]?.history).toEqual([{ attempt: 1, startedAt: expect.any(String), endedAt: expect.any(String) }]);

    expect(h.transitions(started.id)).toEqual([
      "started",
      "step_started:reserve",
      "step_completed:reserve",
      "step_started:price",
      "step_completed:price",
      "step_started:ship",
      "step_waiting:ship",
      "step_completed:ship",
      "completed",
    ]);
    // One save per step on the happy path: a completion and the next start share a revision.
    const revisions = h.observations.flatMap((observation) => (observation.kind === "saved" ? [[observation.transition, observation.saga.revision] as const] : []));
    const revisionOf = (transition: string) => revisions.find(([name]) => name === transition)?.[1];
    expect(revisionOf("step_completed:reserve")).toBe(revisionOf("step_started:price"));
    expect(revisionOf("step_completed:ship")).toBe(revisionOf("completed"));
    expect(h.published.map((draft) => draft.type)).toEqual([SAGA_EVENT_TYPES.started, SAGA_EVENT_TYPES.completed]);
    expect(h.published[1]).toMatchObject({ subject: started.id, partitionkey: started.id, correlationid: started.id, data: { sagaId: started.id, sagaType: "order", subject: "o-1", parentId: null } });
    expect(h.errors).toEqual([]);
    expect(h.orchestrator.stats()).toMatchObject({ owner: "worker-1", leaseLost: 0 });
  });

  it("retries a failing step with exponential backoff, then completes", async () => {
    let calls = 0;
    const saga = sagaOf("flaky", [
      {
        name: "call",
        retry: fastRetry,
        action: local(() => {
          calls += 1;
          if (calls < 3) throw new Error(`boom ${calls}`);
          return "ok";
        }),
      },
    ]);
    const h = harness([saga]);
    const { saga: started } = await h.orchestrator.start("flaky", { orderId: "o", amount: 1 });
    await h.orchestrator.runDue();
    let current = await h.orchestrator.get(started.id);
    const firstFailure = Date.parse(current!.steps[0]!.history[0]!.endedAt!);
    expect(current?.steps[0]).toMatchObject({ status: "running", attempts: 1, error: { type: "Error", message: "boom 1" } });
    expect(Date.parse(current!.steps[0]!.nextAttemptAt!) - firstFailure).toBe(1_000);
    expect(current?.wakeAt).toBe(current?.steps[0]?.nextAttemptAt);

    // Not due yet: nothing happens.
    expect(await h.orchestrator.runDue()).toBe(0);
    h.clock.advance(1_000);
    await h.orchestrator.runDue();
    current = await h.orchestrator.get(started.id);
    expect(current?.steps[0]).toMatchObject({ attempts: 2, error: { message: "boom 2" } });
    expect(Date.parse(current!.steps[0]!.nextAttemptAt!) - h.clock.now()).toBe(2_000);

    h.clock.advance(2_000);
    await h.orchestrator.runDue();
    current = await h.orchestrator.get(started.id);
    expect(current?.status).toBe("completed");
    expect(current?.steps[0]).toMatchObject({ status: "completed", attempts: 3, result: "ok" });
    expect(current?.steps[0]?.error).toBeUndefined();
    expect(current?.steps[0]?.history.map((attempt) => attempt.error?.message ?? null)).toEqual(["boom 1", "boom 2", null]);
    expect(h.transitions(started.id)).toContain("step_retry_scheduled:call");
  });

  it("compensates the completed steps that have a compensation, in reverse order, when a step fails for good", async () => {
    const undone: string[] = [];
    const saga = sagaOf("trip", [
      { name: "flight", action: command("flight.book"), compensation: local(() => void undone.push("flight")) },
      { name: "insurance", action: command("insurance.add") },
      { name: "upgrade", action: command("upgrade.add"), when: () => false, compensation: local(() => void undone.push("upgrade")) },
      { name: "hotel", action: command("hotel.book"), compensation: local(() => void undone.push("hotel")) },
      { name: "payment", action: local(() => Promise.reject(new NonRetryableError("card declined"))), compensation: local(() => void undone.push("payment")) },
      { name: "email", action: command("email.send"), compensation: local(() => void undone.push("email")) },
    ]);
    const h = harness([saga]);
    const { saga: started } = await h.orchestrator.start("trip", { orderId: "t", amount: 5 });
    await h.orchestrator.runDue();

    const ended = await h.orchestrator.get(started.id);
    expect(undone).toEqual(["hotel", "flight"]);
    expect(ended).toMatchObject({ status: "compensated", error: { type: "NonRetryableError", message: "card declined" }, wakeAt: null });
    expect(ended?.steps.map((step) => step.status)).toEqual(["completed", "completed", "skipped", "completed", "failed", "pending"]);
    expect(ended?.steps[4]).toMatchObject({ attempts: 1, error: { message: "card declined" } });
    expect(ended?.compensations.map((step) => [step.name, step.status, step.attempts])).toEqual([
      ["hotel", "completed", 1],
      ["flight", "completed", 1],
    ]);
    expect(h.commands.effectsOf("email.send")).toBe(0);
    expect(h.published.map((draft) => draft.type)).toEqual([SAGA_EVENT_TYPES.started, SAGA_EVENT_TYPES.compensating, SAGA_EVENT_TYPES.compensated]);
    expect(h.published[1]?.data).toMatchObject({ failedStep: "payment", toCompensate: ["hotel", "flight"], error: { message: "card declined" } });
    expect(h.transitions(started.id)).toEqual(expect.arrayContaining(["step_failed:payment", "compensating", "compensation_started:hotel", "compensation_completed:flight", "compensated"]));
  });

  it("fails a step at once on a validation, not-found or forbidden error, and after its last attempt otherwise", async () => {
    const saga = sagaOf("rules", [
      { name: "first", action: command("ok.run"), compensation: command("ok.undo") },
      { name: "second", retry: { ...fastRetry, maxAttempts: 2, initialDelayMs: 0 }, action: command("broken.run") },
    ]);
    const h = harness([saga]);
    h.commands.behaviour.set("broken.run", () => {
      throw new ValidationError("bad input", [{ path: "x", message: "is required" }]);
    });
    const { saga: invalid } = await h.orchestrator.start("rules", { orderId: "a", amount: 1 });
    await h.orchestrator.runDue();
    expect(await h.orchestrator.get(invalid.id)).toMatchObject({ status: "compensated", steps: [{ status: "completed" }, { status: "failed", attempts: 1 }] });

    h.commands.behaviour.set("broken.run", () => {
      throw new Error("database is down");
    });
    const { saga: flaky } = await h.orchestrator.start("rules", { orderId: "b", amount: 1 });
    await h.orchestrator.runDue();
    expect(await h.orchestrator.get(flaky.id)).toMatchObject({ status: "compensated", steps: [{ status: "completed" }, { status: "failed", attempts: 2 }], compensations: [{ name: "first", status: "completed" }] });
    expect(h.commands.effectsOf("ok.undo")).toBe(2);
  });

  it("leaves a saga failed when a compensation keeps failing, and retry resumes it with attempts starting over", async () => {
    let refundWorks = false;
    const saga = sagaOf("refund", [
      {
        name: "charge",
        action: command("card.charge"),
        compensationRetry: { maxAttempts: 2, initialDelayMs: 0, jitter: 0 },
        compensation: local(() => {
          if (!refundWorks) throw new Error("refund service down");
          return "refunded";
        }),
      },
      { name: "deliver", action: local(() => Promise.reject(new NonRetryableError("out of stock"))) },
    ]);
    const h = harness([saga]);
    const { saga: started } = await h.orchestrator.start("refund", { orderId: "r", amount: 3 });
    await h.orchestrator.runDue();

    const failed = await h.orchestrator.get(started.id);
    expect(failed).toMatchObject({ status: "failed", wakeAt: null, error: { message: "out of stock" }, compensations: [{ name: "charge", status: "failed", attempts: 2, error: { message: "refund service down" } }] });
    expect(h.published.at(-1)).toMatchObject({ type: SAGA_EVENT_TYPES.failed, data: { compensation: "charge", error: { message: "refund service down" } } });
    // A failed saga is nobody's due work.
    expect(await h.orchestrator.runDue()).toBe(0);
    const notFailed = await caught(h.orchestrator.retry(newId()));
    expect(isEngineError(notFailed) && notFailed.code).toBe("not_found");

    refundWorks = true;
    const resumed = await h.orchestrator.retry(started.id);
    expect(resumed.status).toBe("compensating");
    await h.orchestrator.runDue();
    const compensated = await h.orchestrator.get(started.id);
    expect(compensated?.status).toBe("compensated");
    expect(compensated?.compensations.map((step) => [step.name, step.status, step.attempts])).toEqual([
      ["charge", "failed", 2],
      ["charge", "completed", 1],
    ]);
    const again = await caught(h.orchestrator.retry(started.id));
    expect(isEngineError(again) && again.code).toBe("conflict");
  });

  it("cancels a saga waiting for a task: the wait is abandoned and the completed steps are compensated", async () => {
    const saga = sagaOf("cancel_me", [
      { name: "hold", action: command("seat.hold"), compensation: command("seat.release") },
      { name: "scan", action: { kind: "task", taskType: "scan", input: () => ({}) }, compensation: command("scan.undo") },
    ]);
    const h = harness([saga]);
    const { saga: started } = await h.orchestrator.start("cancel_me", { orderId: "c", amount: 1 });
    await h.orchestrator.runDue();
    expect((await h.orchestrator.get(started.id))?.steps[1]?.status).toBe("waiting");

    const requested = await h.orchestrator.cancel(started.id, "customer changed their mind");
    expect(requested).toMatchObject({ cancelRequested: true, error: { type: "SagaCancelled", message: "customer changed their mind" } });
    await h.orchestrator.runDue();

    const cancelled = await h.orchestrator.get(started.id);
    expect(cancelled).toMatchObject({ status: "cancelled", awaiting: [], steps: [{ status: "completed" }, { status: "failed", error: { type: "SagaCancelled" } }], compensations: [{ name: "hold", status: "completed" }] });
    expect(h.commands.effectsOf("seat.release")).toBe(1);
    expect(h.commands.effectsOf("scan.undo")).toBe(0);
    expect(h.published.at(-1)).toMatchObject({ type: SAGA_EVENT_TYPES.cancelled, data: { reason: "customer changed their mind" } });

    // The task's late outcome reaches nothing.
    await h.orchestrator.handleEvent(h.tasks.succeed(h.tasks.only("scan").id, {}));
    expect(await h.orchestrator.runDue()).toBe(0);
    const ended = await caught(h.orchestrator.cancel(started.id, "again"));
    expect(isEngineError(ended) && ended.code).toBe("conflict");
    const blank = await caught(h.orchestrator.cancel(started.id, " "));
    expect(blank).toBeInstanceOf(ValidationError);
    expect((blank as ValidationError).issues.map((issue) => issue.path)).toEqual(["reason"]);
  });

  it("honours a cancel requested while a worker runs a step, once the step is recorded", async () => {
    const release = deferred();
    const saga = sagaOf("slow", [
      { name: "slow", action: local(() => release.promise.then(() => "done")), compensation: command("slow.undo") },
      { name: "next", action: command("next.run") },
    ]);
    const h = harness([saga]);
    const { saga: started } = await h.orchestrator.start("slow", { orderId: "s", amount: 1 });
    const running = h.orchestrator.runDue();
    await vitestWaitFor(async () => (await h.orchestrator.get(started.id))?.steps[0]?.status === "running");
    await h.orchestrator.cancel(started.id, "stop it");
    release.resolve();
    await running;
    await h.orchestrator.runDue();

    const cancelled = await h.orchestrator.get(started.id);
    // The next step's start was saved with the slow one's end; the cancel came back with that save, so it never ran.
    expect(cancelled).toMatchObject({
      status: "cancelled",
      steps: [{ status: "completed", attempts: 1 }, { status: "failed", attempts: 1, error: { type: "SagaCancelled", message: "stop it" } }],
      compensations: [{ name: "slow", status: "completed" }],
    });
    expect(h.commands.effectsOf("next.run")).toBe(0);
    expect(h.orchestrator.stats().leaseLost).toBe(0);
  });

  it("compensates a saga whose deadline passes (compensate), once, and cancels the timer of a saga that ended", async () => {
    const saga = sagaOf(
      "timed",
      [
        { name: "hold", action: command("room.hold"), compensation: command("room.release") },
        { name: "wait", action: { kind: "task", taskType: "confirm", input: () => ({}) }, timeoutMs: 3_600_000 },
      ],
      { deadline: { afterMs: 600_000, onExpiry: "compensate" } },
    );
    const h = harness([saga]);
    const { saga: late } = await h.orchestrator.start("timed", { orderId: "late", amount: 1 });
    const { saga: quick } = await h.orchestrator.start("timed", { orderId: "quick", amount: 1 });
    await h.orchestrator.runDue();
    expect(await h.timers.list({ key: late.id, limit: 10 })).toEqual([expect.objectContaining({ id: `saga-deadline:${late.id}`, kind: "saga.deadline", status: "scheduled" })]);

    // The quick one finishes: its deadline is cancelled.
    const quickTask = [...h.tasks.tasks.values()].find((task) => task.idempotencyKey === `saga:${quick.id}:wait`)!;
    await h.orchestrator.handleEvent(h.tasks.succeed(quickTask.id, {}));
    await h.orchestrator.runDue();
    expect((await h.orchestrator.get(quick.id))?.status).toBe("completed");
    expect((await h.orchestrator.timers({ key: quick.id, limit: 10 }))[0]?.status).toBe("cancelled");

    h.clock.advance(600_000);
    expect(await h.timers.fireDue()).toBe(1);
    expect(await h.timers.fireDue()).toBe(0);
    await h.orchestrator.runDue();
    const cancelled = await h.orchestrator.get(late.id);
    expect(cancelled).toMatchObject({ status: "cancelled", error: { message: "deadline" }, compensations: [{ name: "hold", status: "completed" }] });
    expect(h.commands.effectsOf("room.release")).toBe(1);
    expect((await h.timers.list({ key: late.id, limit: 10 }))[0]?.status).toBe("fired");
  });

  it("runs a deadline's escalation once, records it, and lets the saga go on", async () => {
    const saga = sagaOf(
      "escalating",
      [{ name: "grade", action: { kind: "task", taskType: "grading", input: () => ({}) }, timeoutMs: 3_600_000 }],
      { deadline: { afterMs: 60_000, onExpiry: "escalate", escalation: command("case.flag_overdue") } },
    );
    const h = harness([saga]);
    const { saga: started } = await h.orchestrator.start("escalating", { orderId: "e", amount: 1 });
    await h.orchestrator.runDue();
    h.clock.advance(60_000);
    expect(await h.timers.fireDue()).toBe(1);
    expect(await h.timers.fireDue()).toBe(0);
    h.clock.advance(60_000);
    expect(await h.timers.fireDue()).toBe(0);

    expect(h.commands.effects.map((effect) => [effect.name, effect.key])).toEqual([["case.flag_overdue", `saga:${started.id}:deadline`]]);
    const escalated = await h.orchestrator.get(started.id);
    expect(escalated).toMatchObject({ status: "running", steps: [{ name: "grade", status: "waiting" }, { name: "deadline", status: "completed", events: [{ type: "case.flag_overdue.done" }] }] });

    await h.orchestrator.handleEvent(h.tasks.succeed(h.tasks.only("grading").id, { score: 9 }));
    await h.orchestrator.runDue();
    expect((await h.orchestrator.get(started.id))?.status).toBe("completed");
    expect(h.errors).toEqual([]);
  });

  it("does not miss a task outcome that arrived before the step was saved waiting", async () => {
    const saga = sagaOf("racy", [{ name: "ocr", action: { kind: "task", taskType: "ocr", input: () => ({}) }, apply: (data, result) => ({ ...data, ocr: result }) }]);
    const h = harness([saga]);
    h.tasks.onSubmit = async (task) => {
      // The worker is faster than the saga: the outcome is signalled before anything awaits it.
      await h.orchestrator.handleEvent(h.tasks.succeed(task.id, { text: "fast" }));
    };
    const { saga: started } = await h.orchestrator.start("racy", { orderId: "x", amount: 1 });
    await h.orchestrator.runDue();
    expect(await h.orchestrator.get(started.id)).toMatchObject({ status: "completed", data: { ocr: { text: "fast" } } });
    expect(h.transitions(started.id)).toContain("step_waiting:ocr");

    // A task that had ended before the submit (a repeat of its idempotency key) settles the step without waiting.
    const second = sagaOf("replayed", [{ name: "ocr", action: { kind: "task", taskType: "ocr2", input: () => ({}) } }]);
    const h2 = harness([second]);
    const id = newId();
    const first = await h2.tasks.submit({ type: "ocr2", input: {}, idempotencyKey: `saga:${id}:ocr` });
    h2.tasks.succeed(first.id, "earlier");
    await h2.orchestrator.start("replayed", { orderId: "y", amount: 1 }, { id });
    await h2.orchestrator.runDue();
    expect(await h2.orchestrator.get(id)).toMatchObject({ status: "completed", steps: [{ status: "completed", result: "earlier" }] });
    expect(h2.transitions(id)).not.toContain("step_waiting:ocr");
  });

  it("fails a task step at once when its task died non-retryably, and retries one that ran out of attempts", async () => {
    const saga = sagaOf("tasks", [{ name: "work", retry: { ...fastRetry, initialDelayMs: 0 }, action: { kind: "task", taskType: "work", input: () => ({}) } }]);
    const h = harness([saga]);
    const { saga: unreadable } = await h.orchestrator.start("tasks", { orderId: "u", amount: 1 });
    await h.orchestrator.runDue();
    await h.orchestrator.handleEvent(h.tasks.kill(h.tasks.only("work").id, "non_retryable", "scan below 150 dpi"));
    await h.orchestrator.runDue();
    expect(await h.orchestrator.get(unreadable.id)).toMatchObject({ status: "compensated", steps: [{ status: "failed", attempts: 1, error: { type: "NonRetryableError", message: "scan below 150 dpi" } }] });

    const h2 = harness([saga]);
    const { saga: exhausted } = await h2.orchestrator.start("tasks", { orderId: "x", amount: 1 });
    await h2.orchestrator.runDue();
    await h2.orchestrator.handleEvent(h2.tasks.kill(h2.tasks.only("work").id, "attempts_exhausted"));
    await h2.orchestrator.runDue();
    // The repeat submit returns the same dead task (same idempotency key): every attempt fails, then the step does.
    expect(await h2.orchestrator.get(exhausted.id)).toMatchObject({ status: "compensated", steps: [{ status: "failed", attempts: 3 }] });
  });

  it("fails an awaited attempt whose outcome does not come within the step's timeout", async () => {
    const saga = sagaOf("slow_task", [{ name: "work", timeoutMs: 10_000, retry: { ...fastRetry, maxAttempts: 2 }, action: { kind: "task", taskType: "work", input: () => ({}) } }]);
    const h = harness([saga]);
    const { saga: started } = await h.orchestrator.start("slow_task", { orderId: "s", amount: 1 });
    await h.orchestrator.runDue();
    h.clock.advance(10_000);
    await h.orchestrator.runDue();
    expect((await h.orchestrator.get(started.id))?.steps[0]).toMatchObject({ status: "running", attempts: 1, error: { type: "SagaStepTimeoutError" } });
    h.clock.advance(1_000);
    await h.orchestrator.runDue();
    // The second attempt waits for the same task (same idempotency key), which then succeeds.
    expect((await h.orchestrator.get(started.id))?.steps[0]).toMatchObject({ status: "waiting", attempts: 2 });
    await h.orchestrator.handleEvent(h.tasks.succeed(h.tasks.only("work").id, "late"));
    await h.orchestrator.runDue();
    expect(await h.orchestrator.get(started.id)).toMatchObject({ status: "completed", steps: [{ result: "late" }] });
  });

  it("fans out child sagas and completes when every child ended, awaiting a child someone else started", async () => {
    const child = sagaOf("line", [
      {
        name: "pick",
        action: { kind: "local", run: async (context) => ((context.data as { orderId: string }).orderId === "bad" ? Promise.reject(new NonRetryableError("no stock")) : "picked") },
      },
    ]);
    const knownId = newId();
    const parent = defineSaga({
      type: "order_batch",
      description: "fans out lines",
      input: z.object({ lines: z.array(z.string()) }),
      initialData: (input) => input,
      steps: [
        {
          name: "lines",
          action: { kind: "children", sagaType: "line", children: (context) => context.data.lines.map((line) => ({ key: line, input: { orderId: line, amount: 1 }, ...(line === "known" ? { sagaId: knownId } : {}) })) },
          apply: (data, result) => ({ ...data, summary: result }),
        },
      ],
    });
    const h = harness([child, parent]);
    // Started by someone else (a reaction) before the parent got there.
    await h.orchestrator.start("line", { orderId: "known", amount: 1 }, { id: knownId });
    const { saga: batch } = await h.orchestrator.start("order_batch", { lines: ["a", "bad", "known"] });
    await h.orchestrator.runDue();

    const done = await h.orchestrator.get(batch.id);
    expect(done?.status).toBe("completed");
    const summary = (done?.data as { summary: { total: number; completed: number; failed: number; children: Array<{ key: string; status: string; sagaId: string }> } }).summary;
    expect(summary).toMatchObject({ total: 3, completed: 2, failed: 1 });
    expect(summary.children.map((entry) => [entry.key, entry.status])).toEqual([
      ["a", "completed"],
      ["bad", "compensated"],
      ["known", "completed"],
    ]);
    expect(summary.children[2]?.sagaId).toBe(knownId);
    const children = await h.orchestrator.list({ parentId: batch.id, limit: 10 });
    expect(children.items).toHaveLength(2);
    expect(children.items.every((entry) => entry.correlationid === batch.correlationid)).toBe(true);
    expect((await h.orchestrator.get(knownId))?.parentId).toBeNull();
  });

  it("resumes after a crash: another worker takes over once the lease expired and no completed step runs twice", async () => {
    const saga = sagaOf("crashy", [
      { name: "one", action: command("one.run") },
      { name: "two", action: command("two.run") },
      { name: "three", action: command("three.run") },
    ]);
    const h = harness([saga]);
    const crashed = deferred();
    // The process dies right after step two's command, before that is recorded.
    h.orchestrator.observe((observation) => (observation.kind === "action_done" && observation.step === "two" ? (crashed.resolve(), new Promise<void>(() => undefined)) : undefined));
    const { saga: started } = await h.orchestrator.start("crashy", { orderId: "k", amount: 1 });
    void h.orchestrator.runDue();
    await crashed.promise;

    const successor = h.another("worker-2");
    // Held by the dead worker until its lease runs out.
    expect(await successor.runDue()).toBe(0);
    h.clock.advance(30_000);
    await successor.runDue();

    const done = await successor.get(started.id);
    expect(done).toMatchObject({ status: "completed", steps: [{ attempts: 1 }, { attempts: 1, status: "completed" }, { attempts: 1 }] });
    expect(["one.run", "two.run", "three.run"].map((name) => h.commands.effectsOf(name))).toEqual([1, 1, 1]);
    // Step one never ran again; step two's repeat was answered from its idempotency key.
    expect(h.commands.calls.map((call) => call.name)).toEqual(["one.run", "two.run", "two.run", "three.run"]);
  });

  it("stops working on a saga whose lease passed to another worker, quietly, and counts it", async () => {
    const first = deferred();
    let runs = 0;
    const saga = sagaOf("stalled", [
      { name: "slow", action: local(() => (++runs === 1 ? first.promise.then(() => "first") : "second")) },
      { name: "after", action: command("after.run") },
    ]);
    const h = harness([saga]);
    const { saga: started } = await h.orchestrator.start("stalled", { orderId: "l", amount: 1 });
    const stalled = h.orchestrator.runDue();
    await vitestWaitFor(() => runs === 1);
    h.clock.advance(30_001);
    const other = h.another("worker-2");
    await other.runDue();
    expect(await other.get(started.id)).toMatchObject({ status: "completed", steps: [{ result: "second" }, { status: "completed" }] });

    first.resolve();
    await stalled;
    expect(h.orchestrator.stats().leaseLost).toBe(1);
    expect(await h.orchestrator.get(started.id)).toMatchObject({ status: "completed", steps: [{ result: "second" }, {}] });
    expect(h.commands.effectsOf("after.run")).toBe(1);
    expect(h.errors).toEqual([]);
  });

  it("validates the start (unknown type, every invalid field) and starts once per id", async () => {
    const h = harness([sagaOf("order", [{ name: "one", action: command("one.run") }])]);
    expect(await caught(h.orchestrator.start("nope", {}))).toMatchObject({ code: "not_found" });
    const invalid = await caught(h.orchestrator.start("order", { amount: -1, extra: true }, { id: "not-a-uuid" }));
    expect(invalid).toBeInstanceOf(ValidationError);
    expect((invalid as ValidationError).issues.map((issue) => issue.path).sort()).toEqual(["id", "input.amount", "input.orderId"]);
    expect((invalid as ValidationError).issues.find((issue) => issue.path === "input.orderId")?.message).toBe("is required");
    expect(h.published).toEqual([]);

    const id = newId();
    const first = await h.orchestrator.start("order", { orderId: "o", amount: 1 }, { id, correlationid: "conversation-1" });
    const again = await h.orchestrator.start("order", { orderId: "other", amount: 2 }, { id });
    expect(first.created).toBe(true);
    expect(again).toEqual({ created: false, saga: first.saga });
    expect(first.saga.correlationid).toBe("conversation-1");
    expect(h.published.filter((draft) => draft.type === SAGA_EVENT_TYPES.started)).toHaveLength(1);
    expect((await h.orchestrator.list({ type: "order", limit: 10 })).items).toHaveLength(1);
    expect(await h.orchestrator.counts()).toEqual({ byType: { order: { running: 1 } } });
  });

  it("refuses to retry or cancel a choreographed saga, and lists both kinds of type", async () => {
    const h = harness([sagaOf("order", [{ name: "one", action: command("one.run"), compensation: command("one.undo"), retry: { maxAttempts: 4 } }])], {
      extraTypes: [{ type: "exam_reporting", kind: "choreographed", description: "reports", steps: [], schema: null, deadline: null }],
    });
    const flow = { ...(await h.orchestrator.start("order", { orderId: "o", amount: 1 })).saga, id: newId(), kind: "choreographed" as const, type: "exam_reporting" };
    await h.store.put(flow);
    for (const operation of [h.orchestrator.cancel(flow.id, "no"), h.orchestrator.retry(flow.id)]) {
      const error = await caught(operation);
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).code).toBe("conflict");
    }
    const types = h.orchestrator.listTypes();
    expect(types.map((type) => [type.type, type.kind])).toEqual([
      ["exam_reporting", "choreographed"],
      ["order", "orchestrated"],
    ]);
    expect(types[1]?.steps).toEqual([{ name: "one", description: "", action: "command one.run", compensation: "command one.undo", timeoutMs: 60_000, maxAttempts: 4 }]);
    expect(types[1]?.schema).toMatchObject({ type: "object", required: ["orderId", "amount"] });
  });

  it("calls HTTP steps with the idempotency key, honouring Retry-After and giving up on a client error", async () => {
    const requests: Array<{ url: string; headers: Record<string, string> }> = [];
    const answers: SagaHttpResponse[] = [
      { status: 503, headers: { "Retry-After": "7" }, body: "busy" },
      { status: 201, headers: {}, body: { ok: true } },
      { status: 404, headers: {}, body: "gone" },
    ];
    const saga = sagaOf("webhook", [{ name: "notify", retry: fastRetry, action: { kind: "http", request: () => ({ url: "http://127.0.0.1:9/hook", body: { hello: 1 } }) } }]);
    const h = harness([saga]);
    const orchestrator = h.another("http-worker", {
      actions: {
        commands: h.commands,
        tasks: h.tasks,
        http: async (request) => {
          requests.push({ url: request.url, headers: request.headers });
          return answers.shift()!;
        },
      },
    });
    const { saga: started } = await orchestrator.start("webhook", { orderId: "w", amount: 1 });
    await orchestrator.runDue();
    const waiting = await orchestrator.get(started.id);
    expect(waiting?.steps[0]).toMatchObject({ status: "running", error: { type: "RetryAfterError" } });
    expect(Date.parse(waiting!.steps[0]!.nextAttemptAt!) - h.clock.now()).toBe(7_000);
    h.clock.advance(7_000);
    await orchestrator.runDue();
    expect(await orchestrator.get(started.id)).toMatchObject({ status: "completed", steps: [{ result: { status: 201, body: { ok: true } } }] });
    expect(requests.map((request) => request.headers["Idempotency-Key"])).toEqual([`saga:${started.id}:notify`, `saga:${started.id}:notify`]);

    const { saga: gone } = await orchestrator.start("webhook", { orderId: "g", amount: 1 });
    await orchestrator.runDue();
    expect(await orchestrator.get(gone.id)).toMatchObject({ status: "compensated", steps: [{ status: "failed", attempts: 1, error: { type: "NonRetryableError" } }] });
  });

  it("treats RetryAfterError from any action as the delay to wait", async () => {
    let calls = 0;
    const saga = sagaOf("limited", [{ name: "call", retry: fastRetry, action: local(() => (++calls === 1 ? Promise.reject(new RetryAfterError("slow down", 12_345)) : "ok")) }]);
    const h = harness([saga]);
    const { saga: started } = await h.orchestrator.start("limited", { orderId: "l", amount: 1 });
    await h.orchestrator.runDue();
    expect(Date.parse((await h.orchestrator.get(started.id))!.steps[0]!.nextAttemptAt!) - h.clock.now()).toBe(12_345);
  });

  it("advances sagas it starts at once when workers run, and on stop leaves an interrupted attempt to the next worker", async () => {
    const saga = sagaOf("live", [
      { name: "first", action: command("first.run") },
      { name: "hang", action: { kind: "local", run: (context) => new Promise((_resolve, reject) => context.signal.addEventListener("abort", () => reject(context.signal.reason))) } },
    ]);
    const h = harness([saga], { pollIntervalMs: 60_000, stopGraceMs: 20 });
    h.orchestrator.startWorkers();
    const hanging = deferred();
    h.orchestrator.observe((observation) => (observation.kind === "saved" && observation.transition === "step_started:hang" ? hanging.resolve() : undefined));
    const { saga: started } = await h.orchestrator.start("live", { orderId: "l", amount: 1 });
    await hanging.promise;
    expect(h.orchestrator.stats()).toMatchObject({ running: true, active: 1 });

    await h.orchestrator.stop();
    const stopped = await h.orchestrator.get(started.id);
    expect(stopped).toMatchObject({ status: "running", leaseOwner: null, steps: [{ status: "completed" }, { status: "running", attempts: 1 }] });
    expect(stopped?.steps[1]?.history).toEqual([{ attempt: 1, startedAt: expect.any(String), endedAt: null }]);
    expect(h.orchestrator.stats()).toMatchObject({ running: false, active: 0 });
    expect(h.errors).toEqual([]);
  });

  it("feeds a child's end to its parent from saga events too (a child in another process)", async () => {
    const parent = defineSaga({
      type: "parent",
      description: "awaits an outside child",
      input: z.object({ childId: z.uuid() }),
      initialData: (input) => input,
      steps: [{ name: "child", action: { kind: "children", sagaType: "outside", children: (context) => [{ key: "only", input: {}, sagaId: context.data.childId }] } }],
    });
    const outside = defineSaga({ type: "outside", description: "a child", input: z.object({}), initialData: () => ({}), steps: [{ name: "wait", action: { kind: "task", taskType: "t", input: () => ({}) } }] });
    const h = harness([parent, outside]);
    const childId = newId();
    const { saga: started } = await h.orchestrator.start("parent", { childId });
    await h.orchestrator.runDue();
    expect((await h.orchestrator.get(started.id))?.awaiting).toEqual([`saga:${childId}`]);
    expect(h.orchestrator.signalTypes).toEqual(expect.arrayContaining(["task.succeeded", "task.dead", "saga.completed", "saga.failed"]));
    await h.orchestrator.handleEvent({
      ...h.tasks.succeed(h.tasks.only("t").id, null),
      type: SAGA_EVENT_TYPES.cancelled,
      data: { sagaId: childId, sagaType: "outside", subject: null, parentId: started.id, durationMs: 1, reason: "x" },
    });
    await h.orchestrator.runDue();
    expect(await h.orchestrator.get(started.id)).toMatchObject({ status: "completed", steps: [{ result: { total: 1, completed: 0, failed: 1 } }] });
  });
});

/** Waits (bounded) until the condition holds, giving the saga's promises turns to run. */
async function vitestWaitFor(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let turn = 0; turn < 500; turn++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error("condition not met");
}
