// The soak's one source of randomness, seeded, so that a run's choices (what to send, whom, which job to cancel,
// when to kill) can be replayed with --seed. Timing still differs between runs: the service decides how fast it goes.
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export class SeededRandom {
  readonly #rng;

  constructor(seed: number) {
    this.#rng = xoroshiro128plus(seed);
  }

  /** A whole number from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return uniformInt(this.#rng, min, max);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return uniformFloat64(this.#rng) < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('SeededRandom.pick: nothing to pick from');
    return items[this.int(0, items.length - 1)]!;
  }

  /** Milliseconds around `meanMs` (exponential, as independent arrivals are), at most four times the mean. */
  interval(meanMs: number): number {
    return Math.min(4 * meanMs, -Math.log(1 - uniformFloat64(this.#rng)) * meanMs);
  }
}
