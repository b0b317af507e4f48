import { z } from "zod";
import type { Database } from "@/server/adapters/postgres/database";
import { PostgresEventStore } from "@/server/adapters/postgres/postgres-event-store";
import { PostgresSagaStore, PostgresTimerStore } from "@/server/adapters/postgres/sagas";
import { PostgresSnapshotStore } from "@/server/adapters/postgres/snapshot-store";
import { EventBus } from "@/server/engine/bus";
import { newId } from "@/server/engine/core/ids";
import { systemPrincipal } from "@/server/engine/core/principal";
import { EventTypeRegistry } from "@/server/engine/core/registry";
import { defineCommand } from "@/server/engine/cqrs/command";
import { CommandBus } from "@/server/engine/cqrs/command-bus";
import type { Decider } from "@/server/engine/cqrs/decider";
import { registerSagaEventTypes, SagaOrchestrator, defineSaga, type SagaStepDefinition } from "@/server/engine/sagas";
import { DurableTimers } from "@/server/engine/sagas/timers";
import { EventPublisher } from "@/server/engine/store/publisher";
import { withBenchDatabase } from "./database";
import { formatRate, formatRatio, type BenchRow } from "./table";
import { percentile } from "./transport-harness";

/**
 * Orchestration overhead on Postgres: a 3-step saga whose steps are no-op commands (each appends
 * one event to a stream of the saga's own) against the same 3 commands run by the caller one after
 * another through the same CommandBus, the plain way to do it without a saga. Each client starts
 * one saga (or runs one sequence) at a time and waits for its end; latency is start -> completion.
 *
 * The saga side does what makes it survive a crash: the saga.started and saga.completed events,
 * the saga's row written at every transition (created leased, one save per step, the final one),
 * and its commands run with their idempotency keys. The sequence side runs the commands without
 * keys (a plain sequence has no step to repeat). The ratio is what orchestration costs; the aim is
 * an overhead (baseline / ours) under 3x.
 */

const SAGAS_ONE_CLIENT = 200;
const CONCURRENT_CLIENTS = 16;
const SAGAS_PER_CONCURRENT_CLIENT = 50;
const WARMUP_SAGAS = 20;
/** No run may take longer, however slow the machine: the bench fails instead. */
const RUN_LIMIT_MS = 120_000;

const NOOP_EVENT = "bench.nooped";

interface NoopState {
  steps: number;
}

const noopDecider: Decider<{ step: number }, NoopState, { type: typeof NOOP_EVENT; data: { step: number } }> = {
  name: "bench_noop",
  initialState: () => ({ steps: 0 }),
  evolve: (state) => ({ steps: state.steps + 1 }),
  decide: (command) => [{ type: NOOP_EVENT, data: { step: command.step } }],
};

const noopCommand = defineCommand({
  name: "bench.noop",
  description: "Appends one event to the bench stream (a saga step that does nothing else).",
  schema: z.object({ streamId: z.string().min(1), step: z.number().int() }),
  decider: noopDecider,
  streamId: (command: { streamId: string; step: number }) => command.streamId,
  prepare: (input) => input,
});

const STEPS = ["one", "two", "three"] as const;

const noopSaga = defineSaga({
  type: "bench_noop",
  description: "Three no-op commands in a row.",
  input: z.object({ streamId: z.string() }),
  initialData: (input) => input,
  steps: STEPS.map(
    (name, step): SagaStepDefinition<{ streamId: string }> => ({
      name,
      action: { kind: "command", command: "bench.noop", input: (context) => ({ streamId: context.data.streamId, step }) },
    }),
  ),
});

interface Measured {
  perSecond: number;
  /** Start -> completion, ms, ascending. */
  latencies: number[];
}

/** Runs `perClient` rounds on each of `clients` side by side, timing each. */
async function runClients(clients: number, perClient: number, round: () => Promise<void>): Promise<Measured> {
  const latencies: number[] = [];
  const deadline = performance.now() + RUN_LIMIT_MS;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let index = 0; index < perClient; index++) {
        if (performance.now() > deadline) throw new Error(`bench: a run took longer than ${RUN_LIMIT_MS} ms`);
        const before = performance.now();
        await round();
        latencies.push(performance.now() - before);
      }
    }),
  );
  return { perSecond: ((clients * perClient) / (performance.now() - start)) * 1000, latencies: latencies.sort((a, b) => a - b) };
}

interface Rig {
  orchestrator: SagaOrchestrator;
  bus: CommandBus;
  /** Starts a saga and resolves when it completed. */
  saga(): Promise<void>;
  /** The same three commands, one after another. */
  sequence(): Promise<void>;
  close(): Promise<void>;
}

function rig(database: Database): Rig {
  const registry = new EventTypeRegistry();
  registry.define({ type: NOOP_EVENT, version: 1, description: "A bench no-op step ran.", schema: z.object({ step: z.number().int() }) });
  registerSagaEventTypes(registry);
  const store = new PostgresEventStore(database);
  const sink = new EventBus();
  const bus = new CommandBus({ store, validator: registry, sink, snapshots: new PostgresSnapshotStore(database) });
  bus.register(noopCommand);
  const failures: unknown[] = [];
  const orchestrator = new SagaOrchestrator({
    store: new PostgresSagaStore(database),
    timers: new DurableTimers({ store: new PostgresTimerStore(database), owner: "bench" }),
    actions: { commands: bus, tasks: { submit: () => Promise.reject(new Error("no tasks in this bench")), get: async () => undefined } },
    events: new EventPublisher(store, registry, sink, ({ error }) => failures.push(error)),
    definitions: [noopSaga],
    owner: "bench",
    concurrency: CONCURRENT_CLIENTS * 2,
    onError: ({ error }) => failures.push(error),
  });
  const waiting = new Map<string, (status: string) => void>();
  orchestrator.observe((observation) => {
    if (observation.kind !== "saved" || (observation.transition !== "completed" && observation.transition !== "compensated")) return;
    waiting.get(observation.saga.id)?.(observation.transition);
  });
  orchestrator.startWorkers();
  const principal = systemPrincipal("bench");
  return {
    orchestrator,
    bus,
    async saga() {
      const id = newId();
      const ended = new Promise<string>((resolve) => waiting.set(id, resolve));
      await orchestrator.start("bench_noop", { streamId: `bench-saga-${id}` }, { id });
      const status = await ended;
      waiting.delete(id);
      if (status !== "completed" || failures.length > 0) throw new Error(`bench: saga ${id} ended ${status}: ${String(failures[0] ?? "")}`);
    },
    async sequence() {
      const streamId = `bench-plain-${newId()}`;
      for (let step = 0; step < STEPS.length; step++) await bus.execute("bench.noop", { streamId, step }, { principal });
    },
    async close() {
      await orchestrator.stop();
      await store.close();
    },
  };
}

function rows(clients: number, ours: Measured, plain: Measured): BenchRow[] {
  const total = ours.latencies.length.toLocaleString("en-US");
  const who = clients === 1 ? "1 client" : `${clients} concurrent clients`;
  const latency = (measured: Measured) => `${percentile(measured.latencies, 50).toFixed(1)} / ${percentile(measured.latencies, 99).toFixed(1)} ms`;
  return [
    {
      name: `3-step no-op saga, ${who} (N=${total})`,
      ours: formatRate(ours.perSecond, "sagas"),
      baseline: formatRate(plain.perSecond, "sequences"),
      baselineName: "the same 3 commands in sequence (CommandBus)",
      ratio: `${formatRatio(ours.perSecond, plain.perSecond)} (overhead ${formatRatio(plain.perSecond, ours.perSecond)})`,
    },
    {
      name: `start -> completion p50 / p99, ${who}`,
      ours: latency(ours),
      baseline: latency(plain),
      baselineName: "the same sequences",
      // Above 1 = faster, as in the throughput rows.
      ratio: `${formatRatio(percentile(plain.latencies, 50), percentile(ours.latencies, 50))} / ${formatRatio(percentile(plain.latencies, 99), percentile(ours.latencies, 99))}`,
    },
  ];
}

export async function benchSagas(): Promise<BenchRow[]> {
  return withBenchDatabase({ poolSize: CONCURRENT_CLIENTS * 2 }, async ({ database }) => {
    const bench = rig(database);
    try {
      // Connections, prepared statements and JIT warm on both sides before anything is timed.
      await runClients(4, WARMUP_SAGAS / 4, () => bench.saga());
      await runClients(4, WARMUP_SAGAS / 4, () => bench.sequence());
      const result: BenchRow[] = [];
      for (const [clients, perClient] of [
        [1, SAGAS_ONE_CLIENT],
        [CONCURRENT_CLIENTS, SAGAS_PER_CONCURRENT_CLIENT],
      ] as const) {
        const ours = await runClients(clients, perClient, () => bench.saga());
        const plain = await runClients(clients, perClient, () => bench.sequence());
        result.push(...rows(clients, ours, plain));
      }
      return result;
    } finally {
      await bench.close();
    }
  });
}
