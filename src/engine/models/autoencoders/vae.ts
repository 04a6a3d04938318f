// Mirrors diffusers src/diffusers/models/autoencoders/vae.py (diffusers==0.26.3): Decoder (norm_type "group").
import { activation } from '../../nn/activation.js';
import { Conv2d } from '../../nn/conv.js';
import { type BuildContext, Module } from '../../nn/module.js';
import { GroupNorm } from '../../nn/normalization.js';
import type { Value } from '../../onnx/graph_builder.js';
import type { VarBuilder } from '../../weights/var_builder.js';
import { UNetMidBlock2D, UpDecoderBlock2D } from '../unets/unet_2d_blocks.js';

export interface DecoderOptions {
  inChannels: number;
  outChannels: number;
  upBlockTypes: readonly string[];
  blockOutChannels: readonly number[];
  layersPerBlock: number;
  normNumGroups: number;
  actFn: string;
}

export class Decoder extends Module {
  readonly conv_in: Conv2d;
  readonly mid_block: UNetMidBlock2D;
  readonly up_blocks: readonly UpDecoderBlock2D[];
  readonly conv_norm_out: GroupNorm;
  readonly conv_out: Conv2d;
  private readonly actFn: string;

  constructor(vb: VarBuilder, o: DecoderOptions) {
    super(vb);
    const channels = o.blockOutChannels;
    const last = channels[channels.length - 1]!;
    this.actFn = o.actFn;
    this.conv_in = new Conv2d(vb.pp('conv_in'), o.inChannels, last, 3, { padding: 1 });
    this.mid_block = new UNetMidBlock2D(vb.pp('mid_block'), {
      inChannels: last,
      resnetEps: 1e-6,
      resnetActFn: o.actFn,
      outputScaleFactor: 1,
      attentionHeadDim: last,
      resnetGroups: o.normNumGroups,
    });
    const reversed = [...channels].reverse();
    let outputChannel = reversed[0]!;
    this.up_blocks = o.upBlockTypes.map((type, i) => {
      if (type !== 'UpDecoderBlock2D') throw new Error(`VAE up block type ${JSON.stringify(type)} is not supported (supported: UpDecoderBlock2D)`);
      const prevOutputChannel = outputChannel;
      outputChannel = reversed[i]!;
      return new UpDecoderBlock2D(vb.pp('up_blocks').pp(i), {
        numLayers: o.layersPerBlock + 1,
        inChannels: prevOutputChannel,
        outChannels: outputChannel,
        addUpsample: i !== channels.length - 1,
        resnetEps: 1e-6,
        resnetActFn: o.actFn,
        resnetGroups: o.normNumGroups,
      });
    });
    this.conv_norm_out = new GroupNorm(vb.pp('conv_norm_out'), o.normNumGroups, channels[0]!, 1e-6);
    this.conv_out = new Conv2d(vb.pp('conv_out'), channels[0]!, o.outChannels, 3, { padding: 1 });
  }

  /** z [N, latent, h, w] -> [N, out, h * 2^(blocks-1), w * 2^(blocks-1)] */
  forward(ctx: BuildContext, z: Value): Value {
    let h = this.conv_in.forward(ctx, z); // [N, Clast, h, w]
    h = this.mid_block.forward(ctx, h); // [N, Clast, h, w]
    for (const block of this.up_blocks) h = block.forward(ctx, h); // [N, Ci, 2h, 2w]
    h = activation(this.actFn)(ctx.ops(this.path).child('conv_act'), this.conv_norm_out.forward(ctx, h)); // [N, C0, H, W]
    return this.conv_out.forward(ctx, h); // [N, out, H, W]
  }
}
