// Float32 arithmetic as C++/SIMD code performs it, for reproducing PyTorch's CPU kernels bit for bit.
// JavaScript computes in float64; rounding each +, -, *, / and sqrt result with Math.fround gives the
// correctly rounded float32 result (float64 has more than 2 * 24 + 2 bits, so double rounding is exact
// for these operations). Fused multiply-add needs more care, see fmaf.

export const f32 = Math.fround;

/**
 * Fused multiply-add in float32: a * b + c rounded once, as `vfmadd` does. GCC contracts a multiply
 * whose only use is an add into an FMA in PyTorch's AVX2 kernels (-mfma, -ffp-contract=fast), so
 * their results depend on it. The product of two float32 values is exact in float64; the sum is
 * computed exactly as s + e (TwoSum), and only when s falls exactly halfway between two float32 values
 * does e decide the direction of rounding.
 */
export function fmaf(a: number, b: number, c: number): number {
  const product = a * b;
  const sum = product + c;
  const cPart = sum - product;
  const error = product - (sum - cPart) + (c - cPart);
  const rounded = f32(sum);
  if (error === 0 || rounded === sum) return rounded;
  const mirrored = rounded + 2 * (sum - rounded);
  if (f32(mirrored) !== mirrored) return rounded;
  return error > 0 === mirrored > rounded ? mirrored : rounded;
}
