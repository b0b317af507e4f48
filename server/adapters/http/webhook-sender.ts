import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";
import { Agent, buildConnector, errors as undiciErrors } from "undici";
import { checkAddress, type AllowList } from "@/server/engine/webhooks/address-policy";
import {
  WebhookSendError,
  type WebhookRequest,
  type WebhookResponse,
  type WebhookSender,
  type WebhookSendFailureKind,
} from "@/server/engine/webhooks/ports";

/** What the attempt log keeps of a response body (the Standard Webhooks receivers' answers are small). */
export const RESPONSE_BODY_LIMIT_BYTES = 64 * 1024;
/**
 * Past the kept part, a body is read and dropped up to this much so the keep-alive connection can
 * be reused; a receiver sending more than that gets its connection closed instead (reading it all
 * would cost more than a new connection).
 */
const DRAIN_LIMIT_BYTES = 1024 * 1024;

export interface UndiciWebhookSenderOptions {
  /** Host names, IPs and CIDRs allowed even though the SSRF rules block their addresses (`WEBHOOK_ALLOWED_HOSTS`). */
  allow: AllowList;
  /** Keep-alive connections per origin at most (default 64). */
  connections?: number;
  /** How long a TCP/TLS connect may take (default 10 s; the request's own deadline still applies). */
  connectTimeoutMs?: number;
}

/**
 * A connection refused by the SSRF rules. Raised inside the connector, so undici fails the request
 * (and every request queued for that connection) with it before a byte is sent.
 */
class BlockedAddressError extends Error {
  readonly code = "EWEBHOOKBLOCKED";

  constructor(host: string, ip: string, reason: string) {
    super(host === ip ? `blocked address: ${reason}` : `blocked address for ${host}: ${reason}`);
    this.name = "BlockedAddressError";
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * The WebhookSender on undici: one keep-alive Agent (a pool per origin, no pipelining, no redirect
 * interceptor, so a 3xx comes back as the response). Every NEW connection is checked against the
 * SSRF rules: IP-literal hosts before connecting, host names on the addresses DNS gave for this
 * very connection (a `lookup` wrapper), so a name re-pointed at a private address after the
 * endpoint was validated is still refused.
 */
export class UndiciWebhookSender implements WebhookSender {
  private readonly agent: Agent;

  constructor(private readonly options: UndiciWebhookSenderOptions) {
    const allow = options.allow;
    const connectChecked = buildConnector({
      timeout: options.connectTimeoutMs ?? 10_000,
      lookup: (hostname: string, lookupOptions: LookupOptions, callback: LookupCallback) => {
        dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
          if (error) return callback(error, []);
          for (const { address } of addresses) {
            const verdict = checkAddress(hostname, address, allow);
            if (!verdict.allowed) return callback(new BlockedAddressError(hostname, address, verdict.reason), []);
          }
          if (lookupOptions.all) return callback(null, addresses);
          const [first] = addresses;
          if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), []);
          callback(null, first.address, first.family);
        });
      },
    } as buildConnector.BuildOptions);
    this.agent = new Agent({
      connections: options.connections ?? 64,
      pipelining: 1,
      connect: (connectOptions, callback) => {
        // net.connect skips `lookup` for an IP literal, so those are judged here.
        const host = connectOptions.hostname;
        if (isIP(host)) {
          const verdict = checkAddress(host, host, allow);
          if (!verdict.allowed) return callback(new BlockedAddressError(host, host, verdict.reason), null);
        }
        connectChecked(connectOptions, callback);
      },
    });
  }

  async send(request: WebhookRequest): Promise<WebhookResponse> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const url = parseWebhookUrl(request.url, elapsed);
    const deadline = AbortSignal.timeout(request.timeoutMs);
    const signal = request.signal ? AbortSignal.any([deadline, request.signal]) : deadline;
    const failure = (error: unknown) => toSendError(error, { deadline, caller: request.signal, durationMs: elapsed(), timeoutMs: request.timeoutMs });

    let response: Awaited<ReturnType<Agent["request"]>>;
    try {
      response = await this.agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers: request.headers,
        body: request.body,
        signal,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      });
    } catch (error) {
      throw failure(error);
    }

    const kept: Buffer[] = [];
    let keptBytes = 0;
    let truncated = false;
    const iterator = response.body[Symbol.asyncIterator]();
    try {
      while (keptBytes < RESPONSE_BODY_LIMIT_BYTES) {
        const next = await iterator.next();
        if (next.done) break;
        const chunk = next.value as Buffer;
        const room = RESPONSE_BODY_LIMIT_BYTES - keptBytes;
        if (chunk.length > room) truncated = true;
        const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
        kept.push(part);
        keptBytes += part.length;
      }
    } catch (error) {
      // The connection broke (or the deadline passed) before the part the log keeps arrived.
      response.body.destroy();
      throw failure(error);
    }
    if (keptBytes >= RESPONSE_BODY_LIMIT_BYTES) truncated = (await drain(iterator)) || truncated;
    response.body.destroy();

    return {
      status: response.statusCode,
      headers: flattenHeaders(response.headers),
      // Lenient: a receiver's garbage bytes become U+FFFD, never an error.
      body: new TextDecoder("utf-8", { fatal: false }).decode(Buffer.concat(kept, keptBytes)),
      truncated,
      durationMs: elapsed(),
    };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Reads what is left after the kept part, up to DRAIN_LIMIT_BYTES. True when anything was left. */
async function drain(iterator: AsyncIterator<unknown>): Promise<boolean> {
  let drained = 0;
  try {
    while (drained <= DRAIN_LIMIT_BYTES) {
      const next = await iterator.next();
      if (next.done) return drained > 0;
      drained += (next.value as Buffer).length;
    }
  } catch {
    // The response is in hand; what breaks after the kept part does not change the outcome.
  }
  return true;
}

function parseWebhookUrl(value: string, elapsed: () => number): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new WebhookSendError("invalid_url", `invalid URL: ${value}`, elapsed());
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new WebhookSendError("invalid_url", `unsupported scheme ${url.protocol} (http or https only)`, elapsed());
  }
  return url;
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "UND_ERR_SOCKET", "UND_ERR_CLOSED", "UND_ERR_DESTROYED"]);
const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NODATA", "EAI_NONAME", "ENODATA"]);
const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/** Maps whatever undici, net or dns raised to the port's one error type, with a message the attempt log can show. */
function toSendError(
  error: unknown,
  context: { deadline: AbortSignal; caller: AbortSignal | undefined; durationMs: number; timeoutMs: number },
): WebhookSendError {
  if (error instanceof WebhookSendError) return error;
  const { durationMs } = context;
  const make = (kind: WebhookSendFailureKind, message: string) => new WebhookSendError(kind, message, durationMs, { cause: error });
  // Which signal fired decides, whatever shape the abort took inside undici.
  if (context.deadline.aborted) return make("timeout", `timeout after ${context.timeoutMs} ms`);
  if (context.caller?.aborted) return make("aborted", "aborted");

  const blocked = findInChain(error, (link) => link instanceof BlockedAddressError);
  if (blocked) return make("blocked_address", (blocked as Error).message);
  const code = codeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (code && TIMEOUT_CODES.has(code)) return make("timeout", `timeout (${message})`);
  if (code && DNS_CODES.has(code)) return make("dns", `DNS lookup failed (${code}): ${message}`);
  if (code?.startsWith("HPE_") || error instanceof undiciErrors.HTTPParserError) return make("connection", `invalid HTTP response: ${message}`);
  if (code && CONNECTION_CODES.has(code)) return make("connection", connectionMessage(code, message));
  return make("connection", `request failed: ${message}`);
}

function connectionMessage(code: string, message: string): string {
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ECONNRESET") return "connection reset";
  if (code === "UND_ERR_SOCKET") return `connection closed: ${message}`;
  return `connection failed (${code}): ${message}`;
}

/** The first `code` along the error's cause chain (undici wraps socket errors). */
function codeOf(error: unknown): string | undefined {
  const link = findInChain(error, (candidate) => typeof (candidate as { code?: unknown }).code === "string");
  return link ? (link as { code: string }).code : undefined;
}

function findInChain(error: unknown, test: (link: object) => boolean): object | undefined {
  let link: unknown = error;
  for (let depth = 0; depth < 5 && typeof link === "object" && link !== null; depth += 1) {
    if (test(link)) return link;
    link = (link as { cause?: unknown }).cause;
  }
  return undefined;
}
