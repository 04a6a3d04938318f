// torch.nn.Conv2d and torch.nn.Conv3d (zero padding, no dilation or groups: all the models need).
import type { Value } from '../onnx/graph_builder.js';
import type { VarBuilder, WeightRef } from '../weights/var_builder.js';
import { type BuildContext, Module } from './module.js';

export interface ConvOptions {
  stride?: number;
  padding?: number;
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly weight: WeightRef;
  readonly bias: WeightRef | undefined;
  private readonly stride: number;
  private readonly padding: number;

  constructor(
    vb: VarBuilder,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    options: ConvOptions = {},
  ) {
    super(vb);
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.weight = vb.get([outChannels, inChannels, kernelSize, kernelSize], 'weight');
    this.bias = options.bias ?? true ? vb.get([outChannels], 'bias') : undefined;
  }

  /** [N, in, H, W] -> [N, out, H', W'] */
  forward(ctx: BuildContext, x: Value): Value {
    const o = ctx.ops(this.path);
    const p = this.padding;
    return o.conv(x, ctx.param(this.weight), this.bias && ctx.param(this.bias), {
      kernel: [this.kernelSize, this.kernelSize],
      pads: [p, p, p, p],
      strides: [this.stride, this.stride],
    }); // [N, out, H', W']
  }
}

export class Conv3d extends Module {
  readonly weight: WeightRef;
  readonly bias: WeightRef;

  constructor(
    vb: VarBuilder,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: readonly [number, number, number],
    readonly padding: readonly [number, number, number],
  ) {
    super(vb);
    this.weight = vb.get([outChannels, inChannels, ...kernelSize], 'weight');
    this.bias = vb.get([outChannels], 'bias');
  }

  /** [N, in, D, H, W] -> [N, out, D', H', W'] */
  forward(ctx: BuildContext, x: Value): Value {
    const o = ctx.ops(this.path);
    const [pd, ph, pw] = this.padding;
    return o.conv(x, ctx.param(this.weight), ctx.param(this.bias), { kernel: this.kernelSize, pads: [pd, ph, pw, pd, ph, pw] }); // [N, out, D', H', W']
  }
}
