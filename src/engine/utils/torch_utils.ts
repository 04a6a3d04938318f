// Mirrors diffusers src/diffusers/utils/torch_utils.py `randn_tensor` (diffusers 0.26.3) for CPU
// generators, which calls `torch.randn(shape, generator=generator)`.
//
// The noise is PyTorch's CPU normal sampler reproduced bit for bit (x86-64 torch builds running their
// AVX2 kernels, the usual Linux and Windows case), so a seed gives the same initial latents as
// `torch.manual_seed(seed); torch.randn(shape)` and diffusers' pipelines on CPU. The algorithm, from
// aten/src/ATen/native/cpu/DistributionTemplates.h (`normal_kernel`, `normal_fill_AVX2`):
//
// * n >= 16 elements: draw n float uniforms u = (mt19937() & 0xFFFFFF) / 2^24 in order; then for each
//   full block of 16, Box-Muller pairs element j with element j + 8 (j < 8):
//   r = sqrt(-2·log(1 - u[j])), θ = float32(2π)·u[j+8], out[j] = r·cos θ, out[j+8] = r·sin θ, with
//   log/sin/cos the float32 Cephes polynomials of avx_mathfun.h (see avx_mathfun.ts). When n is not a
//   multiple of 16, the last 16 elements are redrawn (16 fresh uniforms) and transformed again.
// * n < 16: each element is one float64 normal (Generator.normalFloat64: 53-bit uniforms, Box-Muller
//   with the sine half cached in the generator for the next element or the next call), then rounded to
//   float32.
//
// torch builds that dispatch to other kernels (ARM, or x86 forced to the default/AVX-512 kernels) use
// libm's logf/cosf there instead of the Cephes polynomials and can differ in the last bits; the values
// drawn and their order are the same. Verified against torch 1.13 on the golden initial latents (seeds
// 42 and 43, 1920 values each, bit-identical) and against published `torch.randn` printouts.
import type { Generator } from './generator.js';
import { log256Ps, sincos256Ps } from './avx_mathfun.js';
import { f32 } from './float32.js';

const TWO_PI_F32 = f32(2 * Math.PI);

/**
 * Standard normal samples of `shape` (row-major, float32), as `torch.randn(shape, generator=generator)`.
 * The generator's state advances. It is required: torch's fallback, a process-wide generator, would make
 * results depend on what ran before.
 */
export function randnTensor(shape: readonly number[], generator: Generator): Float32Array {
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new RangeError(`randnTensor shape must be non-negative integers, got [${shape.join(', ')}]`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  if (size >= 16) normalFillFloat32(out, generator);
  else for (let i = 0; i < size; i++) out[i] = generator.normalFloat64();
  return out;
}

function normalFillFloat32(data: Float32Array, generator: Generator): void {
  for (let i = 0; i < data.length; i++) data[i] = generator.uniformFloat32();
  for (let i = 0; i + 16 <= data.length; i += 16) boxMuller16(data, i);
  if (data.length % 16 !== 0) {
    const start = data.length - 16;
    for (let i = start; i < data.length; i++) data[i] = generator.uniformFloat32();
    boxMuller16(data, start);
  }
}

function boxMuller16(data: Float32Array, offset: number): void {
  for (let j = offset; j < offset + 8; j++) {
    const u1 = f32(1 - (data[j] as number)); // [0, 1) -> (0, 1] for the log
    const radius = f32(Math.sqrt(f32(-2 * log256Ps(u1))));
    const theta = f32(TWO_PI_F32 * (data[j + 8] as number));
    const [sin, cos] = sincos256Ps(theta);
    data[j] = f32(radius * cos);
    data[j + 8] = f32(radius * sin);
  }
}
