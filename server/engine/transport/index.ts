export type {
  BrokerDelivery,
  ConsumeSpec,
  ConsumerHandle,
  QueueFigures,
  TransportCapabilities,
  TransportDriver,
  TransportKind,
  WireMessage,
} from "./driver";
export type { DeadLetter, DeadLetterFilter, DeadLetterStore, Inbox } from "./dead-letters";
export { CE_HEADERS, CONTENT_TYPE_HEADER, DecodeError, REPLAY_ID_HEADER, fromWireMessage, isDecodeError, orderKeyOf, toWireMessage } from "./codec";
export {
  DEFAULT_RETRY_POLICY,
  backoffDelayMs,
  decideAfterFailure,
  resolveRetryPolicy,
  type RetryDecision,
  type RetryPolicy,
} from "./retry-policy";
export {
  TransportPublisher,
  defaultConsumerName,
  publishEvents,
  redrive,
  redriveMatching,
  startSubscriber,
  type DeliveredEvent,
  type DeliveryContext,
  type RedriveFilter,
  type RunningSubscriber,
  type StopOptions,
  type SubscriberErrorInfo,
  type SubscriberErrorStage,
  type SubscriberOptions,
  type SubscriberStats,
} from "./subscriber";
export {
  InMemoryDeadLetterStore,
  InMemoryInbox,
  MemoryBroker,
  MemoryDriver,
  type MemoryDriverOptions,
} from "./memory-driver";
