// Mirrors diffusers src/diffusers/models/activations.py (diffusers==0.26.3): GEGLU.
import { gelu } from '../nn/activation.js';
import { Linear } from '../nn/linear.js';
import { type BuildContext, Module } from '../nn/module.js';
import type { Value } from '../onnx/graph_builder.js';
import type { VarBuilder } from '../weights/var_builder.js';

/** GEGLU (arXiv 2002.05202): proj to 2*out, chunk into (hidden, gate), hidden * gelu(gate) with exact GELU. */
export class GEGLU extends Module {
  readonly proj: Linear;

  constructor(
    vb: VarBuilder,
    dimIn: number,
    readonly dimOut: number,
    bias = true,
  ) {
    super(vb);
    this.proj = new Linear(vb.pp('proj'), dimIn, dimOut * 2, bias);
  }

  /**
   * [T, in] -> [T, out]. `proj` runs as two GEMMs on the halves of its weight (rows [0, out) give `hidden`,
   * [out, 2*out) the `gate`), which equals chunking its output without writing and splitting [T, 2*out].
   */
  forward(ctx: BuildContext, x: Value): Value {
    const o = ctx.ops(this.proj.path);
    const { weight, bias } = this.proj;
    const half = (start: number, label: string): Value =>
      o.gemmTransB(x, ctx.param(weight, { rows: [start, start + this.dimOut] }), bias && ctx.param(bias, { rows: [start, start + this.dimOut] }), label); // [T, out]
    const hidden = half(0, 'hidden'); // [T, out]
    const gate = half(this.dimOut, 'gate'); // [T, out]
    return ctx.ops(this.path).mul(hidden, gelu(ctx.ops(this.path), gate)); // [T, out]
  }
}
