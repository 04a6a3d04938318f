// Mirrors diffusers src/diffusers/models/attention.py (diffusers==0.26.3): FeedForward and BasicTransformerBlock
// (norm_type "layer_norm", no positional embeddings, no AdaNorm: what Transformer2DModel and
// TransformerTemporalModel build for the 3D UNet).
import { Linear } from '../nn/linear.js';
import { type BuildContext, Module } from '../nn/module.js';
import { LayerNorm } from '../nn/normalization.js';
import type { Value } from '../onnx/graph_builder.js';
import type { VarBuilder } from '../weights/var_builder.js';
import { GEGLU } from './activations.js';
import { Attention, type Context, type Sequences } from './attention_processor.js';

export class FeedForward extends Module {
  // net: ModuleList{0: GEGLU, /* 1: Dropout (inference no-op) */ 2: Linear}
  readonly net: readonly [GEGLU, undefined, Linear];

  constructor(vb: VarBuilder, dim: number, o: { dimOut?: number; mult?: number; activationFn?: string; innerDim?: number; bias?: boolean } = {}) {
    super(vb);
    const innerDim = o.innerDim ?? dim * (o.mult ?? 4);
    const activationFn = o.activationFn ?? 'geglu';
    if (activationFn !== 'geglu') throw new Error(`${vb.prefix}: FeedForward activation_fn ${JSON.stringify(activationFn)} is not supported (supported: geglu)`);
    const net = vb.pp('net');
    this.net = [new GEGLU(net.pp(0), dim, innerDim, o.bias ?? true), undefined, new Linear(net.pp(2), innerDim, o.dimOut ?? dim, o.bias ?? true)];
  }

  /** [T, dim] -> [T, dimOut] */
  forward(ctx: BuildContext, x: Value): Value {
    const h = this.net[0].forward(ctx, x); // [T, inner]
    return this.net[2].forward(ctx, h); // [T, dimOut]
  }
}

export interface BasicTransformerBlockOptions {
  crossAttentionDim?: number;
  activationFn?: string;
  attentionBias?: boolean;
  onlyCrossAttention?: boolean;
  doubleSelfAttention?: boolean;
  normEps?: number;
  ffInnerDim?: number;
  ffBias?: boolean;
  attentionOutBias?: boolean;
}

export class BasicTransformerBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn1: Attention;
  readonly norm2: LayerNorm | undefined;
  readonly attn2: Attention | undefined;
  readonly norm3: LayerNorm;
  readonly ff: FeedForward;
  private readonly onlyCrossAttention: boolean;
  private readonly attn2IsCross: boolean;

  constructor(vb: VarBuilder, dim: number, numAttentionHeads: number, attentionHeadDim: number, o: BasicTransformerBlockOptions = {}) {
    super(vb);
    const eps = o.normEps ?? 1e-5;
    this.onlyCrossAttention = o.onlyCrossAttention ?? false;
    this.attn2IsCross = !o.doubleSelfAttention && o.crossAttentionDim !== undefined;
    const common = { queryDim: dim, heads: numAttentionHeads, dimHead: attentionHeadDim, bias: o.attentionBias ?? false, outBias: o.attentionOutBias ?? true };
    this.norm1 = new LayerNorm(vb.pp('norm1'), dim, eps);
    this.attn1 = new Attention(vb.pp('attn1'), { ...common, crossAttentionDim: this.onlyCrossAttention ? o.crossAttentionDim : undefined });
    if (o.crossAttentionDim !== undefined || o.doubleSelfAttention) {
      this.norm2 = new LayerNorm(vb.pp('norm2'), dim, eps);
      this.attn2 = new Attention(vb.pp('attn2'), { ...common, crossAttentionDim: o.doubleSelfAttention ? undefined : o.crossAttentionDim });
    }
    this.norm3 = new LayerNorm(vb.pp('norm3'), dim, eps);
    this.ff = new FeedForward(vb.pp('ff'), dim, { activationFn: o.activationFn, innerDim: o.ffInnerDim, bias: o.ffBias });
  }

  /**
   * Token rows [T, dim] forming `sequences` -> [T, dim]. `context` feeds the cross-attention (attn2, or attn1
   * with only_cross_attention); a double-self-attention attn2 ignores it, as diffusers' temporal blocks get none.
   */
  forward(ctx: BuildContext, hiddenStates: Value, sequences: Sequences, context?: Context): Value {
    const o = ctx.ops(this.path);
    let h = hiddenStates;
    let n = this.norm1.forward(ctx, h); // [T, dim]
    h = o.add(this.attn1.forward(ctx, n, { sequences, context: this.onlyCrossAttention ? context : undefined }), h, 'attn1_residual'); // [T, dim]
    if (this.attn2 && this.norm2) {
      n = this.norm2.forward(ctx, h); // [T, dim]
      h = o.add(this.attn2.forward(ctx, n, { sequences, context: this.attn2IsCross ? context : undefined }), h, 'attn2_residual'); // [T, dim]
    }
    n = this.norm3.forward(ctx, h); // [T, dim]
    return o.add(this.ff.forward(ctx, n), h, 'ff_residual'); // [T, dim]
  }
}
