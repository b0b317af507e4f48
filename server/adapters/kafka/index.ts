import type { TransportDriver } from "@/server/engine/transport/driver";
import { KafkaDriver } from "./kafka-driver";
import { resolveKafkaOptions, type KafkaDriverOptions } from "./options";

export type { KafkaDriverOptions, KafkaLog } from "./options";

/** The Kafka transport; options are validated here (a bad value throws a ValidationError naming it). */
export function createKafkaDriver(options: KafkaDriverOptions): TransportDriver {
  return new KafkaDriver(resolveKafkaOptions(options));
}
