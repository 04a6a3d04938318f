// An append-only log that tests can wait on. Fakes push what they saw (requests, frames, acks); tests either read
// `items` or `await waitFor(pred)`, which resolves with the first matching item, already recorded or still to come.
// There is never a sleep: the timeout only bounds a wait that should already have succeeded, and its error lists
// what was recorded so a failing test says what happened instead.

export const DEFAULT_WAIT_MS = 5_000;

interface Waiter<T> {
  pred: (item: T) => boolean;
  resolve: (item: T) => void;
}

export interface RecorderOptions {
  /** The default bound on a wait (DEFAULT_WAIT_MS unless given). */
  timeoutMs?: number;
  /** More to say when a wait times out, e.g. a child process's stderr. */
  detail?: () => string;
}

export class Recorder<T> {
  readonly items: T[] = [];
  readonly #waiters = new Set<Waiter<T>>();

  constructor(
    private readonly describe: (item: T) => string,
    private readonly options: RecorderOptions = {},
  ) {}

  push(item: T): void {
    this.items.push(item);
    for (const waiter of this.#waiters) {
      if (waiter.pred(item)) {
        this.#waiters.delete(waiter);
        waiter.resolve(item);
      }
    }
  }

  /** The first recorded or future item matching `pred`. */
  waitFor<S extends T>(pred: (item: T) => item is S, timeoutMs?: number): Promise<S>;
  waitFor(pred: (item: T) => boolean, timeoutMs?: number): Promise<T>;
  waitFor(pred: (item: T) => boolean, timeoutMs?: number): Promise<T> {
    const found = this.items.find(pred);
    if (found !== undefined) return Promise.resolve(found);
    return this.next(pred, timeoutMs);
  }

  /** The next item matching `pred`, ignoring those already recorded. */
  next<S extends T>(pred: (item: T) => item is S, timeoutMs?: number): Promise<S>;
  next(pred: (item: T) => boolean, timeoutMs?: number): Promise<T>;
  next(pred: (item: T) => boolean, timeoutMs = this.options.timeoutMs ?? DEFAULT_WAIT_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        pred,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const seen = this.items.map((item) => `  ${this.describe(item)}`).join('\n') || '  (nothing)';
        const detail = this.options.detail?.() ?? '';
        reject(new Error(`waitFor: nothing matched ${pred.toString()} within ${timeoutMs} ms. Recorded:\n${seen}${detail && `\n${detail}`}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }
}
