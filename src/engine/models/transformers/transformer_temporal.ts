// Mirrors diffusers src/diffusers/models/transformers/transformer_temporal.py (diffusers==0.26.3):
// TransformerTemporalModel, attention along the frames of each pixel.
import { Linear } from '../../nn/linear.js';
import { type BuildContext, Module } from '../../nn/module.js';
import { GroupNorm } from '../../nn/normalization.js';
import type { Value } from '../../onnx/graph_builder.js';
import type { VarBuilder } from '../../weights/var_builder.js';
import { BasicTransformerBlock } from '../attention.js';

export interface TransformerTemporalModelOptions {
  numAttentionHeads?: number;
  attentionHeadDim?: number;
  inChannels: number;
  numLayers?: number;
  normNumGroups?: number;
  crossAttentionDim?: number;
  attentionBias?: boolean;
  activationFn?: string;
  doubleSelfAttention?: boolean;
}

export class TransformerTemporalModel extends Module {
  readonly norm: GroupNorm;
  readonly proj_in: Linear;
  readonly transformer_blocks: readonly BasicTransformerBlock[];
  readonly proj_out: Linear;
  readonly inChannels: number;

  constructor(vb: VarBuilder, o: TransformerTemporalModelOptions) {
    super(vb);
    const heads = o.numAttentionHeads ?? 16;
    const headDim = o.attentionHeadDim ?? 88;
    const innerDim = heads * headDim;
    this.inChannels = o.inChannels;
    this.norm = new GroupNorm(vb.pp('norm'), o.normNumGroups ?? 32, o.inChannels, 1e-6);
    this.proj_in = new Linear(vb.pp('proj_in'), o.inChannels, innerDim);
    this.transformer_blocks = Array.from({ length: o.numLayers ?? 1 }, (_, d) =>
      new BasicTransformerBlock(vb.pp('transformer_blocks').pp(d), innerDim, heads, headDim, {
        crossAttentionDim: o.crossAttentionDim,
        activationFn: o.activationFn,
        attentionBias: o.attentionBias,
        doubleSelfAttention: o.doubleSelfAttention ?? true,
      }),
    );
    this.proj_out = new Linear(vb.pp('proj_out'), innerDim, o.inChannels);
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
