import amqp, { type Channel, type ChannelModel } from "amqplib";
import { EngineError } from "@/server/engine/core/errors";
import type { RabbitmqSettings } from "./options";

export function unavailable(message: string, cause?: unknown): EngineError {
  return new EngineError("unavailable", `RabbitMQ transport: ${message}`, { cause });
}

export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** The URL amqplib dials: the user's, with the heartbeat setting applied. */
function dialUrl(settings: RabbitmqSettings): string {
  const url = new URL(settings.url);
  url.searchParams.set("heartbeat", String(settings.heartbeatSeconds));
  return url.toString();
}

/**
 * One AMQP connection, opened on first use and again on the first use after it was lost. There is
 * no background reconnect loop: whoever needs the connection (a publish, a consumer resubscribing
 * with its own backoff) opens it, and concurrent callers share one attempt. While the broker is
 * unreachable every caller gets a prompt rejection (connection refused, or the connect timeout)
 * instead of waiting: the outbox relay and the consumers retry on their own schedules.
 */
export class LazyConnection {
  private model: ChannelModel | undefined;
  private opening: Promise<ChannelModel> | undefined;
  private closed = false;
  private readonly url: string;

  constructor(
    private readonly settings: RabbitmqSettings,
    private readonly role: "publish" | "consume",
  ) {
    this.url = dialUrl(settings);
  }

  get(): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(unavailable("the driver is closed"));
    if (this.model) return Promise.resolve(this.model);
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async open(): Promise<ChannelModel> {
    let model: ChannelModel;
    try {
      model = await amqp.connect(this.url, {
        timeout: this.settings.connectTimeoutMs,
        noDelay: true,
        clientProperties: { connection_name: `${this.settings.connectionName}:${this.role}` },
      });
    } catch (error) {
      throw unavailable(`cannot connect (${asError(error).message})`, error);
    }
    if (this.closed) {
      await model.close().catch(() => {});
      throw unavailable("the driver is closed");
    }
    model.on("error", () => {
      // Reported with the 'close' that always follows (an unheard 'error' event would be thrown).
    });
    model.on("close", (error?: unknown) => {
      if (this.model === model) this.model = undefined;
      if (!this.closed) this.settings.onError(asError(error ?? "closed by the broker"), `${this.role} connection lost`);
    });
    this.model = model;
    return model;
  }

  async close(): Promise<void> {
    this.closed = true;
    const model = this.model ?? (await this.opening?.catch(() => undefined));
    this.model = undefined;
    // Closing an already broken connection rejects; it is gone either way.
    await model?.close().catch(() => {});
  }
}

/**
 * A channel on a LazyConnection, opened on first use and again after it closed (a channel dies
 * with its connection, and RabbitMQ closes a channel on any failed operation, e.g. a passive
 * declare of a missing queue). Concurrent callers share one opening.
 */
export class LazyChannel<T extends Channel> {
  private channel: T | undefined;
  private opening: Promise<T> | undefined;

  constructor(
    private readonly connection: LazyConnection,
    private readonly create: (model: ChannelModel) => Promise<T>,
    private readonly onError: (error: Error) => void,
    private readonly onClose: () => void = () => {},
  ) {}

  get(): Promise<T> {
    if (this.channel) return Promise.resolve(this.channel);
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async open(): Promise<T> {
    const model = await this.connection.get();
    let channel: T;
    try {
      channel = await this.create(model);
    } catch (error) {
      throw unavailable(`cannot open a channel (${asError(error).message})`, error);
    }
    channel.on("error", (error: unknown) => this.onError(asError(error)));
    channel.on("close", () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.onClose();
    });
    this.channel = channel;
    return channel;
  }
}
