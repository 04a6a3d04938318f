// Deterministic random weights for configs without a checkpoint (benchmarks, tests of unseen configs): each
// tensor's values depend only on the seed and its key, so they do not change with build order. Scales keep
// activations in a realistic range (linear/conv weights N(0, 1/fan_in), norm weights 1 + N(0, 0.1^2), biases
// N(0, 0.05^2)), which also keeps the CPU away from slow denormal arithmetic.
import type { WeightFill } from './var_builder.js';

/** FNV-1a hash of the key mixed with the seed. */
function hashKey(key: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** mulberry32: a small, fast 32-bit PRNG; uniform in [0, 1). */
function mulberry32(state: number): () => number {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A WeightFill giving N(mean, std^2) values per the key's role (see the file comment). */
export function randomWeights(seed: number): WeightFill {
  return (key, shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const isBias = key.endsWith('.bias');
    const isNormWeight = !isBias && shape.length === 1;
    const mean = isNormWeight ? 1 : 0;
    const std = isBias ? 0.05 : isNormWeight ? 0.1 : 1 / Math.sqrt(fanIn);
    const uniform = mulberry32(hashKey(key, seed));
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      // Box-Muller: two normals from two uniforms.
      const r = Math.sqrt(-2 * Math.log(1 - uniform()));
      const theta = 2 * Math.PI * uniform();
      out[i] = mean + std * r * Math.cos(theta);
      if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(theta);
    }
    return out;
  };
}
