// Float32 emulation of `log256_ps` and `sincos256_ps` from PyTorch's aten/src/ATen/native/cpu/avx_mathfun.h
// (Julien Pommier's AVX port of the Cephes single-precision routines), which torch's CPU `normal_`
// uses for float tensors of 16 or more elements. Each step mirrors one intrinsic; a multiply whose only
// use is the following add/sub is fused (fmaf), as GCC compiles these kernels. Checked bit for bit
// against torch 1.13 `torch.randn` outputs (test/engine/rng.test.ts).
import { f32, fmaf } from './float32.js';

const MIN_NORM_POS = 1.17549435e-38;
const SQRTHF = f32(0.707106781186547524);
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f32) as [number, number, number, number, number, number, number, number, number];
const LOG_Q1 = f32(-2.1219444e-4);
const LOG_Q2 = f32(0.693359375);

const FOPI = f32(1.27323954473516); // 4 / pi
const MINUS_DP1 = f32(-0.78515625);
const MINUS_DP2 = f32(-2.4187564849853515625e-4);
const MINUS_DP3 = f32(-3.77489497744594108e-8);
const SINCOF_P0 = f32(-1.9515295891e-4);
const SINCOF_P1 = f32(8.3321608736e-3);
const SINCOF_P2 = f32(-1.6666654611e-1);
const COSCOF_P0 = f32(2.443315711809948e-5);
const COSCOF_P1 = f32(-1.388731625493765e-3);
const COSCOF_P2 = f32(4.166664568298827e-2);

const bits = new DataView(new ArrayBuffer(4));

/** Natural log of a positive float32, as log256_ps computes it (NaN for x <= 0). */
export function log256Ps(input: number): number {
  if (!(input > 0)) return Number.NaN;
  bits.setFloat32(0, Math.max(input, MIN_NORM_POS));
  const word = bits.getUint32(0);
  // Split x = m * 2^e with m in [0.5, 1).
  let e = f32((word >>> 23) - 0x7f + 1);
  bits.setUint32(0, (word & ~0x7f800000) | 0x3f000000);
  let x = bits.getFloat32(0);
  // if (m < sqrt(1/2)) { e -= 1; x = m + m - 1 } else { x = m - 1 }
  const belowSqrtHalf = x < SQRTHF;
  const tmp = belowSqrtHalf ? x : 0;
  x = f32(x - 1);
  e = f32(e - (belowSqrtHalf ? 1 : 0));
  x = f32(x + tmp);
  const z = f32(x * x);
  let y = LOG_P[0];
  for (let k = 1; k < LOG_P.length; k++) y = fmaf(y, x, LOG_P[k] as number);
  y = f32(y * x);
  y = fmaf(y, z, f32(e * LOG_Q1));
  y = fmaf(-z, 0.5, y);
  return fmaf(e, LOG_Q2, f32(x + y));
}

/** [sin(x), cos(x)] of a float32, as sincos256_ps computes them. */
export function sincos256Ps(input: number): [sin: number, cos: number] {
  let x = Math.abs(input);
  // j = (int(x * 4/pi) + 1) & ~1: the octant, rounded to even.
  const j = (Math.trunc(f32(x * FOPI)) + 1) & ~1;
  const y = j;
  const swapSinSign = (j & 4) !== 0;
  const sinPolynomialIsCos = (j & 2) === 0;
  const cosSignFlip = ((j - 2) & 4) === 0;
  // Extended-precision modular arithmetic: x = ((x - y*DP1) - y*DP2) - y*DP3.
  x = fmaf(y, MINUS_DP1, x);
  x = fmaf(y, MINUS_DP2, x);
  x = fmaf(y, MINUS_DP3, x);
  const z = f32(x * x);
  let cosPoly = fmaf(COSCOF_P0, z, COSCOF_P1);
  cosPoly = fmaf(cosPoly, z, COSCOF_P2);
  cosPoly = f32(cosPoly * z);
  cosPoly = fmaf(cosPoly, z, -f32(z * 0.5));
  cosPoly = f32(cosPoly + 1);
  let sinPoly = fmaf(SINCOF_P0, z, SINCOF_P1);
  sinPoly = fmaf(sinPoly, z, SINCOF_P2);
  sinPoly = f32(sinPoly * z);
  sinPoly = fmaf(sinPoly, x, x);
  let sin = sinPolynomialIsCos ? sinPoly : cosPoly;
  let cos = sinPolynomialIsCos ? cosPoly : sinPoly;
  if (swapSinSign !== input < 0) sin = -sin;
  if (cosSignFlip) cos = -cos;
  return [sin, cos];
}
