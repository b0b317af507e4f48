import { benchBus } from "./bus";
import { benchCqrs } from "./cqrs";
import { benchSagas } from "./sagas";
import { benchStore } from "./store";
import { printTable, type BenchRow } from "./table";
import { benchKafkaTransport } from "./transport-kafka";
import { benchPostgresTransport } from "./transport-postgres";
import { benchRabbitmqTransport } from "./transport-rabbitmq";
import { benchRedisTransport } from "./transport-redis";
import { benchWebhooks } from "./webhooks";

/**
 * `npm run bench [suite]`: runs one suite by name, or all of them. A suite prints one table;
 * `transports` runs the four transport suites, one table per broker (each needs its broker from
 * scripts/services.sh). A suite that fails is reported and the others still run; the exit code
 * is then 1.
 */
const suites: Record<string, { title: string; run: () => Promise<BenchRow[]> }> = {
  bus: { title: "Event bus (in-process)", run: benchBus },
  store: { title: "Event store", run: benchStore },
  cqrs: { title: "CQRS: commands and projections on Postgres", run: benchCqrs },
  sagas: { title: "Sagas: orchestrated 3-step saga vs the same commands in sequence, on Postgres", run: benchSagas },
  webhooks: {
    title: "Webhooks: signed deliveries through the dispatcher on Postgres vs raw undici POSTs of the same bodies (loopback receiver)",
    run: benchWebhooks,
  },
  "transport-postgres": { title: "Transport: Postgres (Eventloom vs a postgres.js SKIP LOCKED queue)", run: benchPostgresTransport },
  "transport-redis": { title: "Transport: Redis Streams (Eventloom vs ioredis XADD / XREADGROUP)", run: benchRedisTransport },
  "transport-kafka": { title: "Transport: Kafka (Eventloom vs kafkajs)", run: benchKafkaTransport },
  "transport-rabbitmq": { title: "Transport: RabbitMQ (Eventloom vs amqplib)", run: benchRabbitmqTransport },
};

/** Names for several suites at once. */
const groups: Record<string, string[]> = {
  transports: ["transport-postgres", "transport-redis", "transport-kafka", "transport-rabbitmq"],
};

async function main(): Promise<void> {
  const requested = process.argv[2];
  if (requested !== undefined && !(requested in suites) && !(requested in groups)) {
    console.error(`Unknown bench suite "${requested}". Known: ${[...Object.keys(suites), ...Object.keys(groups)].join(", ")}`);
    process.exit(2);
  }
  const chosen = requested === undefined ? Object.keys(suites) : (groups[requested] ?? [requested]);
  let failed = false;
  for (const name of chosen) {
    const suite = suites[name];
    if (!suite) continue;
    try {
      printTable(suite.title, await suite.run());
    } catch (error) {
      failed = true;
      console.error(`\n${suite.title}: failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (failed) process.exitCode = 1;
}

await main();
