// torch.nn.Conv2d and torch.nn.Conv3d (zero padding, no dilation or groups: all the models need; Conv3d only with
// the depth-only (k, 1, 1) kernels of the temporal convolutions).
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

  /**
   * For a (kD, 1, 1) kernel without spatial padding, on the [N, in, D, H*W] view: the same convolution as a
   * Conv2d with a (kD, 1) kernel, which ONNX Runtime's CPU EP runs in its blocked NCHWc layout (its Conv3d
   * kernel reaches about half that speed). [N, in, D, S] -> [N, out, D', S]
   */
  forwardDepthOnly(ctx: BuildContext, x: Value): Value {
    const [kd, kh, kw] = this.kernelSize;
    const [pd, ph, pw] = this.padding;
    if (kh !== 1 || kw !== 1 || ph !== 0 || pw !== 0) throw new Error(`${this.path}: kernel [${this.kernelSize}] with padding [${this.padding}] is not depth-only`);
    const weight = ctx.param(this.weight, { dims: [this.outChannels, this.inChannels, kd, 1] });
    return ctx.ops(this.path).conv(x, weight, ctx.param(this.bias), { kernel: [kd, 1], pads: [pd, 0, pd, 0] }); // [N, out, D', S]
  }
}
