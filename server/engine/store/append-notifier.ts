/**
 * The listener list behind `EventStore.onAppended`. A store may learn of the same head twice (its
 * own commit, then its own NOTIFY coming back) or out of order (two appends finishing in either
 * order), so only a head above the highest one announced is passed on: listeners see a rising
 * sequence and no repeats.
 */
export class AppendNotifier {
  readonly #listeners = new Set<(headPosition: number) => void>();
  #announced = 0;

  constructor(private readonly onListenerError: (error: unknown) => void = (error) => console.error("onAppended listener failed", error)) {}

  add(listener: (headPosition: number) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  notify(headPosition: number): void {
    if (headPosition <= this.#announced) return;
    this.#announced = headPosition;
    for (const listener of [...this.#listeners]) {
      // The append has committed by now: a failing listener must not turn it into a reported failure.
      try {
        listener(headPosition);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
