// torch.nn.Linear on token matrices: [T, in] -> [T, out] as one Gemm (x W^T + b) with the checkpoint's [out, in]
// weight used as is (transB) and the bias fused into the GEMM's output, so no separate bias pass over the
// activations. Modules keep tokens 2-D ([N*S, C]) and give attention its [N, S, C] view by a free reshape.
import type { Value } from '../onnx/graph_builder.js';
import type { VarBuilder, WeightRef } from '../weights/var_builder.js';
import { type BuildContext, Module } from './module.js';

export class Linear extends Module {
  readonly weight: WeightRef;
  readonly bias: WeightRef | undefined;

  constructor(
    vb: VarBuilder,
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    super(vb);
    this.weight = vb.get([outFeatures, inFeatures], 'weight');
    this.bias = bias ? vb.get([outFeatures], 'bias') : undefined;
  }

  /** [T, in] -> [T, out] */
  forward(ctx: BuildContext, x: Value): Value {
    return ctx.ops(this.path).gemmTransB(x, ctx.param(this.weight), this.bias && ctx.param(this.bias)); // [T, out]
  }
}
