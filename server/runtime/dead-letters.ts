import { NotFoundError } from "@/server/engine/core/errors";
import { fromWireMessage } from "@/server/engine/transport/codec";
import type { DeadLetter, DeadLetterStore } from "@/server/engine/transport/dead-letters";
import type { TransportDriver, WireMessage } from "@/server/engine/transport/driver";
import { redrive, redriveMatching } from "@/server/engine/transport/subscriber";
import type { DeliveredEvent } from "@/server/engine/transport/subscriber";
import { logger } from "./logger";

export interface DeadLetterMatch {
  subscription?: string;
  errorType?: string;
}

/** A dead letter as operators see it: the event decoded when it can be, else the raw message. */
export interface DeadLetterView {
  id: string;
  subscription: string;
  topic: string;
  event: DeliveredEvent | WireMessage;
  /** False when the message is not a well-formed event (a DecodeError put it here): `event` is raw. */
  decoded: boolean;
  /** The wire attributes (`ce_*` headers and any others), as they will be redelivered. */
  headers: Record<string, string>;
  error: { type: string; message: string };
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
}

export function toDeadLetterView(letter: DeadLetter): DeadLetterView {
  let event: DeliveredEvent | WireMessage;
  let decoded = true;
  try {
    event = fromWireMessage(letter.message);
  } catch {
    event = letter.message;
    decoded = false;
  }
  return {
    id: letter.id,
    subscription: letter.subscription,
    topic: letter.topic,
    event,
    decoded,
    headers: letter.message.headers ?? {},
    error: letter.error,
    attempts: letter.attempts,
    firstFailedAt: letter.firstFailedAt,
    lastFailedAt: letter.lastFailedAt,
  };
}

/**
 * Operator actions on the dead letters, shared by REST and the dashboard: redrive one, redrive
 * every match (counted first, then run in the background of this process, optionally paced),
 * delete one or every match.
 */
export class DeadLetterActions {
  private readonly background = new Set<Promise<unknown>>();

  constructor(private readonly deps: { driver: TransportDriver; deadLetters: DeadLetterStore }) {}

  async redriveOne(id: string): Promise<DeadLetter> {
    return redrive(this.deps.driver, this.deps.deadLetters, id);
  }

  /** Counts the matches; unless `dryRun`, starts redriving them (at most that many) in the background. */
  async redriveMatching(match: DeadLetterMatch & { dryRun?: boolean; ratePerSecond?: number }): Promise<{ matched: number }> {
    const { dryRun = false, ratePerSecond, ...filter } = match;
    const { matched } = await redriveMatching(this.deps.driver, this.deps.deadLetters, { ...filter, dryRun: true });
    if (dryRun || matched === 0) return { matched };
    const work = redriveMatching(this.deps.driver, this.deps.deadLetters, { ...filter, ratePerSecond, limit: matched })
      .then((result) => logger.info("dead letters redriven", { ...filter, ...result }))
      .catch((error: unknown) => logger.error("dead-letter redrive failed", { ...filter, error }))
      .finally(() => this.background.delete(work));
    this.background.add(work);
    return { matched };
  }

  async deleteOne(id: string): Promise<void> {
    if (!(await this.deps.deadLetters.remove(id))) throw new NotFoundError(`No dead letter with id ${id}`);
  }

  /** Deletes every dead letter matching (those present when it starts). */
  async deleteMatching(match: DeadLetterMatch & { dryRun?: boolean }): Promise<{ matched: number; deleted: number }> {
    const ids: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.deps.deadLetters.list({ ...pick(match), limit: 500, ...(after === undefined ? {} : { after }) });
      ids.push(...page.items.map((letter) => letter.id));
      if (page.next === null || page.items.length === 0) break;
      after = page.next;
    }
    if (match.dryRun) return { matched: ids.length, deleted: 0 };
    let deleted = 0;
    for (const id of ids) if (await this.deps.deadLetters.remove(id)) deleted += 1;
    return { matched: ids.length, deleted };
  }

  /** Waits a little for background redrives (a paced one may take long: what it did not do stays dead-lettered). */
  async close(timeoutMs = 5_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(this.background), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }
}

function pick(match: DeadLetterMatch): DeadLetterMatch {
  const filter: DeadLetterMatch = {};
  if (match.subscription !== undefined) filter.subscription = match.subscription;
  if (match.errorType !== undefined) filter.errorType = match.errorType;
  return filter;
}
