// Mirrors diffusers src/diffusers/models/transformers/transformer_2d.py (diffusers==0.26.3): Transformer2DModel
// for continuous input with use_linear_projection=True (what every UNet3D block builds: get_down_block,
// get_up_block and UNetMidBlock3DCrossAttn default it to True).
import { imageRows, rowsToImage } from '../../nn/layout.js';
import type { BuildContext } from '../../nn/module.js';
import type { Value } from '../../onnx/graph_builder.js';
import type { VarBuilder } from '../../weights/var_builder.js';
import type { Context } from '../attention_processor.js';
import { TransformerLayers, type TransformerLayersOptions } from './transformer_layers.js';

export interface Transformer2DModelOptions extends TransformerLayersOptions {
  onlyCrossAttention?: boolean;
}

export class Transformer2DModel extends TransformerLayers {
  constructor(vb: VarBuilder, o: Transformer2DModelOptions) {
    super(vb, o, { onlyCrossAttention: o.onlyCrossAttention });
  }

  /**
   * [N, C, H, W] -> [N, C, H, W], attention over the H*W positions of each image; `context` are the text
   * states (per video: see Attention's Context).
   */
  forward(ctx: BuildContext, hiddenStates: Value, context?: Context): Value {
    const o = ctx.ops(this.path);
    const C = this.inChannels;
    const residual = hiddenStates; // [N, C, H, W]
    const images = o.dim(hiddenStates, 0, 'images'); // [1] = N
    const normed = this.norm.forward(ctx, hiddenStates); // [N, C, H, W]
    let h = imageRows(o, normed, C, 'rows'); // [N*HW, C]
    h = this.proj_in.forward(ctx, h); // [N*HW, inner]
    for (const block of this.transformer_blocks) h = block.forward(ctx, h, [images, -1], context); // [N*HW, inner]
    h = this.proj_out.forward(ctx, h); // [N*HW, C]
    const spatial = rowsToImage(o, h, images, C, residual); // [N, C, H, W]
    return o.add(spatial, residual, 'residual'); // [N, C, H, W]
  }
}
