// A UNet3D config unlike the goldens' (other block order, channel counts, groups, head size that does not divide
// every width, cross-attention width, in/out channels, mid_block_scale_factor, mish activation) with seeded
// random weights, checked on properties that hold for any correct implementation of diffusers' semantics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as ort from 'onnxruntime-node';
import { buildUNet3DGraph, parseUNet3DConditionConfig, UNet3DConditionModel } from '../../../src/engine/models/unets/unet_3d_condition.js';
import { randomWeights } from '../../../src/engine/weights/random_weights.js';
import { VarBuilder } from '../../../src/engine/weights/var_builder.js';
import { f32, i64, maxAbsDiff, openGraph, wave } from '../graph-helpers.js';

const config = parseUNet3DConditionConfig({
  in_channels: 3,
  out_channels: 5,
  down_block_types: ['DownBlock3D', 'CrossAttnDownBlock3D', 'CrossAttnDownBlock3D'],
  up_block_types: ['CrossAttnUpBlock3D', 'CrossAttnUpBlock3D', 'UpBlock3D'],
  block_out_channels: [12, 24, 40],
  layers_per_block: 1,
  norm_num_groups: 4,
  cross_attention_dim: 20,
  attention_head_dim: 6,
  mid_block_scale_factor: 1.414,
  act_fn: 'mish',
});
const [IN, OUT, D] = [config.in_channels, config.out_channels, config.cross_attention_dim];


const vb = VarBuilder.placeholder(randomWeights(7));
const { graph } = buildUNet3DGraph(vb, config, { dtype: 'float32' });
const { session, dispose } = await openGraph(graph);
test.after(dispose);

async function unet(sample: Float32Array, dims: number[], timestep: bigint[], context: Float32Array, contextLength: number, s: ort.InferenceSession = session): Promise<Float32Array> {
  const out = await s.run({
    sample: f32(sample, dims),
    timestep: i64(BigInt64Array.from(timestep), [timestep.length]),
    encoder_hidden_states: f32(context, [dims[0]!, contextLength, D]),
  });
  assert.deepEqual(out.out_sample!.dims, [dims[0], OUT, ...dims.slice(2)]);
  return out.out_sample!.data as Float32Array;
}

test('the unseen config builds with the heads diffusers derives (width // attention_head_dim)', () => {
  const model = new UNet3DConditionModel(VarBuilder.placeholder(), config);
  const attn = model.down_blocks[2]!;
  assert.ok('attentions' in attn);
  // 40 channels with head size 6: 6 heads, inner width 36 (proj_in maps 40 -> 36).
  assert.equal(attn.attentions[0]!.transformer_blocks[0]!.attn1.heads, 6);
  assert.deepEqual(vb.usedKeys().get('down_blocks.2.attentions.0.proj_in.weight'), [36, 40]);
  assert.deepEqual(vb.usedKeys().get('transformer_in.proj_in.weight'), [48, 12]);
  assert.deepEqual(vb.usedKeys().get('down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight'), [24, 20]);
});

test('odd latent sizes come back at full size, deterministically', async () => {
  const dims = [1, IN, 3, 7, 10];
  const sample = wave(3 * 7 * 10 * IN, 1);
  const context = wave(5 * D, 2);
  const a = await unet(sample, dims, [999n], context, 5);
  const b = await unet(sample, dims, [999n], context, 5);
  assert.deepEqual(a, b);
  assert.ok(a.every(Number.isFinite));
});

test('videos in a batch are independent, and a [1] timestep broadcasts like a per-video one', async () => {
  const [F, H, W, L] = [4, 6, 8, 9];
  const per = IN * F * H * W;
  const s0 = wave(per, 3);
  const s1 = wave(per, 4);
  const c0 = wave(L * D, 5);
  const c1 = wave(L * D, 6);
  const both = await unet(Float32Array.from([...s0, ...s1]), [2, IN, F, H, W], [400n], Float32Array.from([...c0, ...c1]), L);
  const perVideoTimesteps = await unet(Float32Array.from([...s0, ...s1]), [2, IN, F, H, W], [400n, 400n], Float32Array.from([...c0, ...c1]), L);
  const first = await unet(s0, [1, IN, F, H, W], [400n], c0, L);
  const second = await unet(s1, [1, IN, F, H, W], [400n], c1, L);
  const outPer = OUT * F * H * W;
  assert.ok(maxAbsDiff(both.subarray(0, outPer), first) <= 1e-5);
  assert.ok(maxAbsDiff(both.subarray(outPer), second) <= 1e-5);
  assert.ok(maxAbsDiff(both, perVideoTimesteps) <= 1e-6);
});

test('frames of a video interact (temporal layers), images in a batch of 1-frame videos do not', async () => {
  const [F, H, W, L] = [3, 4, 4, 6];
  const sample = wave(IN * F * H * W, 8);
  const context = wave(L * D, 9);
  const base = await unet(sample, [1, IN, F, H, W], [10n], context, L);
  const changed = Float32Array.from(sample);
  // Zero frame 0 of every channel (layout [B, C, F, H, W]).
  for (let c = 0; c < IN; c++) changed.fill(0, c * F * H * W, c * F * H * W + H * W);
  const after = await unet(changed, [1, IN, F, H, W], [10n], context, L);
  let laterFramesChange = 0;
  for (let c = 0; c < OUT; c++) {
    const from = c * F * H * W + H * W;
    laterFramesChange = Math.max(laterFramesChange, maxAbsDiff(base.subarray(from, from + (F - 1) * H * W), after.subarray(from, from + (F - 1) * H * W)));
  }
  assert.ok(laterFramesChange > 1e-3, `frame 0 must influence frames 1..${F - 1}`);

  const images = await unet(sample.subarray(0, IN * H * W), [1, IN, 1, H, W], [10n], context, L);
  const imagesAgain = await unet(
    Float32Array.from([...sample.subarray(0, IN * H * W), ...wave(IN * H * W, 10)]),
    [2, IN, 1, H, W],
    [10n],
    Float32Array.from([...context, ...context]),
    L,
  );
  assert.ok(maxAbsDiff(images, imagesAgain.subarray(0, OUT * H * W)) <= 1e-5);
});

test('cross-attention: repeating every text token twice changes nothing', async () => {
  // softmax over duplicated keys gives each copy half the weight of the original: the same attention output.
  const [F, H, W, L] = [2, 4, 6, 5];
  const sample = wave(IN * F * H * W, 11);
  const context = wave(L * D, 12);
  const doubled = new Float32Array(2 * L * D);
  for (let t = 0; t < L; t++) for (const copy of [0, 1]) doubled.set(context.subarray(t * D, (t + 1) * D), (2 * t + copy) * D);
  const a = await unet(sample, [1, IN, F, H, W], [250n], context, L);
  const b = await unet(sample, [1, IN, F, H, W], [250n], doubled, 2 * L);
  assert.ok(maxAbsDiff(a, b) <= 1e-5);
  const other = await unet(sample, [1, IN, F, H, W], [250n], wave(L * D, 13), L);
  assert.ok(maxAbsDiff(a, other) > 1e-3, 'the text must matter');
});

test('the fp16 graph of the unseen config agrees with the fp32 one on the CPU EP', async () => {
  const half = buildUNet3DGraph(VarBuilder.placeholder(randomWeights(7)), config, { dtype: 'float16' });
  const fp16 = await openGraph(half.graph);
  try {
    const dims = [2, IN, 3, 8, 8];
    const sample = wave(2 * IN * 3 * 64, 14);
    const context = wave(2 * 7 * D, 15);
    const a = await unet(sample, dims, [600n], context, 7);
    const b = await unet(sample, dims, [600n], context, 7, fp16.session);
    const absMax = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(maxAbsDiff(a, b) <= 1e-2 * absMax, `fp16 error ${maxAbsDiff(a, b)} vs range ${absMax}`);
  } finally {
    await fp16.dispose();
  }
});
