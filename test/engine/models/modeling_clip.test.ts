// CLIPTextModel against the transformers goldens (test/fixtures/goldens/text_encoder, README section 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { buildTextEncoderGraph, CLIP_IGNORED_KEY_PREFIXES, parseCLIPTextConfig } from '../../../src/engine/models/clip/modeling_clip.js';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.js';
import { SafetensorsWeights, VarBuilder } from '../../../src/engine/weights/var_builder.js';
import { i64, maxAbsDiff, runGraph } from '../graph-helpers.js';

const DIR = 'test/fixtures/goldens/text_encoder';
const config = parseCLIPTextConfig(JSON.parse(await readFile(`${DIR}/config.json`, 'utf8')));

async function encode(dtype: 'float32' | 'float16', ids: BigInt64Array, dims: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const weights = await SafetensorsWeights.open([`${DIR}/model.safetensors`]);
  try {
    const vb = VarBuilder.from(weights);
    const { graph } = buildTextEncoderGraph(vb, config, { dtype });
    vb.check({ ignoreUnusedPrefixes: CLIP_IGNORED_KEY_PREFIXES });
    const out = (await runGraph(graph, { input_ids: i64(ids, dims) })).last_hidden_state!;
    return { data: out.data as Float32Array, dims: out.dims };
  } finally {
    await weights.close();
  }
}

const golden = await SafetensorsFile.open(`${DIR}/case_encode.safetensors`);
const ids = await golden.readInt64('input_ids');
const expected = await golden.readFloat32('last_hidden_state');
await golden.close();

test('CLIPTextModel fp32 last_hidden_state matches transformers (causal mask only, gelu)', async () => {
  const out = await encode('float32', ids, [4, 77]);
  assert.deepEqual(out.dims, [4, 77, 32]);
  const err = maxAbsDiff(out.data, expected);
  assert.ok(err <= 1e-4, `max abs error ${err}`);
});

test('CLIPTextModel fp16 on the CPU EP stays within 1% of the output range', async () => {
  const out = await encode('float16', ids, [4, 77]);
  const absMax = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const err = maxAbsDiff(out.data, expected);
  assert.ok(err <= 1e-2 * absMax, `max abs error ${err}`);
});

test('CLIPTextModel accepts sequences shorter than max_position_embeddings', async () => {
  // The causal mask makes the first k positions independent of later tokens: encoding the first 10 ids alone
  // must give the first 10 rows of the full encoding.
  const short = BigInt64Array.from(ids.subarray(0, 10));
  const out = await encode('float32', short, [1, 10]);
  assert.deepEqual(out.dims, [1, 10, 32]);
  const err = maxAbsDiff(out.data, expected.subarray(0, 10 * 32));
  assert.ok(err <= 1e-5, `max abs error ${err}`);
});
