// PyTorch CPU tensor factories and reductions reproduced bit for bit in float32, for the scheduler's
// noise schedule: diffusers builds betas with torch.linspace and alphas_cumprod with torch.cumprod,
// and the golden step outputs (tolerance 1e-6, |x0| up to ~50) depend on their last bits.
import { f32, fmaf } from './float32.js';

// torch's x86-64 AVX2 kernels work on 8 float32 lanes and unroll two vectors per iteration.
const AVX2_FLOAT_LANES = 8;

/**
 * `torch.linspace(start, end, steps, dtype=torch.float32)` on CPU (aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp):
 * step = (end - start) / (steps - 1) in float32; the first half counts up from start, the second half
 * down from end, so both endpoints are exact. Vectorised chunks of 8 start at that formula's value
 * and add j·step per lane; the scalar tail uses the formula directly. The multiply-adds are fused, as
 * GCC compiles the AVX2 kernel. Matches the golden betas exactly (1000 of 1000).
 */
export function linspaceFloat32(start: number, end: number, steps: number): Float32Array {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`linspace steps must be a positive integer, got ${steps}`);
  const out = new Float32Array(steps);
  const startF = f32(start);
  const endF = f32(end);
  if (steps === 1) {
    out[0] = startF;
    return out;
  }
  const step = f32((endF - startF) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const at = (idx: number) => (idx < halfway ? fmaf(step, idx, startF) : fmaf(-step, steps - idx - 1, endF));
  let idx = 0;
  for (; idx + 2 * AVX2_FLOAT_LANES <= steps; idx += 2 * AVX2_FLOAT_LANES) {
    for (const vectorStart of [idx, idx + AVX2_FLOAT_LANES]) {
      const base = at(vectorStart);
      for (let lane = 0; lane < AVX2_FLOAT_LANES; lane++) out[vectorStart + lane] = fmaf(lane, step, base);
    }
  }
  for (; idx < steps; idx++) out[idx] = at(idx);
  return out;
}

/**
 * `torch.cumprod(x, 0)` for float32 on CPU: the running product is kept in float64 (at::acc_type of
 * float on CPU) and each output is rounded to float32. Rounding the running product instead drifts by
 * up to 3.6e-7 from torch over 1000 steps.
 */
export function cumprodFloat32(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  let product = 1;
  for (let i = 0; i < values.length; i++) {
    product *= values[i] as number;
    out[i] = product;
  }
  return out;
}
