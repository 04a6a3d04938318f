// Mirrors diffusers src/diffusers/models/unets/unet_3d_condition.py (diffusers==0.26.3): UNet3DConditionModel,
// the ModelScope text-to-video denoiser, plus `buildUNet3DGraph` for a standalone ONNX graph.
import { z } from 'zod';
import { activation, DIFFUSERS_ACTIVATIONS } from '../../nn/activation.js';
import { Conv2d } from '../../nn/conv.js';
import { BuildContext, type FloatType, Module } from '../../nn/module.js';
import { GroupNorm } from '../../nn/normalization.js';
import { GraphBuilder, type Value } from '../../onnx/graph_builder.js';
import type { VarBuilder } from '../../weights/var_builder.js';
import { TimestepEmbedding, Timesteps } from '../embeddings.js';
import { parseModelConfig, positiveInt } from '../model_config.js';
import { TransformerTemporalModel } from '../transformers/transformer_temporal.js';
import { type BlockContext, DOWN_BLOCK_TYPES, type DownBlock, getDownBlock, getUpBlock, UNetMidBlock3DCrossAttn, UP_BLOCK_TYPES, type UpBlock } from './unet_3d_blocks.js';

/** config.json keys of UNet3DConditionModel with diffusers' defaults. */
export const UNet3DConditionConfigSchema = z
  .object({
    sample_size: positiveInt().nullable().default(null),
    in_channels: positiveInt().default(4),
    out_channels: positiveInt().default(4),
    down_block_types: z
      .array(z.enum(DOWN_BLOCK_TYPES))
      .min(1)
      .default(['CrossAttnDownBlock3D', 'CrossAttnDownBlock3D', 'CrossAttnDownBlock3D', 'DownBlock3D']),
    up_block_types: z.array(z.enum(UP_BLOCK_TYPES)).min(1).default(['UpBlock3D', 'CrossAttnUpBlock3D', 'CrossAttnUpBlock3D', 'CrossAttnUpBlock3D']),
    block_out_channels: z.array(positiveInt()).min(1).default([320, 640, 1280, 1280]),
    layers_per_block: positiveInt().default(2),
    downsample_padding: z.number().int().min(0).default(1),
    mid_block_scale_factor: z.number().positive().default(1),
    act_fn: z.enum(DIFFUSERS_ACTIVATIONS).default('silu'),
    norm_num_groups: positiveInt().default(32),
    norm_eps: z.number().positive().default(1e-5),
    cross_attention_dim: positiveInt().default(1024),
    // diffusers' transformer_in uses it as a head size, so a per-block list cannot build in diffusers either.
    attention_head_dim: positiveInt().default(64),
    // diffusers raises NotImplementedError for anything but null.
    num_attention_heads: z.null().default(null),
    time_cond_proj_dim: z.null().default(null),
  })
  .superRefine((c, ctx) => {
    if (c.down_block_types.length !== c.up_block_types.length) {
      ctx.addIssue({ code: 'custom', path: ['up_block_types'], message: `must have as many entries as down_block_types (${c.down_block_types.length})` });
    }
    if (c.block_out_channels.length !== c.down_block_types.length) {
      ctx.addIssue({ code: 'custom', path: ['block_out_channels'], message: `must have as many entries as down_block_types (${c.down_block_types.length})` });
    }
  });

export type UNet3DConditionConfig = z.output<typeof UNet3DConditionConfigSchema>;

export function parseUNet3DConditionConfig(json: unknown, source = 'unet/config.json'): UNet3DConditionConfig {
  return parseModelConfig(UNet3DConditionConfigSchema, json, source);
}

export interface UNet3DInputs {
  /** [B, in_channels, F, H, W], the graph's dtype. */
  sample: Value;
  /** int64 [1] or [B]. */
  timestep: Value;
  /** [B, L, cross_attention_dim], the graph's dtype. */
  encoderHiddenStates: Value;
}

export class UNet3DConditionModel extends Module {
  readonly conv_in: Conv2d;
  readonly time_proj: Timesteps;
  readonly time_embedding: TimestepEmbedding;
  readonly transformer_in: TransformerTemporalModel;
  readonly down_blocks: readonly DownBlock[];
  readonly mid_block: UNetMidBlock3DCrossAttn;
  readonly up_blocks: readonly UpBlock[];
  readonly conv_norm_out: GroupNorm;
  readonly conv_out: Conv2d;

  constructor(
    vb: VarBuilder,
    readonly config: UNet3DConditionConfig,
  ) {
    super(vb);
    const c = config;
    const channels = c.block_out_channels;
    const c0 = channels[0]!;
    const timeEmbedDim = c0 * 4;
    const heads = c.attention_head_dim;
    this.conv_in = new Conv2d(vb.pp('conv_in'), c.in_channels, c0, 3, { padding: 1 });
    this.time_proj = new Timesteps(vb.key('time_proj'), c0, true, 0);
    this.time_embedding = new TimestepEmbedding(vb.pp('time_embedding'), c0, timeEmbedDim, c.act_fn);
    this.transformer_in = new TransformerTemporalModel(vb.pp('transformer_in'), {
      numAttentionHeads: 8,
      attentionHeadDim: c.attention_head_dim,
      inChannels: c0,
      numLayers: 1,
      normNumGroups: c.norm_num_groups,
    });
    const common = {
      numLayers: c.layers_per_block,
      tembChannels: timeEmbedDim,
      resnetEps: c.norm_eps,
      resnetActFn: c.act_fn,
      resnetGroups: c.norm_num_groups,
      crossAttentionDim: c.cross_attention_dim,
      numAttentionHeads: heads,
    };
    let outputChannel = c0;
    this.down_blocks = c.down_block_types.map((type, i) => {
      const inChannels = outputChannel;
      outputChannel = channels[i]!;
      const isFinal = i === channels.length - 1;
      return getDownBlock(type, vb.pp('down_blocks').pp(i), {
        ...common,
        inChannels,
        outChannels: outputChannel,
        addDownsample: !isFinal,
        downsamplePadding: c.downsample_padding,
      });
    });
    this.mid_block = new UNetMidBlock3DCrossAttn(vb.pp('mid_block'), {
      ...common,
      numLayers: 1,
      inChannels: channels[channels.length - 1]!,
      outputScaleFactor: c.mid_block_scale_factor,
    });
    const reversed = [...channels].reverse();
    outputChannel = reversed[0]!;
    this.up_blocks = c.up_block_types.map((type, i) => {
      const isFinal = i === channels.length - 1;
      const prevOutputChannel = outputChannel;
      outputChannel = reversed[i]!;
      const inChannels = reversed[Math.min(i + 1, channels.length - 1)]!;
      return getUpBlock(type, vb.pp('up_blocks').pp(i), {
        ...common,
        numLayers: c.layers_per_block + 1,
        inChannels,
        outChannels: outputChannel,
        prevOutputChannel,
        addUpsample: !isFinal,
      });
    });
    this.conv_norm_out = new GroupNorm(vb.pp('conv_norm_out'), c.norm_num_groups, c0, c.norm_eps);
    this.conv_out = new Conv2d(vb.pp('conv_out'), c0, c.out_channels, 3, { padding: 1 });
  }

  /**
   * The denoiser on graph values (so a larger graph, such as a whole denoising step with classifier-free
   * guidance, can wrap it): returns the model output [B, out_channels, F, H, W] in the graph's dtype.
   */
  forward(ctx: BuildContext, inputs: UNet3DInputs): Value {
    const o = ctx.ops(this.path);
    const c = this.config;
    const { sample } = inputs;
    const batch = o.dim(sample, 0, 'batch'); // [1] = B
    const numFrames = o.dim(sample, 2, 'num_frames'); // [1] = F
    const hw = o.shape(sample, 3, 5, 'hw'); // [2] = (H, W)

    // 1. time
    const timesteps = o.cast(o.expand(inputs.timestep, batch, 'broadcast_timestep'), 'float32', 'timestep_float'); // [B]
    const tEmb = o.cast(this.time_proj.forward(ctx, timesteps), ctx.dtype, 't_emb_cast'); // [B, C0]
    const emb = this.time_embedding.forward(ctx, tEmb); // [B, T]
    const timeEmbedDim = c.block_out_channels[0]! * 4;
    const embPerFrame = o.reshape(o.expand(o.unsqueeze(emb, [1]), o.shapeOf([1, numFrames, 1]), 'repeat_interleave'), [-1, timeEmbedDim]); // [BF, T]
    const context = { tokens: o.reshape(inputs.encoderHiddenStates, [-1, c.cross_attention_dim], 'context_rows'), sequences: [batch, -1] }; // [B*L, D]
    const blockContext: BlockContext = { temb: embPerFrame, context, numFrames };

    // 2. pre-process
    const frames = o.reshape(o.transpose(sample, [0, 2, 1, 3, 4], 'to_frames'), o.shapeOf([-1, c.in_channels, hw])); // [BF, Cin, H, W]
    let h = this.conv_in.forward(ctx, frames); // [BF, C0, H, W]
    h = this.transformer_in.forward(ctx, h, numFrames); // [BF, C0, H, W]

    // 3. down
    let downBlockResSamples: Value[] = [h];
    for (const block of this.down_blocks) {
      const out = block.forward(ctx, h, blockContext);
      h = out.hiddenStates; // [BF, Ci, H/2^i, W/2^i]
      downBlockResSamples.push(...out.outputStates);
    }

    // 4. mid
    h = this.mid_block.forward(ctx, h, blockContext); // [BF, Clast, h, w]

    // 5. up: each upsampler resizes to its next skip tensor's size, which is 2x except where a size was odd.
    this.up_blocks.forEach((block, i) => {
      const isFinal = i === this.up_blocks.length - 1;
      const n = block.resnets.length;
      const resSamples = downBlockResSamples.slice(-n);
      downBlockResSamples = downBlockResSamples.slice(0, -n);
      const upsampleSize = isFinal ? undefined : o.shape(downBlockResSamples[downBlockResSamples.length - 1]!, 2, 4, `up_blocks.${i}.upsample_size`); // [2]
      h = block.forward(ctx, h, resSamples, blockContext, upsampleSize); // [BF, Ci, H', W']
    });

    // 6. post-process
    h = activation('silu')(o.child('conv_act'), this.conv_norm_out.forward(ctx, h)); // [BF, C0, H, W]
    h = this.conv_out.forward(ctx, h); // [BF, Cout, H, W]
    const video = o.reshape(h, o.shapeOf([batch, numFrames, c.out_channels, hw])); // [B, F, Cout, H, W]
    return o.transpose(video, [0, 2, 1, 3, 4], 'to_video'); // [B, Cout, F, H, W]
  }
}

export interface BuildGraphOptions {
  dtype: FloatType;
}

/**
 * A standalone UNet3D graph: inputs `sample` float32 [batch, in_channels, frames, height, width], `timestep`
 * int64 [1 or batch], `encoder_hidden_states` float32 [batch, sequence, cross_attention_dim]; output
 * `out_sample` float32 [batch, out_channels, frames, height, width]. fp16 graphs cast inside, so callers always
 * exchange float32.
 */
export function buildUNet3DGraph(vb: VarBuilder, config: UNet3DConditionConfig, options: BuildGraphOptions): { graph: GraphBuilder; model: UNet3DConditionModel } {
  const model = new UNet3DConditionModel(vb, config);
  const graph = new GraphBuilder('UNet3DConditionModel');
  const ctx = new BuildContext(graph, options.dtype);
  const c = config;
  const sample = graph.input('sample', 'float32', ['batch', c.in_channels, 'frames', 'height', 'width']);
  const timestep = graph.input('timestep', 'int64', ['timestep_batch']);
  const encoderHiddenStates = graph.input('encoder_hidden_states', 'float32', ['batch', 'sequence', c.cross_attention_dim]);
  const o = ctx.ops('');
  const out = model.forward(ctx, {
    sample: o.cast(sample, options.dtype, 'sample_cast'),
    timestep,
    encoderHiddenStates: o.cast(encoderHiddenStates, options.dtype, 'encoder_hidden_states_cast'),
  });
  graph.output(o.cast(out, 'float32', 'out_sample_cast'), 'out_sample', ['batch', c.out_channels, 'frames', 'height', 'width']);
  return { graph, model };
}
