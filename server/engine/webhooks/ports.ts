import type { Principal } from "../core/principal";
import type {
  AttemptListQuery,
  Page,
  WebhookAttempt,
  WebhookEndpoint,
  WebhookEndpointStats,
} from "./webhook-store";

/** One signed HTTP request to a receiver. */
export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Default 15 s: the whole exchange, connect to last byte of the (truncated) response. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** What came back. Any status is a response; what counts as success is the dispatcher's call. */
export interface WebhookResponse {
  status: number;
  headers: Record<string, string>;
  /** At most 64 KiB of it (decoded as UTF-8). */
  body: string;
  truncated: boolean;
  durationMs: number;
}

export type WebhookSendFailureKind = "timeout" | "connection" | "dns" | "blocked_address" | "invalid_url" | "aborted";

/** No response: the receiver hung, reset, could not be reached, or its address is not allowed. */
export class WebhookSendError extends Error {
  constructor(
    readonly kind: WebhookSendFailureKind,
    message: string,
    readonly durationMs: number,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = "WebhookSendError";
  }
}

/**
 * Sends one request: never follows redirects (a 3xx is returned as the response), checks the
 * resolved address of EVERY connection against the SSRF rules (blocked: WebhookSendError
 * `blocked_address`), truncates the response body at 64 KiB. Never throws anything but
 * WebhookSendError. Implemented in server/adapters/http with undici.
 */
export interface WebhookSender {
  send(request: WebhookRequest): Promise<WebhookResponse>;
  close?(): Promise<void>;
}

/** What creating an endpoint or rotating its secret returns: the only time the secret is shown. */
export interface EndpointWithSecret {
  endpoint: WebhookEndpoint;
  secret: string;
}

export interface CreateEndpointInput {
  /**
   * The new endpoint's id; default a new UUIDv7. REST derives it from the caller's Idempotency-Key,
   * so a repeated create finds the endpoint the first one made.
   */
  id?: string;
  url: string;
  eventTypes: string[];
  description?: string;
  filter?: string | null;
  headers?: Record<string, string>;
  rateLimitPerSecond?: number | null;
  orderedByKey?: boolean;
  disabled?: boolean;
}

export type UpdateEndpointInput = Partial<CreateEndpointInput>;

/** How the last N events (of the endpoint's types) fare against a filter: the form's preview. */
export interface FilterPreview {
  /** The compile error, naming the position, or null. */
  error: string | null;
  matched: Array<{ id: string; type: string; time: string }>;
  /** Events of the types looked at. */
  examined: number;
}

/**
 * What the API layer (REST, tRPC) uses. WebhookService implements it.
 *
 * Errors: ValidationError naming the field (`url`, `eventTypes[1]`, `filter`, `headers.x-foo`,
 * `rateLimitPerSecond`) for bad input, including a non-http(s) scheme, an address the SSRF rules
 * refuse and an unknown event type; NotFoundError for an unknown id; EngineError("conflict") for
 * an update that raced another.
 */
export interface WebhookOperations {
  createEndpoint(input: CreateEndpointInput, principal: Principal): Promise<EndpointWithSecret>;
  listEndpoints(query: { cursor?: string; limit: number }): Promise<Page<WebhookEndpoint & { stats: WebhookEndpointStats }>>;
  getEndpoint(id: string): Promise<WebhookEndpoint & { stats: WebhookEndpointStats }>;
  updateEndpoint(id: string, input: UpdateEndpointInput, principal: Principal): Promise<WebhookEndpoint>;
  deleteEndpoint(id: string, principal: Principal): Promise<void>;
  /** Re-enabling catches up the deliveries skipped while disabled (throttled, resumable). */
  setEnabled(id: string, enabled: boolean, principal: Principal): Promise<WebhookEndpoint>;
  /** A new current secret; the old one keeps signing (a second signature) for `graceMs` (default 24 h). */
  rotateSecret(id: string, principal: Principal, graceMs?: number): Promise<EndpointWithSecret>;
  /** Sends one signed test delivery now (type default `webhook.test`) and returns its attempt. */
  sendTest(id: string, input: { type?: string; data?: unknown }, principal: Principal): Promise<WebhookAttempt>;
  listAttempts(query: AttemptListQuery): Promise<Page<WebhookAttempt>>;
  getAttempt(id: string): Promise<WebhookAttempt | undefined>;
  /** Makes the attempt's delivery due again now (a new attempt, trigger `manual`). */
  resend(attemptId: string, principal: Principal): Promise<{ deliveryId: string }>;
  /** Failed deliveries since `since` are sent again (at most 10,000). Returns how many. */
  recover(id: string, since: string, principal: Principal): Promise<{ recovered: number }>;
  previewFilter(input: { filter: string; eventTypes: string[]; limit?: number }): Promise<FilterPreview>;
}

/** The metrics port lives beside the dispatcher (metrics.ts); re-exported for the runtime's imports. */
export type { WebhookMetrics } from "./metrics";
