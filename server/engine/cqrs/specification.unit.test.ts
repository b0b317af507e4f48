import { AssertionError } from "node:assert/strict";
import { describe, expect, it } from "vitest";
import { EngineError, RuleViolationError } from "../core/errors";
import type { DecidedEvent, Decider } from "./decider";
import { specification } from "./specification";

// A counter with a ceiling: add n (n = 0 changes nothing), never past 10.
type CounterEvent = DecidedEvent<"counter.added", { n: number }>;
type CounterCommand = { type: "add"; n: number } | { type: "explode" };

const counter: Decider<CounterCommand, { total: number }, CounterEvent> = {
  name: "counter",
  initialState: () => ({ total: 0 }),
  evolve: (state, event) => ({ total: state.total + event.data.n }),
  decide(command, state) {
    if (command.type === "explode") throw new EngineError("internal", "not a rule");
    if (state.total + command.n > 10) throw new RuleViolationError("ceiling_reached", `${state.total} + ${command.n} > 10`);
    return command.n === 0 ? [] : [{ type: "counter.added", data: { n: command.n } }];
  },
};

const added = (n: number): CounterEvent => ({ type: "counter.added", data: { n } });
const spec = specification(counter);

describe("specification", () => {
  it("then: passes on the decided events, fails on others", () => {
    spec.given([added(4)]).when({ type: "add", n: 5 }).then([added(5)]);
    expect(() => spec.given([added(4)]).when({ type: "add", n: 5 }).then([added(6)])).toThrow(AssertionError);
    expect(() => spec.given([]).when({ type: "add", n: 5 }).then([])).toThrow(AssertionError);
  });

  it("then: fails with the rule's error when the command is rejected", () => {
    expect(() => spec.given([added(9)]).when({ type: "add", n: 5 }).then([added(5)])).toThrow(RuleViolationError);
  });

  it("given: folds the history before deciding", () => {
    spec.given([added(6), added(4)]).when({ type: "add", n: 1 }).thenRejects("ceiling_reached");
    spec.given([added(6), added(3)]).when({ type: "add", n: 1 }).then([added(1)]);
  });

  it("thenNothing: passes on no events, fails on some", () => {
    spec.given([added(3)]).when({ type: "add", n: 0 }).thenNothing();
    expect(() => spec.given([added(3)]).when({ type: "add", n: 1 }).thenNothing()).toThrow(AssertionError);
  });

  it("thenRejects: passes on the named rule, fails on another rule or on no rejection", () => {
    spec.given([added(10)]).when({ type: "add", n: 1 }).thenRejects("ceiling_reached");
    expect(() => spec.given([added(10)]).when({ type: "add", n: 1 }).thenRejects("counter_closed")).toThrow(
      /rejected by rule "ceiling_reached", expected "counter_closed"/,
    );
    expect(() => spec.given([]).when({ type: "add", n: 1 }).thenRejects("ceiling_reached")).toThrow(
      /expected rejection by rule "ceiling_reached", but the command decided/,
    );
    expect(() => spec.given([]).when({ type: "add", n: 0 }).thenRejects("ceiling_reached")).toThrow(AssertionError);
  });

  it("thenRejects: lets an error that names no rule through", () => {
    expect(() => spec.given([]).when({ type: "explode" }).thenRejects("ceiling_reached")).toThrow(/not a rule/);
  });
});
