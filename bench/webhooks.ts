import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { Agent } from "undici";
import { z } from "zod";
import { UndiciWebhookSender } from "@/server/adapters/http/webhook-sender";
import type { Database } from "@/server/adapters/postgres/database";
import { createPostgresDriver, PostgresDeadLetterStore, PostgresInbox } from "@/server/adapters/postgres/index";
import { PostgresEventStore } from "@/server/adapters/postgres/postgres-event-store";
import { PostgresWebhookStore } from "@/server/adapters/postgres/webhooks/postgres-webhook-store";
import { EventBus } from "@/server/engine/bus";
import type { EventDraft } from "@/server/engine/core/envelope";
import { toEventResource } from "@/server/engine/core/event-resource";
import { newId } from "@/server/engine/core/ids";
import { EventTypeRegistry } from "@/server/engine/core/registry";
import { GroupCommitAppender } from "@/server/engine/store/group-commit";
import { EventPublisher } from "@/server/engine/store/publisher";
import { InMemoryLease } from "@/server/engine/transport/lease";
import { startOutboxRelay } from "@/server/engine/transport/outbox-relay";
import { parseAllowList } from "@/server/engine/webhooks/address-policy";
import { DEFAULT_WEBHOOK_CONCURRENCY, DEFAULT_WEBHOOK_PER_ENDPOINT_CONCURRENCY, WebhookDispatcher } from "@/server/engine/webhooks/dispatcher";
import { registerWebhookEventTypes } from "@/server/engine/webhooks/events";
import { endpointRecord } from "@/server/engine/webhooks/webhook.fixtures";
import { webhookDeliveries } from "@/server/adapters/postgres/schema";
import { SubscriptionRegistry } from "@/server/runtime/subscriptions";
import { withBenchDatabase } from "./database";
import { formatRate, formatRatio, type BenchRow } from "./table";
import { percentile } from "./transport-harness";
import { LoopbackReceiver, now } from "./webhook-receiver";

/**
 * Webhook delivery on Postgres, the production path end to end: EventPublisher (group-commit
 * appends) -> the outbox relay -> the Postgres transport -> the `webhook-dispatcher` subscription
 * (inbox, dead letters) -> deliveries stored -> signed POSTs by the UndiciWebhookSender (allow-list
 * 127.0.0.1) -> a loopback receiver in a worker thread (webhook-receiver.ts) -> attempts recorded.
 * One endpoint, then 100 endpoints (each a receiver port of its own) subscribed to the bench type,
 * each on a fresh database.
 *
 * - Throughput: DELIVERIES deliveries (events published in batches by a few callers), from the
 *   first publish until the receiver has the last one (or RUN_LIMIT_MS, whichever first); the
 *   p50 / p99 of that run are from "accepted" (the publish call returned) to the first attempt's
 *   arrival at the receiver, so they include the queueing of a run that publishes everything at
 *   once. Beside it, the CPU time each delivery cost this process and the Postgres backends of
 *   the bench database (read from /proc): on a shared machine a steadier figure than the rate.
 * - Latency: PACED_RATE deliveries a second for PACED_SECONDS (one publish per TICK_MS), the same
 *   accepted -> arrival times, the figure the aim (p99 under 50 ms) is about.
 * - Baseline: raw undici (an Agent with the sender's settings: 64 connections per origin, no
 *   pipelining) POSTing the same bodies (the event resources read back from the log) to the same
 *   receiver ports, as many at once as the dispatcher may have in flight (16 per endpoint, 256 in
 *   all); latency from the POST's start to its arrival. No database, no signature, no log.
 *
 * Every delivery must arrive once and end `succeeded` in the store, or the bench fails. The machine's
 * load average is printed with the figures (the bench machine is shared).
 */

const BENCH_TYPE = "bench.webhook.recorded";
const DELIVERIES = 20_000;
const WARMUP_DELIVERIES = 1_000;
/** A run stops here whatever it reached; its rate is what arrived by then. */
const RUN_LIMIT_MS = 30_000;
/** How long everything may take to settle after a run (the store's records, a paced run's tail). */
const SETTLE_LIMIT_MS = 60_000;
const PUBLISH_BATCH = 100;
const PUBLISHERS = 4;
const PACED_RATE = 1_000;
const PACED_SECONDS = 5;
const TICK_MS = 10;
/** Partition keys the events spread over (the subscriber runs one handler per key at a time). */
const KEYS = 1_000;
/** The sender's per-origin connections (UndiciWebhookSender's default), for the baseline's Agent. */
const CONNECTIONS = 64;
const WAIT_STEP_MS = 2;

/** Event `n`: ~300 bytes of data, the shape of the demo's exam events. */
function draft(n: number): EventDraft & { id: string } {
  const exam = `exam-${n % KEYS}`;
  return {
    id: newId(),
    type: BENCH_TYPE,
    subject: exam,
    partitionkey: exam,
    data: { examId: exam, sheetId: `sheet-${n}`, question: n % 40, answer: "B", score: (n % 10) / 2, comment: "x".repeat(190) },
  };
}

function benchRegistry(): EventTypeRegistry {
  const registry = new EventTypeRegistry();
  registry.define({
    type: BENCH_TYPE,
    version: 1,
    description: "A bench event delivered to webhooks.",
    schema: z.object({ examId: z.string(), sheetId: z.string(), question: z.number(), answer: z.string(), score: z.number(), comment: z.string() }),
  });
  registerWebhookEventTypes(registry);
  return registry;
}

interface Rig {
  registry: EventTypeRegistry;
  store: PostgresEventStore;
  /** Publishes through the EventPublisher; resolves when the call returned ("accepted"). */
  publish(drafts: EventDraft[]): Promise<void>;
  /** The first failure reported by the dispatcher, the publisher's sink, the transport or the relay. */
  failure(): Error | undefined;
  close(): Promise<void>;
}

/** The production wiring (container.ts, transport-workers.ts, runtime/webhooks.ts) for one process with only the webhook subscription. */
async function openRig(database: Database, receiver: LoopbackReceiver, endpoints: number): Promise<Rig> {
  const failures: unknown[] = [];
  const registry = benchRegistry();
  const store = new PostgresEventStore(database);
  const publisher = new EventPublisher(new GroupCommitAppender(store), registry, new EventBus(), ({ error }) => failures.push(error));
  const webhookStore = new PostgresWebhookStore(database, { secretsKey: randomBytes(32) });
  const sender = new UndiciWebhookSender({ allow: parseAllowList("127.0.0.1") });
  const dispatcher = new WebhookDispatcher({
    store: webhookStore,
    sender,
    events: publisher,
    eventStore: store,
    registry,
    owner: "bench",
    onError: ({ stage, error }) => failures.push(new Error(`dispatcher ${stage}: ${String(error)}`)),
  });
  for (let slot = 0; slot < endpoints; slot++) {
    await webhookStore.createEndpoint(endpointRecord({ url: receiver.url(slot), eventTypes: [BENCH_TYPE], createdBy: "bench" }));
  }
  dispatcher.invalidateEndpoints();

  const driver = createPostgresDriver({ database, onError: (error) => failures.push(error) });
  await driver.connect();
  const topic = "events";
  const subscriptions = new SubscriptionRegistry(driver, topic, new PostgresDeadLetterStore(database), new PostgresInbox(database));
  subscriptions.define(dispatcher.subscription());
  await subscriptions.startAll();
  const relay = startOutboxRelay({ store, driver, topic, lease: new InMemoryLease(), owner: "bench", onError: (error) => failures.push(error) });
  dispatcher.start();
  return {
    registry,
    store,
    async publish(drafts) {
      const outcome = await publisher.publish(drafts);
      if (outcome.status !== "accepted") throw new Error(`bench: publish answered ${outcome.status}`);
    },
    failure() {
      const [first] = failures;
      return first === undefined ? undefined : first instanceof Error ? first : new Error(String(first));
    },
    async close() {
      await relay.stop();
      await subscriptions.stopAll();
      await dispatcher.stop();
      await sender.close();
      await driver.close();
      await store.close();
    },
  };
}

/** Waits until `done()`, or until `deadline` passed. */
async function until(done: () => boolean, deadline: number): Promise<void> {
  while (!done() && now() <= deadline) await sleep(WAIT_STEP_MS);
}

interface Measured {
  /** Requests the run was to make (deliveries of the events published, or POSTs). */
  planned: number;
  /** Deliveries (or requests) per second, first publish (or POST) to the last arrival. */
  perSecond: number;
  /** Ascending, ms. */
  latencies: number[];
  arrived: number;
  /** The run hit RUN_LIMIT_MS before everything arrived. */
  cut: boolean;
}

/** Latencies from `startedAt` (per receiver key `<slot> <id>`) to each arrival, and the rate from `start` to the last arrival. */
function measure(
  arrivals: ReadonlyMap<string, number>,
  startedAt: (key: string) => number | undefined,
  run: { planned: number; start: number; cutAt: number },
): Measured {
  const { planned, start } = run;
  const latencies: number[] = [];
  let last = start;
  for (const [key, at] of arrivals) {
    const from = startedAt(key);
    if (from === undefined) continue;
    latencies.push(at - from);
    if (at > last) last = at;
  }
  const cut = latencies.length < planned;
  const end = cut ? run.cutAt : last;
  return { planned, perSecond: (latencies.length / (end - start)) * 1000, latencies: latencies.sort((a, b) => a - b), arrived: latencies.length, cut };
}

const idOf = (key: string) => key.slice(key.indexOf(" ") + 1);

/**
 * Ours: publishes `events` events, all at once in batches of PUBLISH_BATCH by PUBLISHERS callers
 * (`paced` false) or at `paced` events a second in ticks of TICK_MS, and measures until
 * `events * endpoints` deliveries arrived (or the run limit).
 */
async function deliverOurs(rig: Rig, receiver: LoopbackReceiver, endpoints: number, events: number, paced: number | false): Promise<Measured> {
  const drafts = Array.from({ length: events }, (_, n) => draft(n));
  const accepted = new Map<string, number>();
  const expected = receiver.received + events * endpoints;
  const start = now();
  const deadline = start + RUN_LIMIT_MS;
  const publishing: Array<Promise<void>> = [];
  const publish = async (batch: Array<EventDraft & { id: string }>) => {
    await rig.publish(batch);
    const at = now();
    for (const { id } of batch) accepted.set(id.toLowerCase(), at);
  };
  if (paced === false) {
    let next = 0;
    for (let caller = 0; caller < PUBLISHERS; caller++) {
      publishing.push(
        (async () => {
          while (next < drafts.length && now() < deadline) {
            const batch = drafts.slice(next, next + PUBLISH_BATCH);
            next += batch.length;
            await publish(batch);
          }
        })(),
      );
    }
  } else {
    const perTick = (paced * TICK_MS) / 1000;
    for (let tick = 1, sent = 0; sent < drafts.length && now() < deadline; tick++) {
      const wait = start + tick * TICK_MS - now();
      if (wait > 0) await sleep(wait);
      const due = Math.min(drafts.length, Math.floor(tick * perTick));
      if (due > sent) publishing.push(publish(drafts.slice(sent, due)));
      sent = Math.max(sent, due);
    }
  }
  await Promise.all(publishing);
  await until(() => receiver.received >= expected || rig.failure() !== undefined, deadline);
  const failure = rig.failure();
  if (failure) throw failure;
  const arrivals = await receiver.takeArrivals();
  return measure(arrivals, (key) => accepted.get(idOf(key)), { planned: accepted.size * endpoints, start, cutAt: deadline });
}

/**
 * Waits (bounded) until the store holds `deliveries` deliveries, all `succeeded`, and the receiver
 * got `requests` requests in all; more requests than that (a delivery sent twice) fails the bench.
 */
async function settled(database: Database, receiver: LoopbackReceiver, deliveries: number, requests: number): Promise<void> {
  const deadline = now() + SETTLE_LIMIT_MS;
  for (;;) {
    const [row] = await database.rows<{ total: number | string; open: number | string }>(
      sql`select count(*) as "total", count(*) filter (where status <> 'succeeded') as "open" from ${webhookDeliveries}`,
    );
    const [total, open] = [Number(row?.total ?? 0), Number(row?.open ?? 0)];
    if (open === 0 && total === deliveries && receiver.received >= requests) break;
    if (now() > deadline) throw new Error(`bench: after ${SETTLE_LIMIT_MS} ms, ${open} of ${total} deliveries (${deliveries} expected) are not succeeded; the receiver got ${receiver.received} of ${requests} requests`);
    await sleep(50);
  }
  if (receiver.received !== requests) throw new Error(`bench: the receiver got ${receiver.received} requests, ${requests} expected`);
  // What the run left (acks, the last records) is written: the next run starts on a quiet database.
  await sleep(200);
}

/** The bodies the dispatcher sent: every bench event of the log as its resource, log order. */
async function bodiesOf(rig: Rig): Promise<Array<{ id: string; body: string }>> {
  const bodies: Array<{ id: string; body: string }> = [];
  for (let after = 0, page = 0; page < 1_000; page++) {
    const { events, lastPosition } = await rig.store.readAll({ after, types: [BENCH_TYPE], limit: 5_000 });
    for (const event of events) bodies.push({ id: event.id, body: JSON.stringify(toEventResource(event, rig.registry)) });
    if (events.length < 5_000) break;
    after = lastPosition;
  }
  return bodies;
}

/**
 * The baseline: each body POSTed to every slot by `concurrency` callers on one Agent, all at once
 * (`paced` false) or `paced` requests a second in ticks of TICK_MS; latency from the POST's start
 * to its arrival. Ids are fresh per run, so arrivals of different runs never mix.
 */
async function deliverRaw(
  agent: Agent,
  receiver: LoopbackReceiver,
  bodies: ReadonlyArray<{ body: string }>,
  endpoints: number,
  concurrency: number,
  paced: number | false,
): Promise<Measured> {
  const requests = bodies.flatMap(({ body }) => {
    const id = newId();
    return Array.from({ length: endpoints }, (_, slot) => ({ slot, id, body }));
  });
  const sentAt = new Map<string, number>();
  const start = now();
  const deadline = start + RUN_LIMIT_MS;
  const perTick = paced === false ? Number.POSITIVE_INFINITY : (paced * TICK_MS) / 1000;
  let next = 0;
  const failures: unknown[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length && failures.length === 0) {
        const index = next++;
        const request = requests[index]!;
        // The request's tick (paced runs): its place in the schedule.
        const wait = start + (Math.floor(index / perTick) + 1) * TICK_MS - now();
        if (paced !== false && wait > 0) await sleep(wait);
        if (now() > deadline) return;
        const origin = receiver.url(request.slot);
        sentAt.set(`${request.slot} ${request.id}`, now());
        try {
          const response = await agent.request({ origin, path: "/", method: "POST", headers: { "content-type": "application/json", "webhook-id": request.id }, body: request.body });
          await response.body.dump();
          if (response.statusCode !== 200) throw new Error(`bench: the receiver answered ${response.statusCode}`);
        } catch (error) {
          failures.push(error);
        }
      }
    }),
  );
  if (failures.length > 0) throw failures[0];
  const arrivals = await receiver.takeArrivals();
  return measure(arrivals, (key) => sentAt.get(key), { planned: requests.length, start, cutAt: deadline });
}

/** CPU time (ms) this process has used, worker threads (the receiver) included. */
function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * CPU time (ms) the Postgres backends serving this bench database have used, from /proc (the
 * server runs on this machine: scripts/services.sh); undefined when it cannot be read.
 */
async function postgresCpuMs(database: Database): Promise<number | undefined> {
  const backends = await database.rows<{ pid: number }>(sql`select pid from pg_stat_activity where datname = current_database()`);
  let ticks = 0;
  try {
    for (const { pid } of backends) {
      // Fields after "(comm) ": state is the first, utime and stime the 12th and 13th.
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      ticks += Number(fields[11]) + Number(fields[12]);
    }
  } catch {
    return undefined;
  }
  // USER_HZ is 100 on Linux.
  return Number.isFinite(ticks) ? ticks * 10 : undefined;
}

/** CPU time per request of a run: this process's, and the Postgres backends' (ours only). */
interface CpuCost {
  processUs: number;
  postgresUs: number | undefined;
}

async function cpuCost<T extends Measured>(database: Database | undefined, work: () => Promise<T>): Promise<{ measured: T; cpu: CpuCost }> {
  const [process0, postgres0] = [processCpuMs(), database && (await postgresCpuMs(database))];
  const measured = await work();
  const [process1, postgres1] = [processCpuMs(), database && (await postgresCpuMs(database))];
  const per = (ms: number) => (ms * 1000) / measured.planned;
  return { measured, cpu: { processUs: per(process1 - process0), postgresUs: postgres0 === undefined || postgres1 === undefined ? undefined : per(postgres1 - postgres0) } };
}

const ms = (value: number) => value.toFixed(1);
const latencyCell = (measured: Measured) => `${ms(percentile(measured.latencies, 50))} / ${ms(percentile(measured.latencies, 99))} ms`;
const latencyRatio = (ours: Measured, raw: Measured) =>
  `${formatRatio(percentile(raw.latencies, 50), percentile(ours.latencies, 50))} / ${formatRatio(percentile(raw.latencies, 99), percentile(ours.latencies, 99))}`;
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");

async function scenario(database: Database, receiver: LoopbackReceiver, endpoints: number): Promise<BenchRow[]> {
  const rig = await openRig(database, receiver, endpoints);
  const concurrency = Math.min(DEFAULT_WEBHOOK_CONCURRENCY, endpoints * DEFAULT_WEBHOOK_PER_ENDPOINT_CONCURRENCY);
  const agent = new Agent({ connections: CONNECTIONS, pipelining: 1 });
  const before = receiver.received;
  let deliveries = 0;
  const run = async (total: number, paced: number | false) => {
    const measured = await deliverOurs(rig, receiver, endpoints, total / endpoints, paced);
    deliveries += measured.planned;
    await settled(database, receiver, deliveries, before + deliveries);
    return measured;
  };
  try {
    // Connections, prepared statements, JIT and the routing table warm before anything is timed.
    if ((await run(WARMUP_DELIVERIES, false)).cut) throw new Error("bench: the warm-up did not finish in time");
    const loadBefore = load();
    const { measured: ours, cpu: oursCpu } = await cpuCost(database, () => run(DELIVERIES, false));
    const oursPaced = await run(PACED_RATE * PACED_SECONDS, PACED_RATE / endpoints);

    const bodies = await bodiesOf(rig);
    const throughputBodies = bodies.slice(WARMUP_DELIVERIES / endpoints, (WARMUP_DELIVERIES + DELIVERIES) / endpoints);
    const pacedBodies = bodies.slice((WARMUP_DELIVERIES + DELIVERIES) / endpoints);
    await deliverRaw(agent, receiver, bodies.slice(0, WARMUP_DELIVERIES / endpoints), endpoints, concurrency, false);
    const { measured: raw, cpu: rawCpu } = await cpuCost(undefined, () => deliverRaw(agent, receiver, throughputBodies, endpoints, concurrency, false));
    const rawPaced = await deliverRaw(agent, receiver, pacedBodies, endpoints, concurrency, PACED_RATE);
    const loadAfter = load();
    console.log(`webhooks bench, ${endpoints} endpoint(s): load average ${loadBefore} before, ${loadAfter} after (1/5/15 min)`);

    const who = endpoints === 1 ? "1 endpoint" : `${endpoints} endpoints`;
    const cut = (measured: Measured) => (measured.cut ? ` (cut at ${RUN_LIMIT_MS / 1000} s: ${measured.arrived.toLocaleString("en-US")} arrived)` : "");
    return [
      {
        name: `signed deliveries, ${who} (N=${DELIVERIES.toLocaleString("en-US")}; load ${loadBefore})`,
        ours: formatRate(ours.perSecond, "deliveries") + cut(ours),
        baseline: formatRate(raw.perSecond, "POSTs") + cut(raw),
        baselineName: `raw undici POSTs of the same bodies, ${concurrency} at once`,
        ratio: formatRatio(ours.perSecond, raw.perSecond),
      },
      {
        name: "  CPU per delivery in that run: this process (receiver thread included) + Postgres backends",
        ours: `${Math.round(oursCpu.processUs)} + ${oursCpu.postgresUs === undefined ? "n/a" : Math.round(oursCpu.postgresUs)} us`,
        baseline: `${Math.round(rawCpu.processUs)} us`,
        baselineName: "the same POSTs (no database)",
        ratio: formatRatio(rawCpu.processUs, oursCpu.processUs + (oursCpu.postgresUs ?? 0)),
      },
      {
        name: `  p50 / p99 during that run: accepted -> first attempt`,
        ours: latencyCell(ours),
        baseline: latencyCell(raw),
        baselineName: "POST start -> arrival",
        ratio: latencyRatio(ours, raw),
      },
      {
        name: `  p50 / p99 at ${PACED_RATE.toLocaleString("en-US")} deliveries/s for ${PACED_SECONDS} s: accepted -> first attempt`,
        ours: latencyCell(oursPaced) + cut(oursPaced),
        baseline: latencyCell(rawPaced) + cut(rawPaced),
        baselineName: `POST start -> arrival, ${PACED_RATE.toLocaleString("en-US")} POSTs/s`,
        ratio: latencyRatio(oursPaced, rawPaced),
      },
    ];
  } finally {
    await agent.close();
    await rig.close();
  }
}

export async function benchWebhooks(): Promise<BenchRow[]> {
  const endpointCounts = [1, 100];
  const receiver = await LoopbackReceiver.start(Math.max(...endpointCounts));
  try {
    const rows: BenchRow[] = [];
    for (const endpoints of endpointCounts) {
      rows.push(...(await withBenchDatabase({}, ({ database }) => scenario(database, receiver, endpoints))));
    }
    return rows;
  } finally {
    await receiver.close();
  }
}
