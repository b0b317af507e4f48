/**
 * An array read from a moving head: a take at the head is O(1) (no Array#shift copying), and the
 * taken prefix is dropped once it is the whole array, or 1,024 entries and at least half of it.
 */
export class HeadQueue<T> {
  protected items: T[] = [];
  protected head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.length > 0 ? this.items[this.head] : undefined;
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head];
    // Release the slot so a drained prefix does not pin what it held in memory.
    this.items[this.head] = undefined as T;
    this.head += 1;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
