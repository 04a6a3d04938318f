// Mirrors diffusers src/diffusers/models/attention_processor.py (diffusers==0.26.3): `Attention` with
// `AttnProcessor2_0` (the default processor with PyTorch 2) for the features the UNet3D and the VAE use.
import { scaledDotProductAttention } from '../nn/attention.js';
import { Linear } from '../nn/linear.js';
import { type BuildContext, Module } from '../nn/module.js';
import { GroupNorm } from '../nn/normalization.js';
import type { Value } from '../onnx/graph_builder.js';
import type { VarBuilder } from '../weights/var_builder.js';

export interface AttentionOptions {
  queryDim: number;
  /** Width of encoder_hidden_states; undefined means self-attention (K/V from the query input). */
  crossAttentionDim?: number;
  heads?: number;
  dimHead?: number;
  /** Bias on to_q/to_k/to_v. */
  bias?: boolean;
  /** Bias on to_out.0. */
  outBias?: boolean;
  residualConnection?: boolean;
  rescaleOutputFactor?: number;
  /** Adds `group_norm` on the input; only the spatial path uses it (the VAE's mid-block attention). */
  normNumGroups?: number;
  eps?: number;
}

export interface AttentionInputs {
  encoderHiddenStates?: Value;
  /**
   * When set, `hidden_states` is [B*F, S, C] while `encoderHiddenStates` is per video [B, L, D] (not
   * repeat_interleave'd over frames as diffusers does). The frames are folded into the query sequence,
   * [B, F*S, C]: each query row attends to the keys independently, so this equals attending per frame to a
   * repeated context, without repeating it.
   */
  perVideoContext?: boolean;
}

export class Attention extends Module {
  readonly to_q: Linear;
  readonly to_k: Linear;
  readonly to_v: Linear;
  // to_out: ModuleList{0: Linear, /* 1: Dropout (inference no-op) */}
  readonly to_out: readonly [Linear];
  readonly group_norm: GroupNorm | undefined;
  readonly heads: number;
  readonly scale: number;
  private readonly innerDim: number;
  private readonly residualConnection: boolean;
  private readonly rescaleOutputFactor: number;

  constructor(vb: VarBuilder, o: AttentionOptions) {
    super(vb);
    const heads = o.heads ?? 8;
    const dimHead = o.dimHead ?? 64;
    this.heads = heads;
    this.innerDim = heads * dimHead;
    this.scale = dimHead ** -0.5;
    this.residualConnection = o.residualConnection ?? false;
    this.rescaleOutputFactor = o.rescaleOutputFactor ?? 1;
    this.group_norm = o.normNumGroups === undefined ? undefined : new GroupNorm(vb.pp('group_norm'), o.normNumGroups, o.queryDim, o.eps ?? 1e-5);
    const kvDim = o.crossAttentionDim ?? o.queryDim;
    const bias = o.bias ?? false;
    this.to_q = new Linear(vb.pp('to_q'), o.queryDim, this.innerDim, bias);
    this.to_k = new Linear(vb.pp('to_k'), kvDim, this.innerDim, bias);
    this.to_v = new Linear(vb.pp('to_v'), kvDim, this.innerDim, bias);
    this.to_out = [new Linear(vb.pp('to_out').pp(0), this.innerDim, o.queryDim, o.outBias ?? true)];
  }

  /** Token input: [N, S, queryDim] -> [N, S, queryDim]. */
  forward(ctx: BuildContext, hiddenStates: Value, inputs: AttentionInputs = {}): Value {
    if (this.group_norm) throw new Error(`${this.path}: group_norm is only supported on spatial input (forwardSpatial)`);
    const o = ctx.ops(this.path);
    const residual = hiddenStates;
    const context = inputs.encoderHiddenStates ?? hiddenStates; // [N or B, L, D]
    let q = this.to_q.forward(ctx, hiddenStates); // [N, S, inner]
    const k = this.to_k.forward(ctx, context); // [N or B, L, inner]
    const v = this.to_v.forward(ctx, context); // [N or B, L, inner]
    if (inputs.perVideoContext) q = o.reshape(q, o.shapeOf([o.dim(context, 0), -1, this.innerDim]), 'fold_frames'); // [B, F*S, inner]
    let a = scaledDotProductAttention(o, q, k, v, this.heads, this.scale); // [N or B, S or F*S, inner]
    if (inputs.perVideoContext) a = o.reshape(a, o.shape(hiddenStates), 'unfold_frames'); // [N, S, inner]
    let h = this.to_out[0].forward(ctx, a); // [N, S, C]
    if (this.residualConnection) h = o.add(h, residual); // [N, S, C]
    if (this.rescaleOutputFactor !== 1) h = o.div(h, o.scalar(this.rescaleOutputFactor, ctx.dtype)); // [N, S, C]
    return h;
  }

  /**
   * Spatial input (the processor's `input_ndim == 4` path): [N, C, H, W] -> [N, C, H, W]. group_norm runs on
   * the [N, C, H*W] view, attention on the H*W tokens, and the residual is the 4-D input.
   */
  forwardSpatial(ctx: BuildContext, x: Value): Value {
    const o = ctx.ops(this.path);
    const C = this.to_q.inFeatures;
    const residual = x;
    const normed = this.group_norm ? this.group_norm.forward(ctx, x) : x; // [N, C, H, W]
    const tokens = o.transpose(o.reshape(normed, [0, C, -1]), [0, 2, 1], 'to_tokens'); // [N, HW, C]
    const q = this.to_q.forward(ctx, tokens); // [N, HW, inner]
    const k = this.to_k.forward(ctx, tokens); // [N, HW, inner]
    const v = this.to_v.forward(ctx, tokens); // [N, HW, inner]
    const a = scaledDotProductAttention(o, q, k, v, this.heads, this.scale); // [N, HW, inner]
    const out = this.to_out[0].forward(ctx, a); // [N, HW, C]
    let h = o.reshape(o.transpose(out, [0, 2, 1], 'to_spatial'), o.shape(x)); // [N, C, H, W]
    if (this.residualConnection) h = o.add(h, residual); // [N, C, H, W]
    if (this.rescaleOutputFactor !== 1) h = o.div(h, o.scalar(this.rescaleOutputFactor, ctx.dtype)); // [N, C, H, W]
    return h;
  }
}
