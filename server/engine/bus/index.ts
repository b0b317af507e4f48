export {
  EventBus,
  type BusEvent,
  type BusStats,
  type EventBusOptions,
  type EventHandler,
  type HandlerContext,
  type HandlerFailure,
  type Middleware,
  type PublishResult,
  type RetryPolicy,
  type SubscribeOptions,
  type SubscriptionInfo,
  type SyncHandlerError,
  type Unsubscribe,
} from "./event-bus";
export { DEFAULT_PRIORITY_WEIGHTS, type PriorityWeights } from "./scheduler";
