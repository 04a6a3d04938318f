// A seeded random source with the state and draw semantics of PyTorch's CPU `torch.Generator`
// (aten/src/ATen/CPUGeneratorImpl.cpp, aten/src/ATen/core/DistributionsHelper.h): an MT19937 engine,
// 24-bit float and 53-bit double uniforms, and the cached second Box-Muller value of the scalar normal
// sampler, which `manualSeed` clears as torch does.
import { MT19937 } from './mt19937.js';

const TWO_POW_24 = 2 ** 24;
const TWO_POW_53 = 2 ** 53;

export class Generator {
  private engine: MT19937;
  /** Second value of the last scalar Box-Muller pair (torch's next_double_normal_sample). */
  private nextDoubleNormalSample: number | null = null;

  constructor(seed = 67280421310721) {
    // Default: torch's default CPU seed (c10::detail::default_rng_seed_val).
    this.engine = new MT19937(lowBits32(Generator.checkSeed(seed)));
  }

  /** Re-seeds in place and returns this, like `torch.Generator().manual_seed(seed)`. */
  manualSeed(seed: number): this {
    this.engine = new MT19937(lowBits32(Generator.checkSeed(seed)));
    this.nextDoubleNormalSample = null;
    return this;
  }

  /** Uniform float32 in [0, 1) from the low 24 bits of one draw (at::uniform_real_distribution<float>). */
  uniformFloat32(): number {
    return (this.engine.nextUint32() & 0xffffff) / TWO_POW_24;
  }

  /**
   * Uniform float64 in [0, 1) from the low 53 bits of `random64()`, whose high word is the first of two
   * draws (at::uniform_real_distribution<double>).
   */
  uniformFloat64(): number {
    const high = this.engine.nextUint32();
    const low = this.engine.nextUint32();
    return ((high & 0x1fffff) * 2 ** 32 + low) / TWO_POW_53;
  }

  /**
   * One standard normal float64 (at::normal_distribution<double>): Box-Muller on two double uniforms,
   * returning r·cos θ and keeping r·sin θ for the next call.
   */
  normalFloat64(): number {
    if (this.nextDoubleNormalSample !== null) {
      const cached = this.nextDoubleNormalSample;
      this.nextDoubleNormalSample = null;
      return cached;
    }
    const u1 = this.uniformFloat64();
    const u2 = this.uniformFloat64();
    const radius = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = 2 * Math.PI * u1;
    this.nextDoubleNormalSample = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  }

  private static checkSeed(seed: number): number {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`seed must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got ${seed}`);
    }
    return seed;
  }
}

function lowBits32(seed: number): number {
  return seed % 2 ** 32;
}
