// Mirrors diffusers src/diffusers/models/transformers/transformer_temporal.py (diffusers==0.26.3):
// TransformerTemporalModel, attention along the frames of each pixel.
import type { BuildContext } from '../../nn/module.js';
import type { Value } from '../../onnx/graph_builder.js';
import type { VarBuilder } from '../../weights/var_builder.js';
import { TransformerLayers, type TransformerLayersOptions } from './transformer_layers.js';

export interface TransformerTemporalModelOptions extends TransformerLayersOptions {
  /** attn2 is a second self-attention (the default), as UNet3D's temporal transformers build it. */
  doubleSelfAttention?: boolean;
}

export class TransformerTemporalModel extends TransformerLayers {
  constructor(vb: VarBuilder, o: TransformerTemporalModelOptions) {
    super(vb, o, { doubleSelfAttention: o.doubleSelfAttention ?? true });
  }

  /**
   * [B*F, C, H, W] -> [B*F, C, H, W]. The norm sees each video as [B, C, F, H, W] (statistics across all its
   * frames); attention runs over the F frames of every (b, h, w). `numFrames` is a 1-element int64 tensor.
   * Every transpose moves a single axis ([B, F, C, HW] <-> [B, C, F, HW], [B, F, C, HW] <-> [B, HW, F, C]),
   * which ONNX Runtime runs as fast blocked 2-D transposes.
   */
  forward(ctx: BuildContext, hiddenStates: Value, numFrames: Value): Value {
    const o = ctx.ops(this.path);
    const C = this.inChannels;
    const residual = hiddenStates; // [BF, C, H, W]
    const flat = o.reshape(hiddenStates, [0, C, -1], 'flat'); // [BF, C, HW]
    const frames = o.reshape(flat, o.shapeOf([-1, numFrames, C, o.dim(flat, 2, 'hw')]), 'frames'); // [B, F, C, HW]
    const normed = this.norm.forward(ctx, o.transpose(frames, [0, 2, 1, 3], 'to_video')); // [B, C, F, HW]
    const tokens = o.transpose(o.transpose(normed, [0, 2, 1, 3], 'to_frames'), [0, 3, 1, 2], 'to_tokens'); // [B, HW, F, C]
    let h = o.reshape(tokens, [-1, C], 'rows'); // [B*HW*F, C]
    h = this.proj_in.forward(ctx, h); // [B*HW*F, inner]
    for (const block of this.transformer_blocks) h = block.forward(ctx, h, [-1, numFrames]); // [B*HW*F, inner]
    h = this.proj_out.forward(ctx, h); // [B*HW*F, C]
    const pixels = o.reshape(h, o.shapeOf([o.dim(frames, 0, 'videos'), -1, numFrames, C]), 'pixels'); // [B, HW, F, C]
    const back = o.reshape(o.transpose(pixels, [0, 2, 3, 1], 'to_frames_out'), o.shape(residual)); // [BF, C, H, W]
    return o.add(back, residual, 'residual'); // [BF, C, H, W]
  }
}
