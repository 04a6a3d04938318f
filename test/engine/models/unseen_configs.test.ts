// VAE decoder and CLIP text encoder configs unlike the goldens', with seeded random weights, checked on
// properties any correct implementation has (shapes, per-sample independence, causality).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildVaeDecoderGraph, parseAutoencoderKLConfig } from '../../../src/engine/models/autoencoders/autoencoder_kl.js';
import { buildTextEncoderGraph, parseCLIPTextConfig } from '../../../src/engine/models/clip/modeling_clip.js';
import { randomWeights } from '../../../src/engine/weights/random_weights.js';
import { VarBuilder } from '../../../src/engine/weights/var_builder.js';
import { f32, i64, maxAbsDiff, openGraph, wave } from '../graph-helpers.js';

test('VAE decoder with 2 blocks, 3 latent channels, 2 output channels, 8 groups, 1 layer per block', async () => {
  const config = parseAutoencoderKLConfig({
    in_channels: 2,
    out_channels: 2,
    down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
    up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'],
    block_out_channels: [16, 24],
    layers_per_block: 1,
    latent_channels: 3,
    norm_num_groups: 8,
  });
  const vb = VarBuilder.placeholder(randomWeights(3));
  const { graph } = buildVaeDecoderGraph(vb, config, { dtype: 'float32' });
  // One upsampler per block but the last; each up block has layers_per_block + 1 resnets.
  assert.ok(vb.usedKeys().has('decoder.up_blocks.0.upsamplers.0.conv.weight'));
  assert.ok(!vb.usedKeys().has('decoder.up_blocks.1.upsamplers.0.conv.weight'));
  assert.deepEqual(vb.usedKeys().get('decoder.up_blocks.1.resnets.1.conv1.weight'), [16, 16, 3, 3]);
  assert.deepEqual(vb.usedKeys().get('decoder.up_blocks.1.resnets.0.conv_shortcut.weight'), [16, 24, 1, 1]);
  const { session, dispose } = await openGraph(graph);
  try {
    const a = wave(3 * 5 * 7, 1);
    const b = wave(3 * 5 * 7, 2);
    const both = await session.run({ latent_sample: f32(Float32Array.from([...a, ...b]), [2, 3, 5, 7]) });
    assert.deepEqual(both.sample!.dims, [2, 2, 10, 14]);
    const single = await session.run({ latent_sample: f32(b, [1, 3, 5, 7]) });
    assert.ok(maxAbsDiff((both.sample!.data as Float32Array).subarray(2 * 10 * 14), single.sample!.data as Float32Array) <= 1e-5);
  } finally {
    await dispose();
  }
});

test('CLIP text encoder with quick_gelu, 3 layers, 6 heads: causal and per-sequence', async () => {
  const config = parseCLIPTextConfig({ vocab_size: 1000, hidden_size: 48, intermediate_size: 96, num_hidden_layers: 3, num_attention_heads: 6, max_position_embeddings: 20 });
  assert.equal(config.hidden_act, 'quick_gelu');
  const { graph } = buildTextEncoderGraph(VarBuilder.placeholder(randomWeights(4)), config, { dtype: 'float32' });
  const { session, dispose } = await openGraph(graph);
  try {
    const ids = BigInt64Array.from({ length: 2 * 20 }, (_, i) => BigInt((i * 37) % 1000));
    const full = (await session.run({ input_ids: i64(ids, [2, 20]) })).last_hidden_state!;
    assert.deepEqual(full.dims, [2, 20, 48]);
    const data = full.data as Float32Array;
    // The second sequence alone, cut to 12 tokens: the same first 12 rows (causal mask, no cross-batch mixing).
    const prefix = (await session.run({ input_ids: i64(ids.slice(20, 32), [1, 12]) })).last_hidden_state!.data as Float32Array;
    assert.ok(maxAbsDiff(prefix, data.subarray(20 * 48, 32 * 48)) <= 1e-5);
    // A later token changes later rows only.
    const changed = BigInt64Array.from(ids.slice(0, 20));
    changed[15] = 999n;
    const after = (await session.run({ input_ids: i64(changed, [1, 20]) })).last_hidden_state!.data as Float32Array;
    assert.ok(maxAbsDiff(after.subarray(0, 15 * 48), data.subarray(0, 15 * 48)) <= 1e-5);
    assert.ok(maxAbsDiff(after.subarray(15 * 48, 20 * 48), data.subarray(15 * 48, 20 * 48)) > 1e-3);
  } finally {
    await dispose();
  }
});
