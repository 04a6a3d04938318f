// Mirrors diffusers src/diffusers/models/activations.py (diffusers==0.26.3): GEGLU.
import { gelu } from '../nn/activation.js';
import { Linear } from '../nn/linear.js';
import { type BuildContext, Module } from '../nn/module.js';
import type { Value } from '../onnx/graph_builder.js';
import type { VarBuilder } from '../weights/var_builder.js';

/** GEGLU (arXiv 2002.05202): proj to 2*out, split into (hidden, gate), hidden * gelu(gate) with exact GELU. */
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

  /** [..., in] -> [..., out] */
  forward(ctx: BuildContext, x: Value): Value {
    const o = ctx.ops(this.path);
    const projected = this.proj.forward(ctx, x); // [..., 2*out]
    const [hidden, gate] = o.split(projected, [this.dimOut, this.dimOut], -1); // [..., out] x 2
    return o.mul(hidden!, gelu(o, gate!)); // [..., out]
  }
}
