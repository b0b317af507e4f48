import type { Message, TopicMessages } from "kafkajs";

/**
 * One produce request at a time, carrying everything asked for while the previous one was in flight
 * (group commit). kafkajs serialises an idempotent producer's requests per broker anyway (it must,
 * to number them); coalescing turns N concurrent small publishes into one round trip instead of N
 * queued ones. Requests are capped at `maxRequestBytes` so no partition's record batch can exceed the
 * broker's `message.max.bytes`; a larger publish goes out as several requests, in order.
 */
export class CoalescingSender {
  private readonly queue: Array<{ items: Array<{ topic: string; message: Message }>; bytes: number; done: (error?: unknown) => void }> = [];
  private sending = false;

  constructor(
    private readonly send: (topicMessages: TopicMessages[]) => Promise<void>,
    private readonly maxRequestBytes: number,
  ) {}

  /** Resolves once every item is acknowledged by the broker; rejects if any chunk failed. */
  enqueue(items: Array<{ topic: string; message: Message }>): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    const chunks = this.chunk(items);
    const settled = chunks.map(
      (chunk) =>
        new Promise<void>((resolve, reject) => {
          this.queue.push({ ...chunk, done: (error) => (error === undefined ? resolve() : reject(error)) });
        }),
    );
    void this.pump();
    return Promise.all(settled).then(() => undefined);
  }

  private chunk(items: Array<{ topic: string; message: Message }>) {
    const chunks: Array<{ items: Array<{ topic: string; message: Message }>; bytes: number }> = [];
    let current: { items: Array<{ topic: string; message: Message }>; bytes: number } = { items: [], bytes: 0 };
    for (const item of items) {
      const size = estimateBytes(item.message);
      if (current.items.length > 0 && current.bytes + size > this.maxRequestBytes) {
        chunks.push(current);
        current = { items: [], bytes: 0 };
      }
      current.items.push(item);
      current.bytes += size;
    }
    chunks.push(current);
    return chunks;
  }

  private async pump(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const batch = [this.queue.shift()!];
        let bytes = batch[0]!.bytes;
        while (this.queue.length > 0 && bytes + this.queue[0]!.bytes <= this.maxRequestBytes) {
          const next = this.queue.shift()!;
          bytes += next.bytes;
          batch.push(next);
        }
        const byTopic = new Map<string, Message[]>();
        for (const request of batch) {
          for (const { topic, message } of request.items) {
            const list = byTopic.get(topic);
            if (list) list.push(message);
            else byTopic.set(topic, [message]);
          }
        }
        try {
          await this.send([...byTopic].map(([topic, messages]) => ({ topic, messages })));
          for (const request of batch) request.done();
        } catch (error) {
          for (const request of batch) request.done(error ?? new Error("produce failed"));
        }
      }
    } finally {
      this.sending = false;
    }
  }
}

/** Record size on the wire, roughly: enough to keep requests under the broker's limits. */
function estimateBytes(message: Message): number {
  let bytes = 64 + length(message.key) + length(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) bytes += 8 + name.length + length(value as string | Buffer | undefined);
  return bytes;
}

function length(value: string | Buffer | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === "string" ? Buffer.byteLength(value) : value.length;
}
