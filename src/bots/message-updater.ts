// Keeps the chat messages of each job in step with its events without flooding the platform: at most one throttled
// edit per job every `intervalMs` (Discord and Slack both rate-limit message edits per channel, and Slack's
// chat.update is a Tier 3 method, ~50/min), where a newer state replaces a waiting one, since only the latest
// progress matters. Every send for a job runs strictly after the previous one, so a final state (video delivered,
// failed, cancelled) can never be overwritten by a late progress edit.

export interface MessageUpdaterOptions {
  /** Minimum time between two throttled sends for the same job. */
  intervalMs: number;
  /** Called when a send fails; the queue for that job carries on. */
  onError: (key: string, error: unknown) => void;
  /** Milliseconds clock; default Date.now. */
  now?: () => number;
}

type Send = () => Promise<void>;

interface KeyState {
  /** The tail of this key's serialized sends. */
  chain: Promise<void>;
  lastSentAt: number;
  /** The newest throttled send that has not run yet. */
  pending: Send | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Sends queued on `chain` that have not finished. */
  outstanding: number;
}

/** How many finished keys are remembered so late updates for them are dropped. */
const FINISHED_MEMORY = 2_000;

export class MessageUpdater {
  readonly #options: MessageUpdaterOptions;
  readonly #now: () => number;
  readonly #keys = new Map<string, KeyState>();
  readonly #finished = new Set<string>();

  constructor(options: MessageUpdaterOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * A state worth showing but not worth an edit of its own (queue position, progress): sent now if the last
   * send for `key` was at least `intervalMs` ago, otherwise once that time is up, unless a newer one replaces it.
   */
  update(key: string, send: Send): void {
    if (this.#finished.has(key)) return;
    const state = this.#state(key);
    state.pending = send;
    this.#schedule(key, state);
  }

  /**
   * A state that must be shown (started, requeued, a button's effect): drops any waiting throttled send and runs
   * after the one in flight. Resolves when it has run.
   */
  now(key: string, send: Send): Promise<void> {
    if (this.#finished.has(key)) return Promise.resolve();
    const state = this.#state(key);
    this.#dropPending(state);
    return this.#enqueue(key, state, send);
  }

  /** The last state of `key` (delivered, failed, cancelled): like now(), and every later update is ignored. */
  finish(key: string, send: Send): Promise<void> {
    if (this.#finished.has(key)) return Promise.resolve();
    const state = this.#state(key);
    this.#dropPending(state);
    this.#finished.add(key);
    if (this.#finished.size > FINISHED_MEMORY) this.#finished.delete(this.#finished.values().next().value!);
    return this.#enqueue(key, state, send).then(() => {
      this.#keys.delete(key);
    });
  }

  /** Drops every waiting throttled send and its timer, then resolves when the sends already queued have run. */
  async drain(): Promise<void> {
    for (const state of this.#keys.values()) this.#dropPending(state);
    await Promise.all([...this.#keys.values()].map((state) => state.chain));
  }

  #state(key: string): KeyState {
    let state = this.#keys.get(key);
    if (state === undefined) {
      state = { chain: Promise.resolve(), lastSentAt: Number.NEGATIVE_INFINITY, pending: undefined, timer: undefined, outstanding: 0 };
      this.#keys.set(key, state);
    }
    return state;
  }

  #dropPending(state: KeyState): void {
    state.pending = undefined;
    if (state.timer !== undefined) clearTimeout(state.timer);
    state.timer = undefined;
  }

  #schedule(key: string, state: KeyState): void {
    if (state.outstanding > 0 || state.timer !== undefined || state.pending === undefined) return;
    const wait = state.lastSentAt + this.#options.intervalMs - this.#now();
    if (wait <= 0) {
      const send = state.pending;
      state.pending = undefined;
      void this.#enqueue(key, state, send);
      return;
    }
    state.timer = setTimeout(() => {
      state.timer = undefined;
      this.#schedule(key, state);
    }, wait);
    state.timer.unref();
  }

  #enqueue(key: string, state: KeyState, send: Send): Promise<void> {
    state.outstanding += 1;
    const run = async () => {
      try {
        await send();
      } catch (error) {
        this.#options.onError(key, error);
      } finally {
        state.lastSentAt = this.#now();
        state.outstanding -= 1;
      }
    };
    state.chain = state.chain.then(run).then(() => this.#schedule(key, state));
    return state.chain;
  }
}
