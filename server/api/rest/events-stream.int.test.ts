import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as poll } from "@/app/api/v1/events/poll/route";
import { POST as postEvent } from "@/app/api/v1/events/route";
import { GET as stream } from "@/app/api/v1/events/stream/route";
import { bodyOf, startTestApp, type TestApp } from "./test-harness";

let app: TestApp;
let publisherKey: string;

// Short heartbeats so a test can see one without waiting the default 15 s.
const HEARTBEAT_SECONDS = 0.2;

function deleted(subject: string) {
  return { type: "exam.deleted", subject, data: { examId: randomUUID(), reason: "duplicate", deletedBy: "teacher-1" } };
}

async function publish(event: unknown): Promise<{ id: string; position: number }> {
  const response = await postEvent(app.request("/api/v1/events", { method: "POST", body: event }));
  expect(response.status).toBe(202);
  return bodyOf(response);
}

interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  comments: string[];
}

/** Reads an SSE body frame by frame (frames end with a blank line). */
class SseReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = "";

  constructor(response: Response) {
    this.reader = response.body!.getReader();
  }

  async next(timeoutMs = 5_000): Promise<SseFrame | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buffer.indexOf("\n\n");
      if (end >= 0) {
        const raw = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const frame: SseFrame = { comments: [] };
        for (const line of raw.split("\n")) {
          if (line.startsWith(":")) frame.comments.push(line.slice(1).trim());
          else {
            const colon = line.indexOf(":");
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1).replace(/^ /, "");
            if (field === "id" || field === "event" || field === "data") frame[field] = value;
          }
        }
        return frame;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no SSE frame within ${timeoutMs} ms; buffered: ${JSON.stringify(this.buffer)}`);
      const chunk = await Promise.race([
        this.reader.read(),
        new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), remaining)),
      ]);
      if (chunk === "timeout") continue;
      if (chunk.done) return undefined;
      this.buffer += this.decoder.decode(chunk.value, { stream: true });
    }
  }

  /** The next frame that carries an event, skipping comments (heartbeats). */
  async nextEvent(timeoutMs = 5_000): Promise<SseFrame> {
    for (;;) {
      const frame = await this.next(timeoutMs);
      if (!frame) throw new Error("stream ended");
      if (frame.id !== undefined) return frame;
    }
  }

  /** True when the server closes the stream within `timeoutMs` (heartbeats until then are skipped). */
  async ended(timeoutMs = 3_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    try {
      while (Date.now() < deadline) if ((await this.next(Math.max(1, deadline - Date.now()))) === undefined) return true;
    } catch {
      // No frame and no end before the deadline.
    }
    return false;
  }
}

beforeAll(async () => {
  app = await startTestApp({ SSE_HEARTBEAT_SECONDS: HEARTBEAT_SECONDS, LOG_POLL_INTERVAL_MS: 50 });
  publisherKey = (await app.container.authServices.apiKeys.create({ name: "publisher", scopes: ["events:publish"] })).key;
});

afterAll(async () => {
  await app?.close();
});

describe("GET /api/v1/events/stream (SSE)", () => {
  it("resumes after Last-Event-ID with no gap and no repeat, then delivers live events; cleans up on disconnect", async () => {
    const subject = `sse-${randomUUID()}`;
    const first = await publish(deleted(subject));
    const second = await publish(deleted(subject));
    const third = await publish(deleted(subject));

    const controller = new AbortController();
    const response = await stream(
      app.request(`/api/v1/events/stream?subject=${subject}&after=0`, { signal: controller.signal, headers: { "last-event-id": String(first.position) } }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(response.headers.get("cache-control")).toContain("no-cache");
    const reader = new SseReader(response);

    const a = await reader.nextEvent();
    const b = await reader.nextEvent();
    expect([a.id, b.id]).toEqual([String(second.position), String(third.position)]);
    expect(a.event).toBe("exam.deleted");
    expect(JSON.parse(a.data!)).toMatchObject({ id: second.id, position: second.position, type: "exam.deleted", subject });

    const fourth = await publish(deleted(subject));
    const live = await reader.nextEvent();
    expect(live.id).toBe(String(fourth.position));
    expect(JSON.parse(live.data!).id).toBe(fourth.id);

    controller.abort();
    expect(await reader.ended()).toBe(true);
  });

  it("sends comment heartbeats while idle", async () => {
    const controller = new AbortController();
    const response = await stream(app.request(`/api/v1/events/stream?subject=idle-${randomUUID()}`, { signal: controller.signal }));
    const reader = new SseReader(response);
    const comments: string[] = [];
    const started = Date.now();
    while (!comments.includes("keepalive") && Date.now() - started < 3_000) {
      comments.push(...((await reader.next(3_000))?.comments ?? []));
    }
    expect(comments).toContain("keepalive");
    controller.abort();
  });

  it("without after or Last-Event-ID starts at the head; `after` alone resumes; filters by type", async () => {
    const subject = `sse-after-${randomUUID()}`;
    const before = await publish(deleted(subject));
    const controller = new AbortController();
    const fromHead = new SseReader(await stream(app.request(`/api/v1/events/stream?subject=${subject}`, { signal: controller.signal })));
    const byAfter = new SseReader(
      await stream(app.request(`/api/v1/events/stream?subject=${subject}&after=${before.position - 1}&type=exam.*`, { signal: controller.signal })),
    );
    const otherType = new SseReader(
      await stream(app.request(`/api/v1/events/stream?subject=${subject}&after=0&type=grading.*`, { signal: controller.signal })),
    );
    expect((await byAfter.nextEvent()).id).toBe(String(before.position));
    const next = await publish(deleted(subject));
    expect((await fromHead.nextEvent()).id).toBe(String(next.position));
    expect((await byAfter.nextEvent()).id).toBe(String(next.position));
    // Only heartbeats for a filter nothing matches.
    const frame = await otherType.next(1_000);
    expect(frame?.id).toBeUndefined();
    controller.abort();
  });

  it("400 for a bad Last-Event-ID or query, 401 without a key, 403 without events:read", async () => {
    const badHeader = await stream(app.request("/api/v1/events/stream", { headers: { "last-event-id": "abc" } }));
    expect(badHeader.status).toBe(400);
    expect(badHeader.headers.get("content-type")).toBe("application/problem+json");
    expect((await stream(app.request("/api/v1/events/stream?after=x"))).status).toBe(400);
    expect((await stream(app.request("/api/v1/events/stream", { key: null }))).status).toBe(401);
    expect((await stream(app.request("/api/v1/events/stream", { key: publisherKey }))).status).toBe(403);
  });
});

describe("GET /api/v1/events/poll", () => {
  type PollBody = { items: Array<{ id: string; position: number }>; next: string };

  it("answers at once when matching events already exist after `after`", async () => {
    const subject = `poll-now-${randomUUID()}`;
    const published = await publish(deleted(subject));
    const started = Date.now();
    const body = await bodyOf<PollBody>(await poll(app.request(`/api/v1/events/poll?subject=${subject}&after=0&timeout=10`)));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(body.items.map((event) => event.id)).toEqual([published.id]);
    expect(body.next).toBe(String(published.position));
  });

  it("returns early, as soon as an event arrives", async () => {
    const subject = `poll-early-${randomUUID()}`;
    const after = await app.container.store.headPosition();
    const started = Date.now();
    const pending = poll(app.request(`/api/v1/events/poll?subject=${subject}&after=${after}&timeout=30`));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const published = await publish(deleted(subject));
    const body = await bodyOf<PollBody>(await pending);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(body.items.map((event) => event.id)).toEqual([published.id]);
    expect(body.next).toBe(String(published.position));
  });

  it("times out with no items and next = after", async () => {
    const after = await app.container.store.headPosition();
    const started = Date.now();
    const response = await poll(app.request(`/api/v1/events/poll?subject=nobody-${randomUUID()}&after=${after}&timeout=0.5`));
    const elapsed = Date.now() - started;
    expect(response.status).toBe(200);
    expect(await bodyOf(response)).toEqual({ items: [], next: String(after) });
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(5_000);
  });

  it("stops waiting when the client disconnects", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = poll(app.request(`/api/v1/events/poll?subject=gone-${randomUUID()}&timeout=30`, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 100);
    const response = await pending;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(response.status).toBe(200);
  });

  it("400 for a timeout over 60 s or a bad limit", async () => {
    for (const query of ["timeout=61", "timeout=soon", "limit=0", "after=-3"]) {
      const response = await poll(app.request(`/api/v1/events/poll?${query}`));
      expect(response.status, query).toBe(400);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
    }
  });
});
