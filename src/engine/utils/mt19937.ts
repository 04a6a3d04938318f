// The 32-bit Mersenne Twister (Matsumoto & Nishimura 1998) as PyTorch's CPU generator runs it
// (aten/src/ATen/core/MT19937RNGEngine.h): the reference init_genrand seeding with the low 32 bits of
// the seed, and the standard tempering. Same outputs as C++ std::mt19937 for the same 32-bit seed.

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class MT19937 {
  private readonly state = new Uint32Array(N);
  private index = N;

  /** Only the low 32 bits of `seed` are used, as in torch (`state[0] = seed & 0xffffffff`). */
  constructor(seed: number) {
    this.state[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = this.state[i - 1] as number;
      this.state[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) >>> 0;
    }
  }

  /** Next uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++] as number;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const s = this.state;
    for (let i = 0; i < N; i++) {
      const y = ((s[i] as number) & UPPER_MASK) | ((s[(i + 1) % N] as number) & LOWER_MASK);
      s[i] = ((s[(i + M) % N] as number) ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)) >>> 0;
    }
    this.index = 0;
  }
}
