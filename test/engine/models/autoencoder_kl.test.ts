// AutoencoderKL decoder against the diffusers goldens (test/fixtures/goldens/vae, README section 4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { buildVaeDecoderGraph, parseAutoencoderKLConfig, VAE_ENCODER_KEY_PREFIXES } from '../../../src/engine/models/autoencoders/autoencoder_kl.js';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.js';
import { SafetensorsWeights, VarBuilder } from '../../../src/engine/weights/var_builder.js';
import { f32, maxAbsDiff, runGraph } from '../graph-helpers.js';

const DIR = 'test/fixtures/goldens/vae';
const config = parseAutoencoderKLConfig(JSON.parse(await readFile(`${DIR}/config.json`, 'utf8')));
const golden = await SafetensorsFile.open(`${DIR}/case_decode.safetensors`);
const latents = await golden.readFloat32('latents');
const expected = await golden.readFloat32('image');
await golden.close();
const absMax = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

async function decode(dtype: 'float32' | 'float16'): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const weights = await SafetensorsWeights.open([`${DIR}/diffusion_pytorch_model.safetensors`]);
  try {
    const vb = VarBuilder.from(weights);
    const { graph } = buildVaeDecoderGraph(vb, config, { dtype });
    vb.check({ ignoreUnusedPrefixes: VAE_ENCODER_KEY_PREFIXES });
    // As the pipeline does: z = latents / scaling_factor, in float32.
    const z = latents.map((v) => v / config.scaling_factor);
    const out = (await runGraph(graph, { latent_sample: f32(z, [5, 4, 8, 12]) })).sample!;
    return { data: out.data as Float32Array, dims: out.dims };
  } finally {
    await weights.close();
  }
}

test('VAE decoder fp32 matches diffusers vae.decode(latents / scaling_factor)', async () => {
  const out = await decode('float32');
  assert.deepEqual(out.dims, [5, 3, 64, 96]);
  const err = maxAbsDiff(out.data, expected);
  assert.ok(err <= 1e-4, `max abs error ${err}`);
});

test('VAE decoder fp16 on the CPU EP stays within 1% of the output range', async () => {
  const out = await decode('float16');
  const err = maxAbsDiff(out.data, expected);
  assert.ok(err <= 1e-2 * absMax, `max abs error ${err}`);
});
