// Mirrors diffusers src/diffusers/models/attention_processor.py (diffusers==0.26.3): `Attention` with
// `AttnProcessor2_0` (the default processor with PyTorch 2) for the features the UNet3D and the VAE use.
// Tokens are 2-D [rows, channels] (see nn/linear.ts); `AttentionInputs` says how rows form sequences.
import { attendRows, type QKVProjections } from '../nn/attention.js';
import { imageRows, rowsToImage } from '../nn/layout.js';
import { Linear } from '../nn/linear.js';
import { type BuildContext, Module } from '../nn/module.js';
import { GroupNorm } from '../nn/normalization.js';
import type { ShapePart, Value } from '../onnx/graph_builder.js';
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

/**
 * How token rows form sequences, as the leading dims of a [sequences, length, channels] view: `[n, -1]` for n
 * sequences or `[-1, s]` for sequences of length s (sizes as int64 1-element values or numbers).
 */
export type Sequences = readonly ShapePart[];

/** Encoder hidden states as rows [B*L, D] with their sequences ([B, -1]). */
export interface Context {
  tokens: Value;
  sequences: Sequences;
}

export interface AttentionInputs {
  /** Sequences of the query rows. */
  sequences: Sequences;
  /**
   * Cross-attention context. Query rows are then regrouped into the context's sequences: for per-video text
   * states ([B, -1]) and queries of B*F frames, each video's frames form one query sequence, which equals
   * attending per frame to a repeat_interleave'd context (every query row attends independently) without
   * repeating it.
   */
  context?: Context;
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
  private readonly residualConnection: boolean;
  private readonly rescaleOutputFactor: number;

  constructor(vb: VarBuilder, o: AttentionOptions) {
    super(vb);
    const heads = o.heads ?? 8;
    const dimHead = o.dimHead ?? 64;
    this.heads = heads;
    const innerDim = heads * dimHead;
    this.scale = dimHead ** -0.5;
    this.residualConnection = o.residualConnection ?? false;
    this.rescaleOutputFactor = o.rescaleOutputFactor ?? 1;
    this.group_norm = o.normNumGroups === undefined ? undefined : new GroupNorm(vb.pp('group_norm'), o.normNumGroups, o.queryDim, o.eps ?? 1e-5);
    const kvDim = o.crossAttentionDim ?? o.queryDim;
    const bias = o.bias ?? false;
    this.to_q = new Linear(vb.pp('to_q'), o.queryDim, innerDim, bias);
    this.to_k = new Linear(vb.pp('to_k'), kvDim, innerDim, bias);
    this.to_v = new Linear(vb.pp('to_v'), kvDim, innerDim, bias);
    this.to_out = [new Linear(vb.pp('to_out').pp(0), innerDim, o.queryDim, o.outBias ?? true)];
  }

  /** Token input: [T, queryDim] -> [T, queryDim]. */
  forward(ctx: BuildContext, hiddenStates: Value, inputs: AttentionInputs): Value {
    if (this.group_norm) throw new Error(`${this.path}: group_norm is only supported on spatial input (forwardSpatial)`);
    const o = ctx.ops(this.path);
    const kvRows = inputs.context?.tokens ?? hiddenStates; // [Tk, D]
    const sequences = inputs.context?.sequences ?? inputs.sequences;
    const a = attendRows(ctx, o, this.qkv(), hiddenStates, kvRows, { sequences, heads: this.heads, scale: this.scale }); // [T, inner]
    let h = this.to_out[0].forward(ctx, a); // [T, C]
    if (this.residualConnection) h = o.add(h, hiddenStates); // [T, C]
    if (this.rescaleOutputFactor !== 1) h = o.div(h, o.scalar(this.rescaleOutputFactor, ctx.dtype)); // [T, C]
    return h;
  }

  /**
   * Spatial input (the processor's `input_ndim == 4` path): [N, C, H, W] -> [N, C, H, W]. group_norm runs on
   * the [N, C, H*W] view, attention on the H*W tokens of each image, and the residual is the 4-D input.
   */
  forwardSpatial(ctx: BuildContext, x: Value): Value {
    const o = ctx.ops(this.path);
    const C = this.to_q.inFeatures;
    const n = o.dim(x, 0, 'batch'); // [1] = N
    const normed = this.group_norm ? this.group_norm.forward(ctx, x) : x; // [N, C, H, W]
    const rows = imageRows(o, normed, C, 'rows_in'); // [N*HW, C]
    const a = attendRows(ctx, o, this.qkv(), rows, rows, { sequences: [n, -1], heads: this.heads, scale: this.scale }); // [N*HW, inner]
    let h = rowsToImage(o, this.to_out[0].forward(ctx, a), n, C, x); // [N, C, H, W]
    if (this.residualConnection) h = o.add(h, x); // [N, C, H, W]
    if (this.rescaleOutputFactor !== 1) h = o.div(h, o.scalar(this.rescaleOutputFactor, ctx.dtype)); // [N, C, H, W]
    return h;
  }

  private qkv(): QKVProjections {
    return { q: this.to_q, k: this.to_k, v: this.to_v };
  }
}
