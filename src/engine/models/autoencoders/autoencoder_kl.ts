// Mirrors diffusers src/diffusers/models/autoencoders/autoencoder_kl.py (diffusers==0.26.3): AutoencoderKL's
// decode path (post_quant_conv + Decoder), plus `buildVaeDecoderGraph`. The encoder and quant_conv are not built.
import { z } from 'zod';
import { DIFFUSERS_ACTIVATIONS } from '../../nn/activation.js';
import { Conv2d } from '../../nn/conv.js';
import { BuildContext, type FloatType, Module } from '../../nn/module.js';
import { GraphBuilder, type Value } from '../../onnx/graph_builder.js';
import type { VarBuilder } from '../../weights/var_builder.js';
import { parseModelConfig, positiveInt } from '../model_config.js';
import { Decoder } from './vae.js';

/** config.json keys of AutoencoderKL with diffusers' defaults. */
export const AutoencoderKLConfigSchema = z
  .object({
    in_channels: positiveInt().default(3),
    out_channels: positiveInt().default(3),
    down_block_types: z.array(z.literal('DownEncoderBlock2D')).min(1).default(['DownEncoderBlock2D']),
    up_block_types: z.array(z.literal('UpDecoderBlock2D')).min(1).default(['UpDecoderBlock2D']),
    block_out_channels: z.array(positiveInt()).min(1).default([64]),
    layers_per_block: positiveInt().default(1),
    act_fn: z.enum(DIFFUSERS_ACTIVATIONS).default('silu'),
    latent_channels: positiveInt().default(4),
    norm_num_groups: positiveInt().default(32),
    sample_size: positiveInt().default(32),
    scaling_factor: z.number().positive().default(0.18215),
    force_upcast: z.boolean().default(true),
  })
  .superRefine((c, ctx) => {
    if (c.up_block_types.length !== c.block_out_channels.length) {
      ctx.addIssue({ code: 'custom', path: ['up_block_types'], message: `must have as many entries as block_out_channels (${c.block_out_channels.length})` });
    }
  });

export type AutoencoderKLConfig = z.output<typeof AutoencoderKLConfigSchema>;

export function parseAutoencoderKLConfig(json: unknown, source = 'vae/config.json'): AutoencoderKLConfig {
  return parseModelConfig(AutoencoderKLConfigSchema, json, source);
}

/** Checkpoint keys of the encoder side, which decoding never reads. */
export const VAE_ENCODER_KEY_PREFIXES = ['encoder.', 'quant_conv.'] as const;

export class AutoencoderKL extends Module {
  readonly post_quant_conv: Conv2d;
  readonly decoder: Decoder;

  constructor(
    vb: VarBuilder,
    readonly config: AutoencoderKLConfig,
  ) {
    super(vb);
    const c = config;
    this.post_quant_conv = new Conv2d(vb.pp('post_quant_conv'), c.latent_channels, c.latent_channels, 1);
    this.decoder = new Decoder(vb.pp('decoder'), {
      inChannels: c.latent_channels,
      outChannels: c.out_channels,
      upBlockTypes: c.up_block_types,
      blockOutChannels: c.block_out_channels,
      layersPerBlock: c.layers_per_block,
      normNumGroups: c.norm_num_groups,
      actFn: c.act_fn,
    });
  }

  /** `decode(z).sample`: z [N, latent, h, w] (latents already divided by scaling_factor) -> [N, out, 8h, 8w]. */
  decode(ctx: BuildContext, z: Value): Value {
    const h = this.post_quant_conv.forward(ctx, z); // [N, latent, h, w]
    return this.decoder.forward(ctx, h); // [N, out, H, W]
  }
}

/**
 * A standalone VAE decoder graph: input `latent_sample` float32 [batch, latent_channels, latent_height,
 * latent_width] (latents / scaling_factor), output `sample` float32 [batch, out_channels, height, width].
 */
export function buildVaeDecoderGraph(vb: VarBuilder, config: AutoencoderKLConfig, options: { dtype: FloatType }): { graph: GraphBuilder; model: AutoencoderKL } {
  const model = new AutoencoderKL(vb, config);
  const graph = new GraphBuilder('AutoencoderKLDecoder');
  const ctx = new BuildContext(graph, options.dtype);
  const o = ctx.ops('');
  const z = graph.input('latent_sample', 'float32', ['batch', config.latent_channels, 'latent_height', 'latent_width']);
  const image = model.decode(ctx, o.cast(z, options.dtype, 'latent_sample_cast'));
  graph.output(o.cast(image, 'float32', 'sample_cast'), 'sample', ['batch', config.out_channels, 'height', 'width']);
  return { graph, model };
}
