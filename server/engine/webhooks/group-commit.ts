/**
 * Group commit for the dispatcher's writes (new deliveries, attempt records): while one write is
 * in flight, what callers submit waits and then goes out together as ONE write. An idle writer
 * adds no latency (the first submission goes at once, no timer), and under load each round trip
 * carries many records: the "flush every few ms or N records" of a timer-based batcher, without
 * the timer. A merged write that throws is retried per submission, so one caller's bad record
 * fails only that caller.
 */
export interface GroupCommitOptions<TItem, TResult> {
  commit(items: TItem[]): Promise<TResult>;
  /** Items per write at most (a submission is never split). */
  maxItems: number;
}

interface Submission<TItem, TResult> {
  items: TItem[];
  resolve(result: TResult): void;
  reject(error: unknown): void;
}

export class GroupCommit<TItem, TResult> {
  readonly #commit: (items: TItem[]) => Promise<TResult>;
  readonly #maxItems: number;
  #queue: Array<Submission<TItem, TResult>> = [];
  #flushing: Promise<void> | undefined;

  constructor(options: GroupCommitOptions<TItem, TResult>) {
    this.#commit = options.commit;
    this.#maxItems = options.maxItems;
  }

  /** Resolves with the result of the write that carried these items. */
  submit(items: TItem[]): Promise<TResult> {
    return new Promise<TResult>((resolve, reject) => {
      this.#queue.push({ items, resolve, reject });
      this.#flushing ??= this.#flush().finally(() => {
        this.#flushing = undefined;
      });
    });
  }

  /** Resolves once everything submitted so far is written (or failed). */
  async drain(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#takeGroup();
      await this.#write(group);
    }
  }

  #takeGroup(): Array<Submission<TItem, TResult>> {
    let items = 0;
    let count = 0;
    for (const submission of this.#queue) {
      if (count > 0 && items + submission.items.length > this.#maxItems) break;
      items += submission.items.length;
      count += 1;
    }
    return this.#queue.splice(0, count);
  }

  async #write(group: Array<Submission<TItem, TResult>>): Promise<void> {
    if (group.length === 1) {
      const [only] = group as [Submission<TItem, TResult>];
      await this.#commit(only.items).then(only.resolve, only.reject);
      return;
    }
    try {
      const result = await this.#commit(group.flatMap((submission) => submission.items));
      for (const submission of group) submission.resolve(result);
    } catch {
      for (const submission of group) await this.#commit(submission.items).then(submission.resolve, submission.reject);
    }
  }
}
