// Mirrors diffusers src/diffusers/models/attention.py (diffusers==0.26.3): FeedForward and BasicTransformerBlock
// (norm_type "layer_norm", no positional embeddings, no AdaNorm: what Transformer2DModel and
// TransformerTemporalModel build for the 3D UNet).
import { Linear } from '../nn/linear.js';
import { type BuildContext, Module } from '../nn/module.js';
import { LayerNorm } from '../nn/normalization.js';
import type { Value } from '../onnx/graph_builder.js';
import type { VarBuilder } from '../weights/var_builder.js';
import { GEGLU } from './activations.js';
import { Attention } from './attention_processor.js';

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

  /** [..., dim] -> [..., dimOut] */
  forward(ctx: BuildContext, x: Value): Value {
    const h = this.net[0].forward(ctx, x); // [..., inner]
    return this.net[2].forward(ctx, h); // [..., dimOut]
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

  constructor(vb: VarBuilder, dim: number, numAttentionHeads: number, attentionHeadDim: number, o: BasicTransformerBlockOptions = {}) {
    super(vb);
    const eps = o.normEps ?? 1e-5;
    this.onlyCrossAttention = o.onlyCrossAttention ?? false;
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
   * [N, S, dim] -> [N, S, dim]. `encoderHiddenStates` are per video ([B, L, D] with N = B*F) when
   * `perVideoContext` is set (see Attention).
   */
  forward(ctx: BuildContext, hiddenStates: Value, encoderHiddenStates?: Value, perVideoContext = false): Value {
    const o = ctx.ops(this.path);
    let h = hiddenStates;
    const context = { encoderHiddenStates, perVideoContext: perVideoContext && encoderHiddenStates !== undefined };
    let n = this.norm1.forward(ctx, h); // [N, S, dim]
    h = o.add(this.attn1.forward(ctx, n, this.onlyCrossAttention ? context : {}), h, 'attn1_residual'); // [N, S, dim]
    if (this.attn2 && this.norm2) {
      n = this.norm2.forward(ctx, h); // [N, S, dim]
      h = o.add(this.attn2.forward(ctx, n, context), h, 'attn2_residual'); // [N, S, dim]
    }
    n = this.norm3.forward(ctx, h); // [N, S, dim]
    return o.add(this.ff.forward(ctx, n), h, 'ff_residual'); // [N, S, dim]
  }
}
