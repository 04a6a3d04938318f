// torch.nn.GroupNorm and torch.nn.LayerNorm. Both compute in float32: fp16 graphs cast around them, as GPU
// implementations accumulate normalization statistics in float32.
import type { Value } from '../onnx/graph_builder.js';
import type { VarBuilder, WeightRef } from '../weights/var_builder.js';
import { type BuildContext, Module } from './module.js';

export class GroupNorm extends Module {
  readonly weight: WeightRef;
  readonly bias: WeightRef;

  constructor(
    vb: VarBuilder,
    readonly numGroups: number,
    readonly numChannels: number,
    readonly eps = 1e-5,
  ) {
    super(vb);
    if (numChannels % numGroups !== 0) {
      throw new Error(`${vb.prefix}: GroupNorm of ${numChannels} channels cannot use ${numGroups} groups (channels must be a multiple of norm_num_groups)`);
    }
    this.weight = vb.get([numChannels], 'weight');
    this.bias = vb.get([numChannels], 'bias');
  }

  /**
   * [N, C, ...] -> [N, C, ...], statistics per (sample, group) over C/G and every trailing axis.
   * Computed as InstanceNormalization over [N, G, C/G * ...] followed by a per-channel affine done by
   * BatchNormalization (mean 0, var 1, eps 0, so exactly x * weight + bias): two single-pass kernels, where
   * ONNX GroupNormalization-21 is expanded into a slower function body by ONNX Runtime's CPU EP.
   */
  forward(ctx: BuildContext, x: Value): Value {
    const o = ctx.ops(this.path);
    const G = this.numGroups;
    const C = this.numChannels;
    const x32 = o.cast(x, 'float32'); // [N, C, ...]
    const grouped = o.reshape(x32, [0, G, -1]); // [N, G, C/G * ...]
    const normed = o.instanceNorm(grouped, o.f32(new Array<number>(G).fill(1)), o.f32(new Array<number>(G).fill(0)), this.eps); // [N, G, C/G * ...]
    const back = o.reshape(normed, o.shape(x32)); // [N, C, ...]
    const zeros = o.f32(new Array<number>(C).fill(0));
    const ones = o.f32(new Array<number>(C).fill(1));
    const y = o.batchNorm(back, ctx.param(this.weight, { dtype: 'float32' }), ctx.param(this.bias, { dtype: 'float32' }), zeros, ones, 0, 'affine'); // [N, C, ...]
    return o.cast(y, ctx.dtype); // [N, C, ...]
  }
}

export class LayerNorm extends Module {
  readonly weight: WeightRef;
  readonly bias: WeightRef;

  constructor(
    vb: VarBuilder,
    readonly normalizedShape: number,
    readonly eps = 1e-5,
  ) {
    super(vb);
    this.weight = vb.get([normalizedShape], 'weight');
    this.bias = vb.get([normalizedShape], 'bias');
  }

  /** [..., D] -> [..., D] */
  forward(ctx: BuildContext, x: Value): Value {
    const o = ctx.ops(this.path);
    const x32 = o.cast(x, 'float32'); // [..., D]
    const y = o.layerNorm(x32, ctx.param(this.weight, { dtype: 'float32' }), ctx.param(this.bias, { dtype: 'float32' }), this.eps); // [..., D]
    return o.cast(y, ctx.dtype); // [..., D]
  }
}
