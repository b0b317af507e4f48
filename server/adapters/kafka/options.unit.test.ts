import { describe, expect, it } from "vitest";
import { ValidationError } from "@/server/engine/core/errors";
import { KafkaNames } from "./names";
import { resolveKafkaOptions, type KafkaDriverOptions } from "./options";

function issuePaths(options: KafkaDriverOptions): string[] {
  try {
    resolveKafkaOptions(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues.map((issue) => issue.path);
  }
  throw new Error("expected a ValidationError");
}

describe("kafka driver options", () => {
  it("fills in production defaults and derives the group timings from redeliveryAfterMs", () => {
    const settings = resolveKafkaOptions({ brokers: ["kafka-1:9092"] });
    expect(settings).toMatchObject({ prefix: "el", partitions: 6, replicationFactor: -1, redeliveryAfterMs: 30_000, commitIntervalMs: 100 });
    expect(settings).toMatchObject({ sessionTimeoutMs: 30_000, heartbeatIntervalMs: 6_000, rebalanceTimeoutMs: 30_000 });
    // Brokers refuse sessions under 6 s; heartbeats stay frequent so survivors notice a departure quickly.
    const quick = resolveKafkaOptions({ brokers: ["127.0.0.1:9092"], redeliveryAfterMs: 1_000 });
    expect(quick).toMatchObject({ sessionTimeoutMs: 6_000, heartbeatIntervalMs: 200 });
  });

  it("rejects bad values with a ValidationError naming each option", () => {
    expect(issuePaths({ brokers: [] })).toEqual(["brokers"]);
    expect(issuePaths({ brokers: ["no-port"] })).toEqual(["brokers.0"]);
    expect(issuePaths({ brokers: ["k:9092"], partitions: 0, replicationFactor: 0, prefix: "has space" })).toEqual(["prefix", "partitions", "replicationFactor"]);
    expect(issuePaths({ brokers: ["k:9092"], redeliveryAfterMs: -5, log: "loud" as unknown as KafkaDriverOptions["log"] })).toEqual(["redeliveryAfterMs", "log"]);
  });
});

describe("kafka names", () => {
  const names = new KafkaNames("el");

  it("gives each priority its topic, and each group a consumer group and a retry topic", () => {
    expect(names.priorityTopics("exam.events")).toEqual(["el.exam.events.high", "el.exam.events.normal", "el.exam.events.low"]);
    expect(names.group("exam.events", "projector")).toEqual({
      groupId: "el.exam.events:projector",
      priorityTopics: ["el.exam.events.high", "el.exam.events.normal", "el.exam.events.low"],
      retryTopic: "el.exam.events.projector.retry",
    });
  });

  it("never gives two (topic, group) pairs one retry topic", () => {
    expect(names.group("a.b", "c").retryTopic).toBe("el.a.b.c.retry");
    expect(names.group("a", "b.c").retryTopic).toBe("el.a.b_2ec.retry");
    expect(names.group("a", "b_2ec").retryTopic).toBe("el.a.b_5f2ec.retry");
    expect(names.group("t", "sagas/é").retryTopic).toBe("el.t.sagas_2f_c3_a9.retry");
  });

  it("rejects topic names Kafka cannot carry, and names past Kafka's length limit", () => {
    expect(() => names.priorityTopics("exam events")).toThrow(ValidationError);
    expect(() => names.group("t", "")).toThrow(/group/);
    expect(() => names.group("t", "g".repeat(300))).toThrow(/group.*249/);
  });
});
