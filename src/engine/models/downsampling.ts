// Mirrors diffusers src/diffusers/models/downsampling.py (diffusers==0.26.3): Downsample2D with use_conv=True.
import { Conv2d } from '../nn/conv.js';
import { type BuildContext, Module } from '../nn/module.js';
import type { Value } from '../onnx/graph_builder.js';
import type { VarBuilder } from '../weights/var_builder.js';

export class Downsample2D extends Module {
  readonly conv: Conv2d;
  private readonly padding: number;

  constructor(vb: VarBuilder, channels: number, outChannels = channels, padding = 1) {
    super(vb);
    this.padding = padding;
    this.conv = new Conv2d(vb.pp('conv'), channels, outChannels, 3, { stride: 2, padding });
  }

  /** [N, C, H, W] -> [N, out, ceil(H/2), ceil(W/2)] (with padding 1) */
  forward(ctx: BuildContext, x: Value): Value {
    // padding 0 pads right and bottom by one first, as diffusers does.
    const input = this.padding === 0 ? ctx.ops(this.path).pad(x, [0, 0, 0, 0, 0, 0, 1, 1]) : x; // [N, C, H', W']
    return this.conv.forward(ctx, input); // [N, out, H/2, W/2]
  }
}
