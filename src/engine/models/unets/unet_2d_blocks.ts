// Mirrors diffusers src/diffusers/models/unets/unet_2d_blocks.py (diffusers==0.26.3): UNetMidBlock2D and
// UpDecoderBlock2D, the blocks of the VAE decoder (no time embedding, resnet_time_scale_shift "default").
import { type BuildContext, Module } from '../../nn/module.js';
import type { Value } from '../../onnx/graph_builder.js';
import type { VarBuilder } from '../../weights/var_builder.js';
import { Attention } from '../attention_processor.js';
import { ResnetBlock2D } from '../resnet.js';
import { Upsample2D } from '../upsampling.js';

export interface UNetMidBlock2DOptions {
  inChannels: number;
  numLayers?: number;
  resnetEps?: number;
  resnetActFn?: string;
  resnetGroups?: number;
  /** Head size of the attention (heads = in_channels / attention_head_dim); the VAE passes in_channels. */
  attentionHeadDim?: number;
  outputScaleFactor?: number;
}

export class UNetMidBlock2D extends Module {
  readonly resnets: readonly ResnetBlock2D[];
  readonly attentions: readonly Attention[];

  constructor(vb: VarBuilder, o: UNetMidBlock2DOptions) {
    super(vb);
    const c = o.inChannels;
    const eps = o.resnetEps ?? 1e-6;
    const groups = o.resnetGroups ?? Math.min(Math.floor(c / 4), 32);
    const headDim = o.attentionHeadDim ?? c;
    const layers = Array.from({ length: o.numLayers ?? 1 }, (_, i) => i);
    const resnet = (i: number): ResnetBlock2D =>
      new ResnetBlock2D(vb.pp('resnets').pp(i), {
        inChannels: c,
        outChannels: c,
        eps,
        groups,
        nonLinearity: o.resnetActFn ?? 'swish',
        outputScaleFactor: o.outputScaleFactor ?? 1,
      });
    this.resnets = [0, ...layers.map((i) => i + 1)].map(resnet);
    this.attentions = layers.map(
      (i) =>
        new Attention(vb.pp('attentions').pp(i), {
          queryDim: c,
          heads: Math.floor(c / headDim),
          dimHead: headDim,
          rescaleOutputFactor: o.outputScaleFactor ?? 1,
          eps,
          normNumGroups: groups,
          residualConnection: true,
          bias: true,
        }),
    );
  }

  /** [N, C, H, W] -> [N, C, H, W] */
  forward(ctx: BuildContext, hiddenStates: Value): Value {
    let h = this.resnets[0]!.forward(ctx, hiddenStates); // [N, C, H, W]
    this.attentions.forEach((attn, i) => {
      h = attn.forwardSpatial(ctx, h); // [N, C, H, W]
      h = this.resnets[i + 1]!.forward(ctx, h); // [N, C, H, W]
    });
    return h;
  }
}

export interface UpDecoderBlock2DOptions {
  inChannels: number;
  outChannels: number;
  numLayers?: number;
  resnetEps?: number;
  resnetActFn?: string;
  resnetGroups?: number;
  outputScaleFactor?: number;
  addUpsample?: boolean;
}

export class UpDecoderBlock2D extends Module {
  readonly resnets: readonly ResnetBlock2D[];
  readonly upsamplers: readonly Upsample2D[] | undefined;

  constructor(vb: VarBuilder, o: UpDecoderBlock2DOptions) {
    super(vb);
    this.resnets = Array.from(
      { length: o.numLayers ?? 1 },
      (_, i) =>
        new ResnetBlock2D(vb.pp('resnets').pp(i), {
          inChannels: i === 0 ? o.inChannels : o.outChannels,
          outChannels: o.outChannels,
          eps: o.resnetEps ?? 1e-6,
          groups: o.resnetGroups ?? 32,
          nonLinearity: o.resnetActFn ?? 'swish',
          outputScaleFactor: o.outputScaleFactor ?? 1,
        }),
    );
    this.upsamplers = o.addUpsample ?? true ? [new Upsample2D(vb.pp('upsamplers').pp(0), o.outChannels, o.outChannels)] : undefined;
  }

  /** [N, in, H, W] -> [N, out, 2H, 2W] (or [N, out, H, W] without upsampler) */
  forward(ctx: BuildContext, hiddenStates: Value): Value {
    let h = hiddenStates;
    for (const resnet of this.resnets) h = resnet.forward(ctx, h); // [N, out, H, W]
    for (const upsampler of this.upsamplers ?? []) h = upsampler.forward(ctx, h); // [N, out, 2H, 2W]
    return h;
  }
}
