import { describe, expect, it } from "vitest";
import { FakeClock } from "../core/clock";
import { CircuitBreaker } from "./circuit-breaker";

function failTimes(breaker: CircuitBreaker, times: number): void {
  for (let i = 0; i < times; i++) {
    expect(breaker.tryAcquire()).toEqual({ allowed: true, probe: false });
    breaker.recordFailure();
  }
}

describe("CircuitBreaker", () => {
  it("stays closed below the threshold, and a success resets the count", () => {
    const breaker = new CircuitBreaker({ clock: new FakeClock() });
    failTimes(breaker, 4);
    breaker.recordSuccess();
    failTimes(breaker, 4);
    expect(breaker.state).toBe("closed");
    expect(breaker.consecutiveFailures).toBe(4);
  });

  it("opens after 5 consecutive failures and refuses calls until the probe time", () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ clock });
    failTimes(breaker, 5);
    expect(breaker.state).toBe("open");
    const opensAt = clock.now();
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAt: opensAt + 30_000 });
    clock.advance(29_999);
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAt: opensAt + 30_000 });
  });

  it("lets one probe through when half-open; its success closes the circuit", () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ clock });
    failTimes(breaker, 5);
    clock.advance(30_000);
    expect(breaker.state).toBe("half_open");
    expect(breaker.tryAcquire()).toEqual({ allowed: true, probe: true });
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAt: null });
    breaker.recordSuccess();
    expect(breaker.state).toBe("closed");
    expect(breaker.tryAcquire()).toEqual({ allowed: true, probe: false });
  });

  it("opens again for another period when the probe fails", () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ clock, failureThreshold: 2, openMs: 1_000 });
    failTimes(breaker, 2);
    clock.advance(1_000);
    expect(breaker.tryAcquire()).toEqual({ allowed: true, probe: true });
    breaker.recordFailure();
    expect(breaker.state).toBe("open");
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAt: clock.now() + 1_000 });
  });

  it("does not extend the open period for calls that started before it opened", () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ clock, failureThreshold: 1, openMs: 1_000 });
    failTimes(breaker, 1);
    clock.advance(500);
    breaker.recordFailure();
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAt: clock.now() + 500 });
  });

  it("frees an unused probe permit for the next caller", () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ clock, failureThreshold: 1 });
    failTimes(breaker, 1);
    clock.advance(30_000);
    expect(breaker.tryAcquire()).toEqual({ allowed: true, probe: true });
    breaker.releaseProbe();
    expect(breaker.tryAcquire()).toEqual({ allowed: true, probe: true });
  });

  it("rejects settings that make no breaker", () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(/failureThreshold/);
    expect(() => new CircuitBreaker({ openMs: -1 })).toThrow(/openMs/);
  });
});
