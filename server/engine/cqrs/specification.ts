import { deepStrictEqual, fail } from "node:assert/strict";
import { isEngineError } from "../core/errors";
import { foldEvents, type DecidedEvent, type Decider } from "./decider";

/**
 * Given/when/then for deciders: given the events already in the stream, when a command is
 * decided, then these events follow, or the command is rejected naming this rule.
 *
 * ```ts
 * const spec = specification(examDecider);
 * spec.given([created]).when({ type: "publish_results", ... }).then([resultsPublished]);
 * spec.given([]).when(publish).thenRejects("exam_not_found");
 * ```
 *
 * Failures throw AssertionErrors with both sides, so any test runner prints the difference.
 */
export function specification<TCommand, TState, TEvent extends DecidedEvent>(decider: Decider<TCommand, TState, TEvent>) {
  return {
    given(history: readonly TEvent[]) {
      return {
        when(command: TCommand) {
          const decide = () => decider.decide(command, foldEvents(decider, decider.initialState(), history));
          return {
            then(expected: readonly TEvent[]): void {
              deepStrictEqual(decide(), expected);
            },
            /** The command changes nothing: no events, no rejection. */
            thenNothing(): void {
              deepStrictEqual(decide(), []);
            },
            thenRejects(rule: string): void {
              let events: TEvent[];
              try {
                events = decide();
              } catch (error) {
                if (isEngineError(error) && "rule" in error) {
                  deepStrictEqual(error.rule, rule, `rejected by rule "${String(error.rule)}", expected "${rule}": ${error.message}`);
                  return;
                }
                throw error;
              }
              fail(`expected rejection by rule "${rule}", but the command decided ${JSON.stringify(events)}`);
            },
          };
        },
      };
    },
  };
}
