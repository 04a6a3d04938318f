// torch.nn.Linear: y = x W^T + b over the last axis. W is stored transposed ([in, out]) so the graph is a plain
// MatMul (+ Add), which ONNX Runtime runs as one GEMM with its packed-weight kernels.
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

  /** [..., in] -> [..., out] */
  forward(ctx: BuildContext, x: Value): Value {
    const o = ctx.ops(this.path);
    const y = o.matmul(x, ctx.param(this.weight, { transpose: true })); // [..., out]
    return this.bias ? o.add(y, ctx.param(this.bias)) : y; // [..., out]
  }
}
