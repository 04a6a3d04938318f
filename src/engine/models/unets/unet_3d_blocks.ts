// Mirrors diffusers src/diffusers/models/unets/unet_3d_blocks.py (diffusers==0.26.3): get_down_block,
// get_up_block, UNetMidBlock3DCrossAttn, CrossAttnDownBlock3D, DownBlock3D, CrossAttnUpBlock3D, UpBlock3D.
//
// Hidden states are [B*F, C, H, W] (frames folded into the batch); `numFrames` is a 1-element int64 tensor;
// temb is [B*F, T]; encoder_hidden_states are per video, not repeated over frames (see Attention's Context).
// A block's `num_attention_heads` is the config's attention_head_dim (diffusers' historical naming): its
// transformers get out_channels // num_attention_heads heads of num_attention_heads channels each.
import { type BuildContext, Module } from '../../nn/module.js';
import type { Value } from '../../onnx/graph_builder.js';
import type { VarBuilder } from '../../weights/var_builder.js';
import type { Context } from '../attention_processor.js';
import { Downsample2D } from '../downsampling.js';
import { ResnetBlock2D, TemporalConvLayer } from '../resnet.js';
import { Transformer2DModel } from '../transformers/transformer_2d.js';
import type { TransformerLayersOptions } from '../transformers/transformer_layers.js';
import { TransformerTemporalModel } from '../transformers/transformer_temporal.js';
import { Upsample2D } from '../upsampling.js';

export interface BlockContext {
  temb: Value;
  /** encoder_hidden_states as rows [B*L, D] grouped per video. */
  context: Context;
  numFrames: Value;
}

interface CommonBlockOptions {
  numLayers: number;
  outChannels: number;
  tembChannels: number;
  resnetEps: number;
  resnetActFn: string;
  resnetGroups: number;
  outputScaleFactor?: number;
}

export interface DownBlockOptions extends CommonBlockOptions {
  inChannels: number;
  addDownsample: boolean;
  downsamplePadding: number;
}

export interface UpBlockOptions extends CommonBlockOptions {
  inChannels: number;
  prevOutputChannel: number;
  addUpsample: boolean;
}

export interface CrossAttnOptions {
  numAttentionHeads: number;
  crossAttentionDim: number;
}

function resnet(vb: VarBuilder, inChannels: number, o: CommonBlockOptions): ResnetBlock2D {
  return new ResnetBlock2D(vb, {
    inChannels,
    outChannels: o.outChannels,
    tembChannels: o.tembChannels,
    eps: o.resnetEps,
    groups: o.resnetGroups,
    nonLinearity: o.resnetActFn,
    outputScaleFactor: o.outputScaleFactor ?? 1,
  });
}

function tempConv(vb: VarBuilder, channels: number, groups: number): TemporalConvLayer {
  return new TemporalConvLayer(vb, channels, channels, groups);
}

/** A cross-attention block's transformers at `channels`: width // head size heads of the config's head size. */
function transformerOptions(channels: number, groups: number, a: CrossAttnOptions): TransformerLayersOptions {
  return {
    numAttentionHeads: Math.floor(channels / a.numAttentionHeads),
    attentionHeadDim: a.numAttentionHeads,
    inChannels: channels,
    numLayers: 1,
    crossAttentionDim: a.crossAttentionDim,
    normNumGroups: groups,
  };
}

/** What every down and up block has: a resnet and a temporal convolution per layer. */
interface Block3DLayers {
  readonly path: string;
  readonly resnets: readonly ResnetBlock2D[];
  readonly temp_convs: readonly TemporalConvLayer[];
}

/** The cross-attention blocks' layers: a spatial and a temporal transformer more per layer. */
interface CrossAttnBlock3DLayers extends Block3DLayers {
  readonly attentions: readonly Transformer2DModel[];
  readonly temp_attentions: readonly TransformerTemporalModel[];
}

function resnetLayers(vb: VarBuilder, o: CommonBlockOptions, inChannels: (i: number) => number): Pick<Block3DLayers, 'resnets' | 'temp_convs'> {
  const layers = Array.from({ length: o.numLayers }, (_, i) => i);
  return {
    resnets: layers.map((i) => resnet(vb.pp('resnets').pp(i), inChannels(i), o)),
    temp_convs: layers.map((i) => tempConv(vb.pp('temp_convs').pp(i), o.outChannels, o.resnetGroups)),
  };
}

function transformerLayers(vb: VarBuilder, o: CommonBlockOptions & CrossAttnOptions): Pick<CrossAttnBlock3DLayers, 'attentions' | 'temp_attentions'> {
  const layers = Array.from({ length: o.numLayers }, (_, i) => i);
  return {
    attentions: layers.map((i) => new Transformer2DModel(vb.pp('attentions').pp(i), transformerOptions(o.outChannels, o.resnetGroups, o))),
    temp_attentions: layers.map((i) => new TransformerTemporalModel(vb.pp('temp_attentions').pp(i), transformerOptions(o.outChannels, o.resnetGroups, o))),
  };
}

/** Layer i of a block: resnet, temporal conv, then the transformers when the block has them. [BF, in, H, W] -> [BF, out, H, W] */
function blockLayer(ctx: BuildContext, block: Block3DLayers | CrossAttnBlock3DLayers, i: number, hiddenStates: Value, b: BlockContext): Value {
  let h = block.resnets[i]!.forward(ctx, hiddenStates, b.temb); // [BF, out, H, W]
  h = block.temp_convs[i]!.forward(ctx, h, b.numFrames); // [BF, out, H, W]
  if ('attentions' in block) {
    h = block.attentions[i]!.forward(ctx, h, b.context); // [BF, out, H, W]
    h = block.temp_attentions[i]!.forward(ctx, h, b.numFrames); // [BF, out, H, W]
  }
  return h;
}

/** A down block's forward: its layers, each output kept as a skip tensor, then the downsampler. */
function downBlockForward(ctx: BuildContext, block: (Block3DLayers | CrossAttnBlock3DLayers) & { downsamplers?: readonly Downsample2D[] }, hiddenStates: Value, b: BlockContext): DownBlockOutput {
  const outputStates: Value[] = [];
  let h = hiddenStates;
  for (let i = 0; i < block.resnets.length; i++) {
    h = blockLayer(ctx, block, i, h, b); // [BF, out, H, W]
    outputStates.push(h);
  }
  for (const downsampler of block.downsamplers ?? []) {
    h = downsampler.forward(ctx, h); // [BF, out, H/2, W/2]
    outputStates.push(h);
  }
  return { hiddenStates: h, outputStates };
}

/** An up block's forward: each layer on [hidden, popped skip tensor], then the upsampler to `upsampleSize`. */
function upBlockForward(
  ctx: BuildContext,
  block: (Block3DLayers | CrossAttnBlock3DLayers) & { upsamplers?: readonly Upsample2D[] },
  hiddenStates: Value,
  resHiddenStates: readonly Value[],
  b: BlockContext,
  upsampleSize?: Value,
): Value {
  const o = ctx.ops(block.path);
  const skips = [...resHiddenStates];
  let h = hiddenStates;
  for (let i = 0; i < block.resnets.length; i++) {
    h = o.concat([h, skips.pop()!], 1, `cat_skip${i}`); // [BF, prev + skip, H, W]
    h = blockLayer(ctx, block, i, h, b); // [BF, out, H, W]
  }
  for (const upsampler of block.upsamplers ?? []) h = upsampler.forward(ctx, h, upsampleSize); // [BF, out, H', W']
  return h;
}

export class UNetMidBlock3DCrossAttn extends Module {
  readonly resnets: readonly ResnetBlock2D[];
  readonly temp_convs: readonly TemporalConvLayer[];
  readonly attentions: readonly Transformer2DModel[];
  readonly temp_attentions: readonly TransformerTemporalModel[];

  constructor(vb: VarBuilder, o: Omit<CommonBlockOptions, 'outChannels'> & CrossAttnOptions & { inChannels: number }) {
    super(vb);
    const common = { ...o, outChannels: o.inChannels };
    // One resnet and temporal conv more than transformer layers: the first pair runs before any transformer.
    ({ resnets: this.resnets, temp_convs: this.temp_convs } = resnetLayers(vb, { ...common, numLayers: o.numLayers + 1 }, () => o.inChannels));
    ({ attentions: this.attentions, temp_attentions: this.temp_attentions } = transformerLayers(vb, common));
  }

  /** [BF, C, H, W] -> [BF, C, H, W] */
  forward(ctx: BuildContext, hiddenStates: Value, b: BlockContext): Value {
    let h = this.resnets[0]!.forward(ctx, hiddenStates, b.temb); // [BF, C, H, W]
    h = this.temp_convs[0]!.forward(ctx, h, b.numFrames); // [BF, C, H, W]
    for (let i = 0; i < this.attentions.length; i++) {
      h = this.attentions[i]!.forward(ctx, h, b.context); // [BF, C, H, W]
      h = this.temp_attentions[i]!.forward(ctx, h, b.numFrames); // [BF, C, H, W]
      h = this.resnets[i + 1]!.forward(ctx, h, b.temb); // [BF, C, H, W]
      h = this.temp_convs[i + 1]!.forward(ctx, h, b.numFrames); // [BF, C, H, W]
    }
    return h;
  }
}

export interface DownBlockOutput {
  hiddenStates: Value;
  /** The skip tensors, in order. */
  outputStates: Value[];
}

export class CrossAttnDownBlock3D extends Module implements CrossAttnBlock3DLayers {
  readonly resnets: readonly ResnetBlock2D[];
  readonly temp_convs: readonly TemporalConvLayer[];
  readonly attentions: readonly Transformer2DModel[];
  readonly temp_attentions: readonly TransformerTemporalModel[];
  readonly downsamplers: readonly Downsample2D[] | undefined;

  constructor(vb: VarBuilder, o: DownBlockOptions & CrossAttnOptions) {
    super(vb);
    ({ resnets: this.resnets, temp_convs: this.temp_convs } = resnetLayers(vb, o, (i) => (i === 0 ? o.inChannels : o.outChannels)));
    ({ attentions: this.attentions, temp_attentions: this.temp_attentions } = transformerLayers(vb, o));
    this.downsamplers = downsamplers(vb, o);
  }

  /** [BF, in, H, W] -> [BF, out, H/2, W/2] plus the skip tensors */
  forward(ctx: BuildContext, hiddenStates: Value, b: BlockContext): DownBlockOutput {
    return downBlockForward(ctx, this, hiddenStates, b);
  }
}

export class DownBlock3D extends Module implements Block3DLayers {
  readonly resnets: readonly ResnetBlock2D[];
  readonly temp_convs: readonly TemporalConvLayer[];
  readonly downsamplers: readonly Downsample2D[] | undefined;

  constructor(vb: VarBuilder, o: DownBlockOptions) {
    super(vb);
    ({ resnets: this.resnets, temp_convs: this.temp_convs } = resnetLayers(vb, o, (i) => (i === 0 ? o.inChannels : o.outChannels)));
    this.downsamplers = downsamplers(vb, o);
  }

  /** [BF, in, H, W] -> [BF, out, H/2, W/2] plus the skip tensors */
  forward(ctx: BuildContext, hiddenStates: Value, b: BlockContext): DownBlockOutput {
    return downBlockForward(ctx, this, hiddenStates, b);
  }
}

function downsamplers(vb: VarBuilder, o: DownBlockOptions): readonly Downsample2D[] | undefined {
  return o.addDownsample ? [new Downsample2D(vb.pp('downsamplers').pp(0), o.outChannels, o.outChannels, o.downsamplePadding)] : undefined;
}

/** Input channels of up-block resnet i: the previous output (or the block below) plus the popped skip tensor. */
function upResnetInChannels(o: UpBlockOptions, i: number): number {
  const resSkipChannels = i === o.numLayers - 1 ? o.inChannels : o.outChannels;
  const resnetInChannels = i === 0 ? o.prevOutputChannel : o.outChannels;
  return resnetInChannels + resSkipChannels;
}

export class CrossAttnUpBlock3D extends Module implements CrossAttnBlock3DLayers {
  readonly resnets: readonly ResnetBlock2D[];
  readonly temp_convs: readonly TemporalConvLayer[];
  readonly attentions: readonly Transformer2DModel[];
  readonly temp_attentions: readonly TransformerTemporalModel[];
  readonly upsamplers: readonly Upsample2D[] | undefined;

  constructor(vb: VarBuilder, o: UpBlockOptions & CrossAttnOptions) {
    super(vb);
    ({ resnets: this.resnets, temp_convs: this.temp_convs } = resnetLayers(vb, o, (i) => upResnetInChannels(o, i)));
    ({ attentions: this.attentions, temp_attentions: this.temp_attentions } = transformerLayers(vb, o));
    this.upsamplers = upsamplers(vb, o);
  }

  /**
   * [BF, prev, H, W] + skip tensors (consumed from the end) -> [BF, out, H', W'], upsampled to `upsampleSize`
   * ([H', W'] int64) when the block has an upsampler.
   */
  forward(ctx: BuildContext, hiddenStates: Value, resHiddenStates: readonly Value[], b: BlockContext, upsampleSize?: Value): Value {
    return upBlockForward(ctx, this, hiddenStates, resHiddenStates, b, upsampleSize);
  }
}

export class UpBlock3D extends Module implements Block3DLayers {
  readonly resnets: readonly ResnetBlock2D[];
  readonly temp_convs: readonly TemporalConvLayer[];
  readonly upsamplers: readonly Upsample2D[] | undefined;

  constructor(vb: VarBuilder, o: UpBlockOptions) {
    super(vb);
    ({ resnets: this.resnets, temp_convs: this.temp_convs } = resnetLayers(vb, o, (i) => upResnetInChannels(o, i)));
    this.upsamplers = upsamplers(vb, o);
  }

  /** As CrossAttnUpBlock3D.forward, without attention. */
  forward(ctx: BuildContext, hiddenStates: Value, resHiddenStates: readonly Value[], b: BlockContext, upsampleSize?: Value): Value {
    return upBlockForward(ctx, this, hiddenStates, resHiddenStates, b, upsampleSize);
  }
}

function upsamplers(vb: VarBuilder, o: UpBlockOptions): readonly Upsample2D[] | undefined {
  return o.addUpsample ? [new Upsample2D(vb.pp('upsamplers').pp(0), o.outChannels, o.outChannels)] : undefined;
}

export type DownBlock = CrossAttnDownBlock3D | DownBlock3D;
export type UpBlock = CrossAttnUpBlock3D | UpBlock3D;

export const DOWN_BLOCK_TYPES = ['CrossAttnDownBlock3D', 'DownBlock3D'] as const;
export const UP_BLOCK_TYPES = ['UpBlock3D', 'CrossAttnUpBlock3D'] as const;

export function getDownBlock(type: string, vb: VarBuilder, o: DownBlockOptions & CrossAttnOptions): DownBlock {
  if (type === 'DownBlock3D') return new DownBlock3D(vb, o);
  if (type === 'CrossAttnDownBlock3D') return new CrossAttnDownBlock3D(vb, o);
  throw new Error(`down block type ${JSON.stringify(type)} is not supported (supported: ${DOWN_BLOCK_TYPES.join(', ')})`);
}

export function getUpBlock(type: string, vb: VarBuilder, o: UpBlockOptions & CrossAttnOptions): UpBlock {
  if (type === 'UpBlock3D') return new UpBlock3D(vb, o);
  if (type === 'CrossAttnUpBlock3D') return new CrossAttnUpBlock3D(vb, o);
  throw new Error(`up block type ${JSON.stringify(type)} is not supported (supported: ${UP_BLOCK_TYPES.join(', ')})`);
}
