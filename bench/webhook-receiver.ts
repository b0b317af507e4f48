import { Worker } from "node:worker_threads";

/**
 * The webhooks bench's receiver: plain node:http servers on 127.0.0.1 (one per port asked for,
 * so each endpoint of the bench can be a receiver of its own), keep-alive, answering 200 as soon
 * as a request's body is in. It runs in a worker thread: in production the receiver is another
 * machine, and on the main thread it would take event-loop time from the dispatcher it measures.
 *
 * It counts requests (a shared counter the bench reads without a round trip) and records when
 * each one arrived (its headers), once per port and `webhook-id`, on the clock both threads share
 * ({@link now}).
 */

/** Milliseconds since the epoch, sub-millisecond, comparable across threads (the receiver's arrivals use it too). */
export const now = (): number => performance.timeOrigin + performance.now();

/** Plain JavaScript: an eval'd worker runs as CommonJS, without the TypeScript loader. */
const RECEIVER_SOURCE = `
const { createServer } = require("node:http");
const { parentPort, workerData } = require("node:worker_threads");
const count = new Int32Array(workerData.counter);
const arrivals = new Map();
const servers = [];
function listen(index) {
  const server = createServer({ keepAliveTimeout: 60000 }, (request, response) => {
    const at = performance.timeOrigin + performance.now();
    const key = index + " " + request.headers["webhook-id"];
    if (!arrivals.has(key)) arrivals.set(key, at);
    Atomics.add(count, 0, 1);
    request.on("data", () => {});
    request.on("end", () => {
      response.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
      response.end("ok");
    });
  });
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}
parentPort.on("message", async (message) => {
  if (message.kind === "take") {
    parentPort.postMessage({ kind: "arrivals", arrivals: [...arrivals] });
    arrivals.clear();
  } else if (message.kind === "close") {
    await Promise.all(servers.map((server) => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); })));
    parentPort.postMessage({ kind: "closed" });
  }
});
Promise.all(Array.from({ length: workerData.ports }, (_, index) => listen(index))).then(
  (ports) => parentPort.postMessage({ kind: "listening", ports }),
  (error) => parentPort.postMessage({ kind: "failed", message: String(error) }),
);
`;

type ReceiverMessage =
  | { kind: "listening"; ports: number[] }
  | { kind: "failed"; message: string }
  | { kind: "arrivals"; arrivals: Array<[string, number]> }
  | { kind: "closed" };

const REPLY_LIMIT_MS = 30_000;

export class LoopbackReceiver {
  readonly #count: Int32Array;

  private constructor(
    private readonly worker: Worker,
    counter: SharedArrayBuffer,
    /** The listening ports, one per receiver slot. */
    readonly ports: readonly number[],
  ) {
    this.#count = new Int32Array(counter);
  }

  /** Starts `ports` servers (slots 0..ports-1). */
  static async start(ports: number): Promise<LoopbackReceiver> {
    const counter = new SharedArrayBuffer(4);
    const worker = new Worker(RECEIVER_SOURCE, { eval: true, workerData: { ports, counter } });
    try {
      const reply = await nextMessage(worker);
      if (reply.kind !== "listening") throw new Error(`bench receiver did not start: ${reply.kind === "failed" ? reply.message : reply.kind}`);
      return new LoopbackReceiver(worker, counter, reply.ports);
    } catch (error) {
      await worker.terminate();
      throw error;
    }
  }

  /** The URL of slot `slot`. */
  url(slot: number): string {
    const port = this.ports[slot];
    if (port === undefined) throw new Error(`bench receiver has no slot ${slot}`);
    return `http://127.0.0.1:${port}/`;
  }

  /** Requests received since the receiver started. */
  get received(): number {
    return Atomics.load(this.#count, 0);
  }

  /** First arrival per `<slot> <webhook-id>` since the last call (and forgets them). */
  async takeArrivals(): Promise<Map<string, number>> {
    const reply = nextMessage(this.worker);
    this.worker.postMessage({ kind: "take" });
    const message = await reply;
    if (message.kind !== "arrivals") throw new Error(`bench receiver answered ${message.kind}`);
    return new Map(message.arrivals);
  }

  async close(): Promise<void> {
    try {
      const reply = nextMessage(this.worker);
      this.worker.postMessage({ kind: "close" });
      await reply;
    } finally {
      await this.worker.terminate();
    }
  }
}

/** The worker's next message, or a failure when it errs, exits or takes longer than REPLY_LIMIT_MS. */
function nextMessage(worker: Worker): Promise<ReceiverMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => settle(() => reject(new Error(`bench receiver did not answer within ${REPLY_LIMIT_MS} ms`))), REPLY_LIMIT_MS);
    const onMessage = (message: ReceiverMessage) => settle(() => resolve(message));
    const onError = (error: Error) => settle(() => reject(error));
    const onExit = (code: number) => settle(() => reject(new Error(`bench receiver exited (${code})`)));
    function settle(done: () => void) {
      clearTimeout(timer);
      worker.off("message", onMessage).off("error", onError).off("exit", onExit);
      done();
    }
    worker.on("message", onMessage).on("error", onError).on("exit", onExit);
  });
}
