// The layers Transformer2DModel and TransformerTemporalModel both build, the same way in diffusers 0.26.3's two
// constructors: GroupNorm(norm_num_groups, in_channels, eps 1e-6), proj_in Linear(in_channels -> heads x head
// size), num_layers BasicTransformerBlocks, proj_out Linear back. The classes differ in their blocks' attention
// (cross-attention, or self-attention twice) and in how their forward turns pixels into tokens.
import { Linear } from '../../nn/linear.js';
import { Module } from '../../nn/module.js';
import { GroupNorm } from '../../nn/normalization.js';
import type { VarBuilder } from '../../weights/var_builder.js';
import { BasicTransformerBlock, type BasicTransformerBlockOptions } from '../attention.js';

export interface TransformerLayersOptions {
  numAttentionHeads?: number;
  attentionHeadDim?: number;
  inChannels: number;
  numLayers?: number;
  normNumGroups?: number;
  crossAttentionDim?: number;
  attentionBias?: boolean;
  activationFn?: string;
}

export abstract class TransformerLayers extends Module {
  readonly norm: GroupNorm;
  readonly proj_in: Linear;
  readonly transformer_blocks: readonly BasicTransformerBlock[];
  readonly proj_out: Linear;
  readonly inChannels: number;

  /** `attention`: what the blocks attend to, on top of the options both classes pass them. */
  protected constructor(vb: VarBuilder, o: TransformerLayersOptions, attention: Pick<BasicTransformerBlockOptions, 'onlyCrossAttention' | 'doubleSelfAttention'>) {
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
        ...attention,
      }),
    );
    this.proj_out = new Linear(vb.pp('proj_out'), innerDim, o.inChannels);
  }
}
