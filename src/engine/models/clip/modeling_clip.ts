// Mirrors transformers src/transformers/models/clip/modeling_clip.py (transformers==4.37, as pinned with
// diffusers==0.26.3): CLIPTextModel up to last_hidden_state (no pooler, no projection), plus
// `buildTextEncoderGraph`.
import { z } from 'zod';
import { activation } from '../../nn/activation.js';
import { attendRows } from '../../nn/attention.js';
import { Embedding } from '../../nn/embedding.js';
import { Linear } from '../../nn/linear.js';
import { BuildContext, type FloatType, Module } from '../../nn/module.js';
import { LayerNorm } from '../../nn/normalization.js';
import { GraphBuilder, type Value } from '../../onnx/graph_builder.js';
import { float32ToHalfBits } from '../../weights/dtypes.js';
import type { VarBuilder } from '../../weights/var_builder.js';
import { parseModelConfig, positiveInt } from '../model_config.js';

/** config.json keys of CLIPTextConfig that the text model uses, with transformers' defaults. */
export const CLIPTextConfigSchema = z
  .object({
    vocab_size: positiveInt().default(49408),
    hidden_size: positiveInt().default(512),
    intermediate_size: positiveInt().default(2048),
    num_hidden_layers: positiveInt().default(12),
    num_attention_heads: positiveInt().default(8),
    max_position_embeddings: positiveInt().default(77),
    hidden_act: z.enum(['gelu', 'quick_gelu']).default('quick_gelu'),
    layer_norm_eps: z.number().positive().default(1e-5),
  })
  .superRefine((c, ctx) => {
    if (c.hidden_size % c.num_attention_heads !== 0) {
      ctx.addIssue({ code: 'custom', path: ['num_attention_heads'], message: `must divide hidden_size (${c.hidden_size})` });
    }
  });

export type CLIPTextConfig = z.output<typeof CLIPTextConfigSchema>;

export function parseCLIPTextConfig(json: unknown, source = 'text_encoder/config.json'): CLIPTextConfig {
  return parseModelConfig(CLIPTextConfigSchema, json, source);
}

/** A buffer older checkpoints saved; the model recomputes it. */
export const CLIP_IGNORED_KEY_PREFIXES = ['text_model.embeddings.position_ids'] as const;

export class CLIPTextEmbeddings extends Module {
  readonly token_embedding: Embedding;
  readonly position_embedding: Embedding;

  constructor(vb: VarBuilder, c: CLIPTextConfig) {
    super(vb);
    this.token_embedding = new Embedding(vb.pp('token_embedding'), c.vocab_size, c.hidden_size);
    this.position_embedding = new Embedding(vb.pp('position_embedding'), c.max_position_embeddings, c.hidden_size);
  }

  /** int64 ids [N, S] -> [N, S, D]; positions 0..S-1. */
  forward(ctx: BuildContext, inputIds: Value): Value {
    const o = ctx.ops(this.path);
    const tokens = this.token_embedding.forward(ctx, inputIds); // [N, S, D]
    const positions = o.slice(ctx.param(this.position_embedding.weight), o.i64([0]), o.dim(inputIds, 1, 'seq_len'), [0], 'position_ids'); // [S, D]
    return o.add(tokens, positions); // [N, S, D]
  }
}

export class CLIPAttention extends Module {
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly q_proj: Linear;
  readonly out_proj: Linear;
  private readonly numHeads: number;
  private readonly scale: number;

  constructor(vb: VarBuilder, c: CLIPTextConfig) {
    super(vb);
    const d = c.hidden_size;
    this.numHeads = c.num_attention_heads;
    this.scale = (d / this.numHeads) ** -0.5;
    this.k_proj = new Linear(vb.pp('k_proj'), d, d);
    this.v_proj = new Linear(vb.pp('v_proj'), d, d);
    this.q_proj = new Linear(vb.pp('q_proj'), d, d);
    this.out_proj = new Linear(vb.pp('out_proj'), d, d);
  }

  /** Rows [N*S, D] of N sequences -> [N*S, D]; `causalMask` [1, 1, S, S] is added to the scores. */
  forward(ctx: BuildContext, hiddenStates: Value, batch: Value, causalMask: Value): Value {
    const proj = { q: this.q_proj, k: this.k_proj, v: this.v_proj };
    const a = attendRows(ctx, ctx.ops(this.path), proj, hiddenStates, hiddenStates, { sequences: [batch, -1], heads: this.numHeads, scale: this.scale, bias: causalMask }); // [N*S, D]
    return this.out_proj.forward(ctx, a); // [N*S, D]
  }
}

export class CLIPMLP extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  private readonly activationFn: ReturnType<typeof activation>;

  constructor(vb: VarBuilder, c: CLIPTextConfig) {
    super(vb);
    this.activationFn = activation(c.hidden_act);
    this.fc1 = new Linear(vb.pp('fc1'), c.hidden_size, c.intermediate_size);
    this.fc2 = new Linear(vb.pp('fc2'), c.intermediate_size, c.hidden_size);
  }

  /** [T, D] -> [T, D] */
  forward(ctx: BuildContext, x: Value): Value {
    const h = this.activationFn(ctx.ops(this.path).child('activation_fn'), this.fc1.forward(ctx, x)); // [T, I]
    return this.fc2.forward(ctx, h); // [T, D]
  }
}

export class CLIPEncoderLayer extends Module {
  readonly self_attn: CLIPAttention;
  readonly layer_norm1: LayerNorm;
  readonly mlp: CLIPMLP;
  readonly layer_norm2: LayerNorm;

  constructor(vb: VarBuilder, c: CLIPTextConfig) {
    super(vb);
    this.self_attn = new CLIPAttention(vb.pp('self_attn'), c);
    this.layer_norm1 = new LayerNorm(vb.pp('layer_norm1'), c.hidden_size, c.layer_norm_eps);
    this.mlp = new CLIPMLP(vb.pp('mlp'), c);
    this.layer_norm2 = new LayerNorm(vb.pp('layer_norm2'), c.hidden_size, c.layer_norm_eps);
  }

  /** Pre-LN block on rows [N*S, D] of N sequences -> [N*S, D] */
  forward(ctx: BuildContext, hiddenStates: Value, batch: Value, causalMask: Value): Value {
    const o = ctx.ops(this.path);
    let h = o.add(hiddenStates, this.self_attn.forward(ctx, this.layer_norm1.forward(ctx, hiddenStates), batch, causalMask), 'attn_residual'); // [N*S, D]
    h = o.add(h, this.mlp.forward(ctx, this.layer_norm2.forward(ctx, h)), 'mlp_residual'); // [N*S, D]
    return h;
  }
}

export class CLIPEncoder extends Module {
  readonly layers: readonly CLIPEncoderLayer[];

  constructor(vb: VarBuilder, c: CLIPTextConfig) {
    super(vb);
    this.layers = Array.from({ length: c.num_hidden_layers }, (_, i) => new CLIPEncoderLayer(vb.pp('layers').pp(i), c));
  }

  /** Rows [N*S, D] of N sequences -> [N*S, D] */
  forward(ctx: BuildContext, hiddenStates: Value, batch: Value, causalMask: Value): Value {
    let h = hiddenStates;
    for (const layer of this.layers) h = layer.forward(ctx, h, batch, causalMask); // [N*S, D]
    return h;
  }
}

export class CLIPTextTransformer extends Module {
  readonly embeddings: CLIPTextEmbeddings;
  readonly encoder: CLIPEncoder;
  readonly final_layer_norm: LayerNorm;

  constructor(
    vb: VarBuilder,
    readonly config: CLIPTextConfig,
  ) {
    super(vb);
    this.embeddings = new CLIPTextEmbeddings(vb.pp('embeddings'), config);
    this.encoder = new CLIPEncoder(vb.pp('encoder'), config);
    this.final_layer_norm = new LayerNorm(vb.pp('final_layer_norm'), config.hidden_size, config.layer_norm_eps);
  }

  /** int64 ids [N, S] -> last_hidden_state [N, S, D]. No padding mask: padded positions are ordinary tokens. */
  forward(ctx: BuildContext, inputIds: Value): Value {
    const o = ctx.ops(this.path);
    const d = this.config.hidden_size;
    const batch = o.dim(inputIds, 0, 'batch'); // [1] = N
    const seqLen = o.dim(inputIds, 1, 'seq_len'); // [1] = S
    const h = o.reshape(this.embeddings.forward(ctx, inputIds), [-1, d], 'rows'); // [N*S, D]
    const mask = o.slice(causalMaskConstant(ctx, this.config.max_position_embeddings), o.i64([0, 0]), o.concat([seqLen, seqLen], 0), [2, 3], 'causal_mask'); // [1, 1, S, S]
    const encoded = this.encoder.forward(ctx, h, batch, mask); // [N*S, D]
    return o.reshape(this.final_layer_norm.forward(ctx, encoded), [batch, seqLen, d], 'sequences'); // [N, S, D]
  }
}

/** transformers' `_create_4d_causal_attention_mask` at full length: 0 on and below the diagonal, finfo(dtype).min above. */
function causalMaskConstant(ctx: BuildContext, size: number): Value {
  const min = ctx.dtype === 'float16' ? -65504 : -3.4028234663852886e38;
  const mask = new Float32Array(size * size);
  for (let i = 0; i < size; i++) for (let j = i + 1; j < size; j++) mask[i * size + j] = min;
  const data = ctx.dtype === 'float16' ? float32ToHalfBits(mask) : mask;
  return ctx.graph.constant(data, ctx.dtype, [1, 1, size, size], 'causal_mask');
}

export class CLIPTextModel extends Module {
  readonly text_model: CLIPTextTransformer;

  constructor(
    vb: VarBuilder,
    readonly config: CLIPTextConfig,
  ) {
    super(vb);
    this.text_model = new CLIPTextTransformer(vb.pp('text_model'), config);
  }

  /** int64 ids [N, S] -> last_hidden_state [N, S, D] in the graph's dtype. */
  forward(ctx: BuildContext, inputIds: Value): Value {
    return this.text_model.forward(ctx, inputIds);
  }
}

/**
 * A standalone text encoder graph: input `input_ids` int64 [batch, sequence] (sequence <= max_position_embeddings),
 * output `last_hidden_state` float32 [batch, sequence, hidden_size].
 */
export function buildTextEncoderGraph(vb: VarBuilder, config: CLIPTextConfig, options: { dtype: FloatType }): { graph: GraphBuilder; model: CLIPTextModel } {
  const model = new CLIPTextModel(vb, config);
  const graph = new GraphBuilder('CLIPTextModel');
  const ctx = new BuildContext(graph, options.dtype);
  const inputIds = graph.input('input_ids', 'int64', ['batch', 'sequence']);
  const hidden = model.forward(ctx, inputIds);
  graph.output(ctx.ops('').cast(hidden, 'float32', 'last_hidden_state_cast'), 'last_hidden_state', ['batch', 'sequence', config.hidden_size]);
  return { graph, model };
}
