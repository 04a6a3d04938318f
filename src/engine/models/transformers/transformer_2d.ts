// Mirrors diffusers src/diffusers/models/transformers/transformer_2d.py (diffusers==0.26.3): Transformer2DModel
// for continuous input with use_linear_projection=True (what every UNet3D block builds: get_down_block,
// get_up_block and UNetMidBlock3DCrossAttn default it to True).
import { Linear } from '../../nn/linear.js';
import { type BuildContext, Module } from '../../nn/module.js';
import { GroupNorm } from '../../nn/normalization.js';
import type { Value } from '../../onnx/graph_builder.js';
import type { VarBuilder } from '../../weights/var_builder.js';
import { BasicTransformerBlock } from '../attention.js';
import type { Context } from '../attention_processor.js';

export interface Transformer2DModelOptions {
  numAttentionHeads?: number;
  attentionHeadDim?: number;
  inChannels: number;
  numLayers?: number;
  crossAttentionDim?: number;
  normNumGroups?: number;
  attentionBias?: boolean;
  activationFn?: string;
  onlyCrossAttention?: boolean;
}

export class Transformer2DModel extends Module {
  readonly norm: GroupNorm;
  readonly proj_in: Linear;
  readonly transformer_blocks: readonly BasicTransformerBlock[];
  readonly proj_out: Linear;
  readonly inChannels: number;

  constructor(vb: VarBuilder, o: Transformer2DModelOptions) {
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
        onlyCrossAttention: o.onlyCrossAttention,
      }),
    );
    this.proj_out = new Linear(vb.pp('proj_out'), innerDim, o.inChannels);
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
    let h = o.reshape(o.transpose(o.reshape(normed, [0, C, -1]), [0, 2, 1], 'to_tokens'), [-1, C], 'rows'); // [N*HW, C]
    h = this.proj_in.forward(ctx, h); // [N*HW, inner]
    for (const block of this.transformer_blocks) h = block.forward(ctx, h, [images, -1], context); // [N*HW, inner]
    h = this.proj_out.forward(ctx, h); // [N*HW, C]
    const spatial = o.reshape(o.transpose(o.reshape(h, [images, -1, C], 'tokens'), [0, 2, 1], 'to_spatial'), o.shape(residual)); // [N, C, H, W]
    return o.add(spatial, residual, 'residual'); // [N, C, H, W]
  }
}
