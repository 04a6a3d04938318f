// Mirrors diffusers src/diffusers/models/embeddings.py (diffusers==0.26.3): get_timestep_embedding, Timesteps,
// TimestepEmbedding.
import { activation } from '../nn/activation.js';
import { Linear } from '../nn/linear.js';
import { type BuildContext, Module } from '../nn/module.js';
import type { Value } from '../onnx/graph_builder.js';
import { f32 } from '../utils/float32.js';
import type { VarBuilder } from '../weights/var_builder.js';

/**
 * The frequencies exp(-ln(max_period) * i / (half_dim - downscale_freq_shift)) for i < half_dim, computed step by
 * step in float32 as torch does (`-math.log(max_period) * arange(float32)`, then `/ (half_dim - shift)`, then
 * `exp`), so the embedding matches bit for bit up to the last exp rounding.
 */
function timestepFrequencies(halfDim: number, downscaleFreqShift: number, maxPeriod: number): Float32Array {
  const negLog = f32(-Math.log(maxPeriod));
  const out = new Float32Array(halfDim);
  for (let i = 0; i < halfDim; i++) out[i] = f32(Math.exp(f32(f32(negLog * i) / f32(halfDim - downscaleFreqShift))));
  return out;
}

/**
 * Sinusoidal timestep embeddings (DDPM): float32 [N] -> float32 [N, embeddingDim], `[sin, cos]` or, with
 * flipSinToCos, `[cos, sin]`; an odd dimension gets a zero column.
 */
export function getTimestepEmbedding(
  ctx: BuildContext,
  scope: string,
  timesteps: Value,
  embeddingDim: number,
  flipSinToCos: boolean,
  downscaleFreqShift: number,
  maxPeriod = 10000,
): Value {
  const o = ctx.ops(scope);
  const halfDim = Math.floor(embeddingDim / 2);
  const freqs = o.f32(Array.from(timestepFrequencies(halfDim, downscaleFreqShift, maxPeriod)), [1, halfDim]); // [1, half]
  const args = o.mul(o.unsqueeze(timesteps, [1]), freqs); // [N, half] (diffusers' `scale` is 1 for these models)
  const sin = o.unary('Sin', args); // [N, half]
  const cos = o.unary('Cos', args); // [N, half]
  const emb = o.concat(flipSinToCos ? [cos, sin] : [sin, cos], 1); // [N, 2 * half]
  if (embeddingDim % 2 === 1) return o.pad(emb, [0, 0, 0, 1]); // [N, dim]
  return emb;
}

/** diffusers `Timesteps`: the parameter-free sinusoidal projection of the timesteps. */
export class Timesteps {
  constructor(
    readonly path: string,
    readonly numChannels: number,
    readonly flipSinToCos: boolean,
    readonly downscaleFreqShift: number,
  ) {}

  /** float32 [N] -> float32 [N, numChannels] */
  forward(ctx: BuildContext, timesteps: Value): Value {
    return getTimestepEmbedding(ctx, this.path, timesteps, this.numChannels, this.flipSinToCos, this.downscaleFreqShift);
  }
}

/** diffusers `TimestepEmbedding`: linear_1 -> act -> linear_2 (no cond_proj, no post_act: the 3D UNet uses neither). */
export class TimestepEmbedding extends Module {
  readonly linear_1: Linear;
  readonly linear_2: Linear;
  private readonly act: ReturnType<typeof activation>;

  constructor(vb: VarBuilder, inChannels: number, timeEmbedDim: number, actFn = 'silu') {
    super(vb);
    this.linear_1 = new Linear(vb.pp('linear_1'), inChannels, timeEmbedDim);
    this.act = activation(actFn);
    this.linear_2 = new Linear(vb.pp('linear_2'), timeEmbedDim, timeEmbedDim);
  }

  /** [N, in] -> [N, timeEmbedDim] */
  forward(ctx: BuildContext, sample: Value): Value {
    let h = this.linear_1.forward(ctx, sample); // [N, D]
    h = this.act(ctx.ops(this.path).child('act'), h); // [N, D]
    return this.linear_2.forward(ctx, h); // [N, D]
  }
}
