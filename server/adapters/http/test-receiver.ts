import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A real HTTP receiver on 127.0.0.1 (a free port) for the webhook tests: it records every request
 * (headers, raw body, when, from which client port) and answers from a script per path, including
 * the misbehaviour a sender must survive: delays, hanging, resets, garbage bytes, redirects and
 * huge bodies. Tests only.
 */

export type ReceiverReply =
  /** A normal answer (after `delayMs`). */
  | { kind: "status"; status: number; body?: string | Buffer; headers?: Record<string, string>; delayMs?: number }
  /** Reads the request and never answers; the socket stays open until the receiver closes. */
  | { kind: "hang" }
  /** Resets the connection (TCP RST) without answering. */
  | { kind: "reset" }
  /** Sends the status line, headers and part of a longer body, then resets the connection. */
  | { kind: "reset_mid_body"; status?: number }
  /** Writes these raw bytes on the socket instead of an HTTP response, then closes it. */
  | { kind: "garbage"; bytes: string | Buffer }
  /** A redirect to `location`. */
  | { kind: "redirect"; status?: 301 | 302 | 303 | 307 | 308; location: string }
  /** A 200 (or `status`) with a body of `bytes` bytes. */
  | { kind: "huge"; bytes: number; status?: number };

export interface ReceivedRequest {
  method: string;
  path: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The body exactly as received (signatures are checked over it). */
  rawBody: Buffer;
  body: string;
  /** Date.now() when the whole body had arrived. */
  receivedAt: number;
  /** The client's port: requests on one keep-alive connection share it. */
  remotePort: number;
  /** 0-based: how many requests this path had before this one. */
  index: number;
}

/** Picks the reply for one request: fixed replies in order (the last repeats), or a function of the request. */
export type ReceiverScript = ReceiverReply[] | ((request: ReceivedRequest) => ReceiverReply);

const DEFAULT_REPLY: ReceiverReply = { kind: "status", status: 200, body: "ok" };

export class TestReceiver {
  private readonly received: ReceivedRequest[] = [];
  private readonly scripts = new Map<string, ReceiverScript>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<TestReceiver> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const receiver = new TestReceiver(server, (server.address() as AddressInfo).port);
    server.on("request", (request, response) => receiver.handle(request, response));
    return receiver;
  }

  /** `http://127.0.0.1:<port><path>` (the path starts with `/`). */
  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Sets how `path` answers from now on (without a script: 200 "ok"). */
  script(path: string, script: ReceiverScript): this {
    this.scripts.set(path, script);
    return this;
  }

  /** What arrived, oldest first, for one path or all. */
  requests(path?: string): ReceivedRequest[] {
    return path === undefined ? [...this.received] : this.received.filter((request) => request.path === path);
  }

  /**
   * Waits until `done` holds for what arrived (checked as requests come, at least every 50 ms),
   * at most `timeoutMs`; then fails naming what did arrive.
   */
  async waitFor(done: (requests: ReceivedRequest[]) => boolean, options: { timeoutMs?: number; what?: string } = {}): Promise<ReceivedRequest[]> {
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    while (!done(this.requests())) {
      if (Date.now() > deadline) {
        const seen = this.received.map((request) => `${request.path}#${request.index}`).join(", ");
        throw new Error(`receiver: ${options.what ?? "condition"} not met within ${options.timeoutMs ?? 20_000} ms; received [${seen}]`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.requests();
  }

  /** Stops listening and drops every connection (hanging ones included). */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const path = new URL(request.url ?? "/", "http://receiver").pathname;
      const rawBody = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      const received: ReceivedRequest = {
        method: request.method ?? "",
        path,
        headers,
        rawBody,
        body: rawBody.toString("utf8"),
        receivedAt: Date.now(),
        remotePort: request.socket.remotePort ?? 0,
        index: this.requests(path).length,
      };
      this.received.push(received);
      this.reply(this.replyFor(received), request.socket, response);
    });
  }

  private replyFor(request: ReceivedRequest): ReceiverReply {
    const script = this.scripts.get(request.path);
    if (!script) return DEFAULT_REPLY;
    if (typeof script === "function") return script(request);
    return script[Math.min(request.index, script.length - 1)] ?? DEFAULT_REPLY;
  }

  private reply(reply: ReceiverReply, socket: Socket, response: ServerResponse): void {
    switch (reply.kind) {
      case "status": {
        const send = () => {
          response.writeHead(reply.status, { "content-type": "text/plain", ...reply.headers });
          response.end(reply.body ?? "");
        };
        if (!reply.delayMs) return send();
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          send();
        }, reply.delayMs);
        this.timers.add(timer);
        return;
      }
      case "hang":
        return;
      case "reset":
        socket.resetAndDestroy();
        return;
      case "reset_mid_body":
        response.writeHead(reply.status ?? 200, { "content-type": "text/plain", "content-length": "100000" });
        // Once the head and the first part are on the wire, the rest never comes.
        response.write("partial body ", () => socket.resetAndDestroy());
        return;
      case "garbage":
        socket.end(reply.bytes);
        return;
      case "redirect":
        response.writeHead(reply.status ?? 302, { location: reply.location });
        response.end();
        return;
      case "huge":
        response.writeHead(reply.status ?? 200, { "content-type": "text/plain", "content-length": String(reply.bytes) });
        response.end(Buffer.alloc(reply.bytes, "x"));
        return;
    }
  }
}
