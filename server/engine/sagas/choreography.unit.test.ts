import { describe, expect, it } from "vitest";
import { buildEnvelope, type EventDraft, type EventEnvelope, type StoredEvent } from "../core/envelope";
import { EngineError, NonRetryableError, RuleViolationError, ValidationError, VersionConflictError } from "../core/errors";
import { systemPrincipal } from "../core/principal";
import type { CommandExecutionContext, CommandExecutor } from "../cqrs/command";
import { InMemoryEventStore } from "../store/memory-event-store";
import type { SubmitTaskRequest } from "../tasks/task-queue";
import {
  choreographySagaId,
  choreographyTracker,
  defineChoreography,
  describeChoreography,
  reaction,
  reconstructChoreography,
  taskStepMarkers,
  type ChoreographyDefinition,
} from "./choreography";
import { InMemorySagaStore } from "./memory-saga-store";
import type { SagaRecord } from "./saga-store";

/**
 * An order flow: placed -> payment (a `charge` task) -> shipment; a refund compensates the payment.
 * Only orders that are not tests start it; shipment.sent is the shipping step's event.
 */
const orderFlow = defineChoreography({
  type: "order_flow",
  description: "An order: paid, then shipped; refunded when shipping fails.",
  startsOn: ["order.placed"],
  matches: (event) => (event.data as { test?: boolean }).test !== true,
  subject: (start) => (start.data as { orderId: string }).orderId,
  steps: [
    { name: "payment", description: "Charge the card.", ...taskStepMarkers("charge") },
    { name: "shipment", completesOn: ["shipment.sent"], failsOn: ["shipment.failed"] },
    { name: "refund", compensates: "payment", completesOn: ["payment.refunded"], failsOn: ["refund.failed"] },
  ],
});

const correlationid = "019c1f5e-8a00-7000-8000-0000000000cc";
const orderId = "order-17";
const taskId = "019c1f5e-8a00-7000-8000-000000000004";
const BASE = Date.parse("2026-03-01T08:00:00.000Z");
const at = (seconds: number) => new Date(BASE + seconds * 1000).toISOString();
const NOW = at(1_000);

/** A log being written: each event gets the next position and a time `seconds` after the base. */
function logBuilder() {
  const events: StoredEvent[] = [];
  const add = (type: string, data: Record<string, unknown>, seconds: number, extra: Partial<EventDraft> = {}): StoredEvent => {
    const envelope = buildEnvelope({ type, data, correlationid, time: at(seconds), ...extra });
    const stored: StoredEvent = { ...envelope, position: events.length + 1, streamid: type, streamversion: 1 };
    events.push(stored);
    return stored;
  };
  const task = (type: string, seconds: number, data: Record<string, unknown> = {}, taskType = "charge") => add(`task.${type}`, { taskId, taskType, ...data }, seconds, { subject: taskId });
  return { events, add, task };
}

/** The happy path up to the payment: placed, queued, a failed attempt, a second that succeeds. */
function paidOrder() {
  const log = logBuilder();
  const placed = log.add("order.placed", { orderId }, 0, { subject: orderId });
  log.task("queued", 1);
  log.task("started", 2, { attempt: 1 });
  log.task("failed", 3, { attempt: 1, error: { type: "CardDeclined", message: "the bank did not answer" } });
  log.task("started", 5, { attempt: 2 });
  const charged = log.task("succeeded", 6, { attempt: 2, result: { charged: 40 } });
  return { log, placed, charged };
}

describe("defineChoreography", () => {
  it("refuses a definition whose names or references are wrong, naming every problem", () => {
    expect(() =>
      defineChoreography({
        type: "Bad Type",
        description: "",
        startsOn: [],
        steps: [
          { name: "a", completesOn: [] },
          { name: "a", completesOn: ["x.done"] },
          { name: "undo", compensates: "missing", completesOn: ["x.undone"] },
        ],
      }),
    ).toThrow(/type "Bad Type".*startsOn names no event type.*step "a" has no completesOn.*step "a" is defined twice.*compensates "missing"/);
  });
});

describe("describeChoreography", () => {
  it("lists the forward steps with the events that complete them and the steps that compensate them", () => {
    expect(describeChoreography(orderFlow)).toEqual({
      type: "order_flow",
      kind: "choreographed",
      description: "An order: paid, then shipped; refunded when shipping fails.",
      steps: [
        { name: "payment", description: "Charge the card.", action: "task.succeeded", compensation: "refund", timeoutMs: 0, maxAttempts: 0 },
        { name: "shipment", description: "", action: "shipment.sent", compensation: null, timeoutMs: 0, maxAttempts: 0 },
      ],
      schema: null,
      deadline: null,
    });
  });
});

describe("reconstructChoreography", () => {
  it("is undefined for a correlation whose flow never started", () => {
    const { log } = paidOrder();
    expect(reconstructChoreography(orderFlow, log.events.slice(1), NOW)).toBeUndefined();
    expect(reconstructChoreography(orderFlow, [], NOW)).toBeUndefined();
  });

  it("rebuilds a completed flow: steps in order with their attempts, errors, times and events", () => {
    const { log, placed, charged } = paidOrder();
    const shipped = log.add("shipment.sent", { orderId }, 9, { causationid: charged.id });

    const saga = reconstructChoreography(orderFlow, log.events, NOW)!;
    expect(saga).toMatchObject({
      id: choreographySagaId("order_flow", correlationid),
      type: "order_flow",
      kind: "choreographed",
      status: "completed",
      subject: orderId,
      correlationid,
      traceparent: placed.traceparent,
      parentId: null,
      input: { orderId },
      compensations: [],
      error: null,
      cursor: 2,
      wakeAt: null,
      awaiting: [],
      cancelRequested: false,
      startedAt: at(0),
      updatedAt: NOW,
      endedAt: at(9),
      revision: 7,
      leaseOwner: null,
      leaseUntil: null,
    });
    const [payment, shipment] = saga.steps;
    expect(payment).toEqual({
      name: "payment",
      status: "completed",
      attempts: 2,
      startedAt: at(1),
      endedAt: at(6),
      events: log.events.slice(1, 6).map(({ id, type, position }) => ({ id, type, position })),
      history: [
        { attempt: 1, startedAt: at(2), endedAt: at(3), error: { type: "CardDeclined", message: "the bank did not answer" } },
        { attempt: 2, startedAt: at(5), endedAt: at(6) },
      ],
    });
    // Shipping began when the payment it reacted to succeeded.
    expect(shipment).toEqual({
      name: "shipment",
      status: "completed",
      attempts: 1,
      startedAt: at(6),
      endedAt: at(9),
      events: [{ id: shipped.id, type: "shipment.sent", position: shipped.position }],
      history: [{ attempt: 1, startedAt: at(6), endedAt: at(9) }],
    });
  });

  it("shows a flow under way: the step reached running, the rest pending", () => {
    const log = logBuilder();
    log.add("order.placed", { orderId }, 0);
    log.task("queued", 1);
    const queued = reconstructChoreography(orderFlow, log.events, NOW)!;
    expect(queued).toMatchObject({ status: "running", cursor: 0, endedAt: null, revision: 2 });
    expect(queued.steps.map(({ name, status, attempts }) => [name, status, attempts])).toEqual([
      ["payment", "running", 0],
      ["shipment", "pending", 0],
    ]);

    log.task("started", 2, { attempt: 1 });
    log.task("failed", 3, { attempt: 1, error: { type: "Timeout", message: "no answer in 30 s" } });
    const retrying = reconstructChoreography(orderFlow, log.events, NOW)!;
    expect(retrying.steps[0]).toMatchObject({ status: "running", attempts: 1, endedAt: null, error: { type: "Timeout", message: "no answer in 30 s" } });
    expect(retrying.status).toBe("running");
  });

  it("compensates a failure: compensating until the compensation's event, then compensated, in the order they ran", () => {
    const { log, charged } = paidOrder();
    log.add("shipment.failed", { orderId, reason: "no courier for that address" }, 8, { causationid: charged.id });
    const failing = reconstructChoreography(orderFlow, log.events, NOW)!;
    expect(failing).toMatchObject({ status: "compensating", error: { type: "shipment.failed", message: "no courier for that address" }, compensations: [], cursor: 1, endedAt: null });
    expect(failing.steps.map((step) => step.status)).toEqual(["completed", "failed"]);

    const refunded = log.add("payment.refunded", { orderId }, 12);
    const compensated = reconstructChoreography(orderFlow, log.events, NOW)!;
    expect(compensated).toMatchObject({ status: "compensated", endedAt: at(12), error: { type: "shipment.failed" } });
    expect(compensated.compensations).toEqual([
      {
        name: "refund",
        status: "completed",
        attempts: 1,
        startedAt: at(12),
        endedAt: at(12),
        events: [{ id: refunded.id, type: "payment.refunded", position: refunded.position }],
        history: [{ attempt: 1, startedAt: at(12), endedAt: at(12) }],
      },
    ]);
  });

  it("is failed when a compensation fails: an operator has to step in", () => {
    const { log } = paidOrder();
    log.add("shipment.failed", { orderId }, 8);
    log.add("refund.failed", { orderId, error: { type: "CardClosed", message: "the card was closed" } }, 9);
    const saga = reconstructChoreography(orderFlow, log.events, NOW)!;
    expect(saga).toMatchObject({ status: "failed", endedAt: null, compensations: [{ name: "refund", status: "failed", error: { type: "CardClosed", message: "the card was closed" } }] });
  });

  it("compensates a step that itself failed for good (a reaction to its failure)", () => {
    const log = logBuilder();
    log.add("order.placed", { orderId }, 0);
    log.task("queued", 1);
    log.task("started", 2, { attempt: 1 });
    const dead = log.task("dead", 3, { attempts: 1, reason: "non_retryable", error: { type: "CardStolen", message: "the card is reported stolen" } });
    expect(reconstructChoreography(orderFlow, log.events, NOW)).toMatchObject({
      status: "compensating",
      error: { type: "CardStolen", message: "the card is reported stolen" },
      steps: [{ name: "payment", status: "failed", attempts: 1, history: [{ attempt: 1, startedAt: at(2), endedAt: at(3), error: { type: "CardStolen" } }] }, { name: "shipment", status: "pending" }],
    });
    log.add("payment.refunded", { orderId }, 4, { causationid: dead.id });
    expect(reconstructChoreography(orderFlow, log.events, NOW)).toMatchObject({ status: "compensated", compensations: [{ name: "refund", status: "completed", startedAt: at(3) }] });
  });

  it("ignores what is not the flow's: other correlations, other tasks, events before the start, untracked types, a task never queued, a start that does not match", () => {
    const log = logBuilder();
    log.task("succeeded", 0, { attempt: 1 }); // before the start
    log.add("order.placed", { orderId: "order-test", test: true }, 1); // does not match: not a start
    log.add("order.placed", { orderId }, 2);
    log.task("dead", 3, { attempts: 0, reason: "not_queued", error: { type: "Error", message: "broker down" } });
    log.task("queued", 4);
    log.task("succeeded", 5, { attempt: 1 }, "fraud_check"); // another task type
    log.add("shipment.sent", { orderId }, 6, { correlationid: "019c1f5e-8a00-7000-8000-0000000000dd" }); // another conversation
    log.add("order.viewed", { orderId }, 7); // not a marker
    log.add("order.placed", { orderId }, 8); // a second start changes nothing

    const saga = reconstructChoreography(orderFlow, log.events, NOW)!;
    expect(saga).toMatchObject({ status: "running", startedAt: at(2), subject: orderId, revision: 2 });
    expect(saga.steps.map(({ name, status, events }) => [name, status, events.length])).toEqual([
      ["payment", "running", 1],
      ["shipment", "pending", 0],
    ]);
  });

  it("gives the same record for the same events in any order (log order is what counts)", () => {
    const { log, charged } = paidOrder();
    log.add("shipment.sent", { orderId }, 9, { causationid: charged.id });
    const inOrder = reconstructChoreography(orderFlow, log.events, NOW);
    expect(reconstructChoreography(orderFlow, [...log.events].reverse(), NOW)).toEqual(inOrder);
  });

  it("honours the flow's own completesOn (steps never reached are skipped) and failsOn", () => {
    const flow: ChoreographyDefinition = defineChoreography({
      ...orderFlow,
      completesOn: ["order.picked_up"],
      failsOn: ["order.abandoned"],
    });
    const log = logBuilder();
    log.add("order.placed", { orderId }, 0);
    log.task("succeeded", 1, { attempt: 1 });
    const pickedUp = logBuilder();
    pickedUp.events.push(...log.events);
    pickedUp.add("order.picked_up", { orderId }, 5);
    expect(reconstructChoreography(flow, pickedUp.events, NOW)).toMatchObject({
      status: "completed",
      endedAt: at(5),
      steps: [{ name: "payment", status: "completed" }, { name: "shipment", status: "skipped" }],
    });

    log.add("order.abandoned", { orderId, reason: "the customer moved away" }, 5);
    log.add("payment.refunded", { orderId }, 6);
    expect(reconstructChoreography(flow, log.events, NOW)).toMatchObject({
      status: "compensated",
      error: { type: "order.abandoned", message: "the customer moved away" },
      compensations: [{ name: "refund", status: "completed" }],
    });
  });
});

/** The in-memory saga store, counting the tracker's writes. */
class CountingSagaStore extends InMemorySagaStore {
  puts = 0;
  override async put(saga: SagaRecord): Promise<void> {
    this.puts += 1;
    await super.put(saga);
  }
}

/** An in-memory event store that counts reads. */
function countingStore() {
  const store = new InMemoryEventStore();
  let reads = 0;
  const events = {
    get reads() {
      return reads;
    },
    readAll: (filter: Parameters<InMemoryEventStore["readAll"]>[0]) => {
      reads += 1;
      return store.readAll(filter);
    },
  };
  const append = async (type: string, data: Record<string, unknown>, extra: Partial<EventDraft> = {}): Promise<StoredEvent> => {
    const event = buildEnvelope({ type, data, correlationid, ...extra });
    const outcome = await store.append([{ streamId: extra.subject ?? type, expectedVersion: "any", events: [event] }]);
    if (outcome.status !== "appended") throw new Error(outcome.status);
    return outcome.events[0]!;
  };
  return { store, events, append };
}

describe("choreographyTracker", () => {
  const clock = { now: () => Date.parse(NOW) };

  it("subscribes to every type of its flows and stores each flow rebuilt from the log, once per change", async () => {
    const { events, append } = countingStore();
    const views = new CountingSagaStore();
    const tracker = choreographyTracker([orderFlow], { store: views, events, clock });
    expect(tracker.types.sort()).toEqual(
      ["order.placed", "payment.refunded", "refund.failed", "shipment.failed", "shipment.sent", "task.dead", "task.failed", "task.queued", "task.started", "task.succeeded"].sort(),
    );

    const placed = await append("order.placed", { orderId }, { subject: orderId });
    await tracker.handle(placed, { attempt: 1 });
    const id = choreographySagaId("order_flow", correlationid);
    expect(await views.get(id)).toMatchObject({ status: "running", revision: 1 });

    const charged = await append("task.succeeded", { taskId, taskType: "charge", attempt: 1 }, { subject: taskId });
    await tracker.handle(charged, { attempt: 1 });
    const shipped = await append("shipment.sent", { orderId }, { causationid: charged.id });
    await tracker.handle(shipped, { attempt: 1 });
    expect(await views.get(id)).toMatchObject({ status: "completed", revision: 3, steps: [{ name: "payment", status: "completed" }, { name: "shipment", status: "completed" }] });
    expect(views.puts).toBe(3);

    // A redelivery (or a delivery that lost the race to a later event) changes nothing.
    const stored = await views.get(id);
    await tracker.handle(charged, { attempt: 2 });
    await tracker.handle(placed, { attempt: 2 });
    expect(views.puts).toBe(3);
    expect(await views.get(id)).toEqual(stored);
  });

  it("reads nothing for an event that marks none of its flows", async () => {
    const { events, append } = countingStore();
    const views = new CountingSagaStore();
    const tracker = choreographyTracker([orderFlow], { store: views, events, clock });
    await tracker.handle(await append("task.succeeded", { taskId, taskType: "fraud_check", attempt: 1 }), { attempt: 1 });
    await tracker.handle(await append("order.placed", { orderId, test: true }), { attempt: 1 });
    expect(events.reads).toBe(0);
    expect(views.puts).toBe(0);
  });

  it("stores nothing for a correlation whose flow never started", async () => {
    const { events, append } = countingStore();
    const views = new CountingSagaStore();
    const tracker = choreographyTracker([orderFlow], { store: views, events, clock });
    await tracker.handle(await append("shipment.sent", { orderId }), { attempt: 1 });
    expect(events.reads).toBe(1);
    expect(views.puts).toBe(0);
  });

  it("pages through a long conversation", async () => {
    const { events, append } = countingStore();
    const views = new CountingSagaStore();
    const tracker = choreographyTracker([orderFlow], { store: views, events, clock });
    await append("order.placed", { orderId });
    for (let attempt = 1; attempt <= 1_200; attempt += 1) {
      await append("task.started", { taskId, taskType: "charge", attempt });
      await append("task.failed", { taskId, taskType: "charge", attempt, error: { type: "Timeout", message: `attempt ${attempt}` } });
    }
    const last = await append("task.succeeded", { taskId, taskType: "charge", attempt: 1_201 });
    await tracker.handle(last, { attempt: 1 });
    expect(events.reads).toBe(3);
    const saga = (await views.get(choreographySagaId("order_flow", correlationid)))!;
    expect(saga).toMatchObject({ revision: 2_402, steps: [{ name: "payment", status: "completed", attempts: 1_200 }, { name: "shipment", status: "pending" }] });
    // The newest attempts and events are kept.
    expect(saga.steps[0]!.history.map((entry) => entry.attempt)).toEqual(Array.from({ length: 20 }, (_, index) => 1_181 + index));
    expect(saga.steps[0]!.events.map((event) => event.position)).toEqual(Array.from({ length: 50 }, (_, index) => 2_353 + index));
  });

  it("keeps a view built from more events than a late rebuild saw", async () => {
    const { events, append } = countingStore();
    const views = new CountingSagaStore();
    const tracker = choreographyTracker([orderFlow], { store: views, events, clock });
    const placed = await append("order.placed", { orderId });
    const id = choreographySagaId("order_flow", correlationid);
    await views.put({ ...reconstructChoreography(orderFlow, [placed as StoredEvent], NOW)!, revision: 9, status: "completed" });
    await tracker.handle(placed, { attempt: 1 });
    expect(await views.get(id)).toMatchObject({ revision: 9, status: "completed" });
  });
});

describe("reaction", () => {
  const trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const cause = buildEnvelope({ type: "order.placed", data: { orderId }, correlationid, traceparent: trace, tracestate: "vendor=1" });
  const principal = systemPrincipal("shop");

  function setUp(answer: () => Error | undefined = () => undefined) {
    const published: EventDraft[] = [];
    const executed: Array<{ name: string; input: unknown; context: CommandExecutionContext }> = [];
    const submitted: SubmitTaskRequest[] = [];
    const commands: CommandExecutor = {
      async execute(name, input, context) {
        executed.push({ name, input, context });
        const error = answer();
        if (error) throw error;
        return { command: name, streamId: "order-17", version: 2, events: [], replayed: false };
      },
    };
    const deps = {
      publish: async (drafts: EventDraft[]) => void published.push(...drafts),
      commands,
      principal,
      tasks: {
        async submit(request: SubmitTaskRequest) {
          submitted.push(request);
          const error = answer();
          if (error) throw error;
          return { id: taskId };
        },
      },
    };
    return { published, executed, submitted, deps };
  }

  /** A reaction that emits two events, one named, one by its order. */
  const emitting = (name: string, deps: Parameters<typeof reaction>[1]) =>
    reaction(
      {
        name,
        description: "emits",
        on: ["order.placed"],
        async handle(event, context) {
          await context.emit([{ key: "receipt", type: "receipt.sent", data: { orderId } }]);
          await context.emit([{ type: "stock.reserved", data: { orderId }, correlationid: "not-this-one" }]);
        },
      },
      deps,
    );

  it("is a subscription of the types it reacts to", () => {
    const subscription = emitting("shop-receipts", setUp().deps);
    expect(subscription).toMatchObject({ name: "shop-receipts", description: "emits", types: ["order.placed"] });
  });

  it("emits events in the cause's conversation and trace, with ids that are the same on a redelivery", async () => {
    const { published, deps } = setUp();
    const subscription = emitting("shop-receipts", deps);
    await subscription.handle(cause, { attempt: 1 });
    await subscription.handle(cause, { attempt: 2 });
    const [receipt, stock, receiptAgain, stockAgain] = published;
    expect(receipt).toEqual({ type: "receipt.sent", data: { orderId }, id: expect.any(String), correlationid, causationid: cause.id, traceparent: cause.traceparent, tracestate: "vendor=1" });
    expect(stock).toMatchObject({ type: "stock.reserved", correlationid, causationid: cause.id });
    expect(receipt!.id).not.toBe(stock!.id);
    expect([receiptAgain!.id, stockAgain!.id]).toEqual([receipt!.id, stock!.id]);

    // Another reaction to the same event, or the same reaction to another event, gets other ids.
    const { published: other, deps: otherDeps } = setUp();
    await emitting("shop-audit", otherDeps).handle(cause, { attempt: 1 });
    await emitting("shop-receipts", otherDeps).handle(buildEnvelope({ type: "order.placed", data: { orderId }, correlationid }), { attempt: 1 });
    const ids = new Set([receipt!.id, stock!.id, ...other.map((draft) => draft.id)]);
    expect(ids.size).toBe(6);
  });

  it("keeps an id the handler chose", async () => {
    const { published, deps } = setUp();
    const chosen = "019c1f5e-8a00-7000-8000-0000000000ee";
    await reaction({ name: "shop", description: "", on: ["order.placed"], handle: (_event, context) => context.emit([{ id: chosen, type: "x.y", data: {} }]) }, deps).handle(cause, { attempt: 1 });
    expect(published[0]!.id).toBe(chosen);
  });

  it("runs commands as its principal, caused by the event and idempotent by it", async () => {
    const { executed, deps } = setUp();
    const subscription = reaction(
      {
        name: "shop-stock",
        description: "",
        on: ["order.placed"],
        async handle(event, context) {
          await context.command("stock.reserve", { orderId });
          await context.command("stock.reserve", { orderId, warehouse: "b" }, { key: "warehouse-b" });
        },
      },
      deps,
    );
    await subscription.handle(cause, { attempt: 1 });
    expect(executed).toEqual([
      {
        name: "stock.reserve",
        input: { orderId },
        context: { principal, idempotencyKey: `reaction:shop-stock:${cause.id}:stock.reserve`, correlationid, causationid: cause.id, traceparent: cause.traceparent },
      },
      {
        name: "stock.reserve",
        input: { orderId, warehouse: "b" },
        context: expect.objectContaining({ idempotencyKey: `reaction:shop-stock:${cause.id}:stock.reserve:warehouse-b` }),
      },
    ]);
  });

  it("dead-letters a command rejected for good, naming the rule, and leaves other failures to the retries", async () => {
    const run = async (error: Error) => {
      const { deps } = setUp(() => error);
      const subscription = reaction({ name: "shop-stock", description: "", on: ["order.placed"], handle: async (_event, context) => void (await context.command("stock.reserve", { orderId })) }, deps);
      return subscription.handle(cause, { attempt: 1 }).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
    };
    const broken = await run(new RuleViolationError("out_of_stock", "Nothing left of SKU 9"));
    expect(broken).toBeInstanceOf(NonRetryableError);
    expect((broken as Error).message).toBe(`stock.reserve for order.placed ${cause.id} was rejected by rule out_of_stock: Nothing left of SKU 9`);
    expect(await run(new ValidationError("orderId is required"))).toBeInstanceOf(NonRetryableError);
    expect(await run(new EngineError("forbidden", "no"))).toBeInstanceOf(NonRetryableError);
    const conflict = new VersionConflictError("order-17", 1, 2);
    expect(await run(conflict)).toBe(conflict);
    const outage = new EngineError("unavailable", "the store is down");
    expect(await run(outage)).toBe(outage);
  });

  it("submits tasks in the event's conversation, idempotent by the event unless the request has its own key", async () => {
    const { submitted, deps } = setUp();
    const subscription = reaction(
      {
        name: "shop-billing",
        description: "",
        on: ["order.placed"],
        async handle(_event, context) {
          await context.submitTask({ type: "charge", input: { orderId }, priority: "high" });
          await context.submitTask({ type: "invoice", input: { orderId }, idempotencyKey: `invoice:${orderId}` });
        },
      },
      deps,
    );
    await subscription.handle(cause, { attempt: 1 });
    expect(submitted).toEqual([
      { type: "charge", input: { orderId }, priority: "high", idempotencyKey: `reaction:shop-billing:${cause.id}:charge`, correlationid, traceparent: cause.traceparent },
      { type: "invoice", input: { orderId }, idempotencyKey: `invoice:${orderId}`, correlationid, traceparent: cause.traceparent },
    ]);
  });

  it("refuses to submit a task without a task queue, and dead-letters a task the queue rejects as invalid", async () => {
    const { deps } = setUp(() => new ValidationError("unknown task type charge"));
    const submitting = (withTasks: boolean) =>
      reaction(
        { name: "shop-billing", description: "", on: ["order.placed"], handle: async (_event: EventEnvelope, context) => void (await context.submitTask({ type: "charge", input: {} })) },
        withTasks ? deps : { ...deps, tasks: undefined },
      ).handle(cause, { attempt: 1 });
    await expect(submitting(false)).rejects.toThrow("reaction shop-billing submits tasks but was given no task queue");
    await expect(submitting(true)).rejects.toBeInstanceOf(NonRetryableError);
  });
});
