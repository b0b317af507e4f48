import { describe, expect, it } from "vitest";
import { z } from "zod";
import { EventBus } from "../bus";
import { isEngineError } from "../core/errors";
import { EventTypeRegistry } from "../core/registry";
import type { StoredEvent } from "../core/envelope";
import { InMemoryEventStore } from "./memory-event-store";
import { EventPublisher, streamIdOf } from "./publisher";

function setup() {
  const registry = new EventTypeRegistry();
  registry.define({
    type: "exam.created",
    version: 1,
    description: "v1",
    schema: z.object({ examId: z.string(), title: z.string() }),
  });
  registry.define({
    type: "exam.created",
    version: 2,
    description: "v2 adds a duration",
    schema: z.object({ examId: z.string(), title: z.string(), durationMinutes: z.number().int() }),
    upcasters: [{ fromVersion: 1, upcast: (data) => ({ ...(data as object), durationMinutes: 60 }) }],
  });
  const store = new InMemoryEventStore();
  const bus = new EventBus();
  const handlerErrors: unknown[] = [];
  const publisher = new EventPublisher(store, registry, bus, ({ error }) => handlerErrors.push(error));
  return { registry, store, bus, publisher, handlerErrors };
}

const v2 = { examId: "e-1", title: "Algebra", durationMinutes: 90 };

describe("EventPublisher", () => {
  it("stores valid events under their subject's stream and hands them to the bus", async () => {
    const { publisher, store, bus } = setup();
    const seen: StoredEvent[] = [];
    bus.subscribe("exam.*", (event) => void seen.push(event as StoredEvent), { mode: "sync" });

    const outcome = await publisher.publish([{ type: "exam.created", data: v2, subject: "exam-1" }]);

    expect(outcome.status).toBe("accepted");
    const [stored] = await store.readStream("exam-1");
    expect(stored).toMatchObject({ type: "exam.created", position: 1, streamversion: 1, data: v2 });
    expect(seen.map((event) => event.id)).toEqual([stored!.id]);
  });

  it("writes a draft without a schema version at the type's latest version", async () => {
    const { publisher, store } = setup();
    await publisher.publish([{ type: "exam.created", data: v2 }]);
    const { events } = await store.readAll({ limit: 10 });
    expect(events[0]!.schemaversion).toBe(2);
  });

  it("validates an explicit older version against that version's schema", async () => {
    const { publisher } = setup();
    const outcome = await publisher.publish([{ type: "exam.created", data: { examId: "e", title: "t" }, schemaversion: 1 }]);
    expect(outcome.status).toBe("accepted");
  });

  it("rejects a batch with every failing field prefixed, and stores nothing", async () => {
    const { publisher, store } = setup();
    const failure = await publisher
      .publish(
        [
          { type: "exam.created", data: v2 },
          { type: "exam.created", data: { examId: 7, title: "x", durationMinutes: 1 } },
          { type: "no.such_type", data: {} },
        ],
        { issuePrefix: (index) => `events[${index}].` },
      )
      .catch((error: unknown) => error);

    expect(isEngineError(failure) && failure.code).toBe("validation");
    const paths = isEngineError(failure) ? failure.issues.map((issue) => issue.path) : [];
    expect(paths).toEqual(["events[1].data.examId", "events[2].type"]);
    expect(await store.headPosition()).toBe(0);
  });

  it("replays an idempotent publish and refuses the key for another request", async () => {
    const { publisher, store } = setup();
    const claim = { key: "events:k1", fingerprint: "body-a" };
    const first = await publisher.publish([{ type: "exam.created", data: v2 }], { idempotency: claim });
    const again = await publisher.publish([{ type: "exam.created", data: v2 }], { idempotency: claim });
    const other = await publisher.publish([{ type: "exam.created", data: v2 }], { idempotency: { ...claim, fingerprint: "body-b" } });

    expect(first.status).toBe("accepted");
    expect(again.status).toBe("replayed");
    if (first.status === "accepted" && again.status === "replayed") expect(again.events[0]!.id).toBe(first.events[0]!.id);
    expect(other.status).toBe("idempotency_mismatch");
    expect(await store.headPosition()).toBe(1);
  });

  it("does not hand a duplicate id to the bus twice", async () => {
    const { publisher, bus } = setup();
    let deliveries = 0;
    bus.subscribe("exam.created", () => void deliveries++, { mode: "sync" });
    const draft = { type: "exam.created", data: v2, id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" };
    await publisher.publish([draft]);
    const second = await publisher.publish([draft]);
    expect(second.status === "accepted" && second.events[0]!.duplicate).toBe(true);
    expect(deliveries).toBe(1);
  });

  it("reports a failing sync handler without failing the committed publish", async () => {
    const { publisher, bus, handlerErrors } = setup();
    bus.subscribe("exam.created", () => { throw new Error("handler broke"); }, { mode: "sync", name: "breaks" });
    const outcome = await publisher.publish([{ type: "exam.created", data: v2 }]);
    expect(outcome.status).toBe("accepted");
    expect(handlerErrors).toHaveLength(1);
  });
});

describe("streamIdOf", () => {
  it("uses the subject, or a per-type stream", () => {
    expect(streamIdOf({ type: "exam.created", subject: "exam-9" })).toBe("exam-9");
    expect(streamIdOf({ type: "system.health_check" })).toBe("$type-system.health_check");
  });
});

describe("EventPublisher with several events of one stream", () => {
  it("appends them together and answers, and replays, in request order", async () => {
    const { publisher, store } = setup();
    const drafts = [
      { type: "exam.created", data: { ...v2, title: "a" }, subject: "exam-1" },
      { type: "exam.created", data: { ...v2, title: "b" }, subject: "exam-2" },
      { type: "exam.created", data: { ...v2, title: "c" }, subject: "exam-1" },
    ];
    const claim = { key: "events:batch", fingerprint: "same-body" };
    const first = await publisher.publish(drafts, { idempotency: claim });
    const replay = await publisher.publish(drafts, { idempotency: claim });

    const titles = (events: StoredEvent[]) => events.map((event) => (event.data as { title: string }).title);
    expect(first.status === "accepted" && titles(first.events)).toEqual(["a", "b", "c"]);
    expect(replay.status === "replayed" && titles(replay.events)).toEqual(["a", "b", "c"]);
    expect((await store.readStream("exam-1")).map((event) => event.streamversion)).toEqual([1, 2]);
  });
});
