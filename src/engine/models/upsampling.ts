// Mirrors diffusers src/diffusers/models/upsampling.py (diffusers==0.26.3): Upsample2D with use_conv=True.
import { Conv2d } from '../nn/conv.js';
import { type BuildContext, Module } from '../nn/module.js';
import type { Value } from '../onnx/graph_builder.js';
import type { VarBuilder } from '../weights/var_builder.js';

export class Upsample2D extends Module {
  readonly conv: Conv2d;

  constructor(vb: VarBuilder, channels: number, outChannels = channels) {
    super(vb);
    this.conv = new Conv2d(vb.pp('conv'), channels, outChannels, 3, { padding: 1 });
  }

  /**
   * [N, C, H, W] -> [N, out, H', W']: nearest-neighbour upsampling to `outputSize` (a 2-element int64 [H', W'],
   * the UNet passes the skip tensor's size so odd sizes line up) or to 2x, then a 3x3 conv.
   */
  forward(ctx: BuildContext, x: Value, outputSize?: Value): Value {
    const o = ctx.ops(this.path);
    const size = outputSize ?? o.mul(o.shape(x, 2, 4), o.i64([2]), 'double_size'); // [2]
    const up = o.resizeNearest(x, size, 'interpolate'); // [N, C, H', W']
    return this.conv.forward(ctx, up); // [N, out, H', W']
  }
}
