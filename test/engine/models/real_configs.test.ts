// The text-to-video-ms-1.7b configs (test/fixtures/goldens/real) built with placeholder weights, never loaded or
// run: the graphs must ask for exactly diffusers' / transformers' parameter tensors (names and shapes) and have
// the documented input/output signatures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { buildVaeDecoderGraph, parseAutoencoderKLConfig, VAE_ENCODER_KEY_PREFIXES } from '../../../src/engine/models/autoencoders/autoencoder_kl.js';
import { buildTextEncoderGraph, parseCLIPTextConfig } from '../../../src/engine/models/clip/modeling_clip.js';
import { buildUNet3DGraph, parseUNet3DConditionConfig } from '../../../src/engine/models/unets/unet_3d_condition.js';
import type { GraphBuilder } from '../../../src/engine/onnx/graph_builder.js';
import { VarBuilder } from '../../../src/engine/weights/var_builder.js';

const DIR = 'test/fixtures/goldens/real';

async function readJson(name: string): Promise<unknown> {
  return JSON.parse(await readFile(`${DIR}/${name}`, 'utf8'));
}

async function reference(name: string): Promise<{ count: number; params: Map<string, number[]> }> {
  const j = (await readJson(name)) as { count: number; params: Record<string, number[]> };
  return { count: j.count, params: new Map(Object.entries(j.params)) };
}

function paramCount(params: ReadonlyMap<string, readonly number[]>): number {
  let n = 0;
  for (const shape of params.values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Every checkpoint weight the modules asked for is an initializer source of the graph, and nothing else is. */
function assertGraphUsesExactly(graph: GraphBuilder, used: ReadonlyMap<string, readonly number[]>): void {
  const sources = new Set<string>();
  for (const init of graph.initializers.values()) if (init.data.kind === 'lazy') for (const k of init.data.sourceKeys) sources.add(k);
  assert.deepEqual([...sources].sort(), [...used.keys()].sort());
}

function signature(graph: GraphBuilder): unknown {
  return {
    inputs: graph.inputs.map((i) => [i.name, i.dtype, i.dims]),
    outputs: graph.outputs.map((o) => [o.name, o.dtype, o.dims]),
  };
}

test('real UNet3D: exactly the 1480 diffusers parameters (1,411,233,860 values) and its signature', async () => {
  const ref = await reference('unet.params.json');
  const vb = VarBuilder.placeholder();
  const { graph } = buildUNet3DGraph(vb, parseUNet3DConditionConfig(await readJson('unet.config.json')), { dtype: 'float16' });
  const used = vb.usedKeys();
  assert.equal(used.size, 1480);
  assert.deepEqual(new Map([...used].sort()), new Map([...ref.params].sort()));
  assert.equal(paramCount(used), 1_411_233_860);
  assert.equal(paramCount(used), ref.count);
  assertGraphUsesExactly(graph, used);
  assert.deepEqual(signature(graph), {
    inputs: [
      ['sample', 'float32', ['batch', 4, 'frames', 'height', 'width']],
      ['timestep', 'int64', ['timestep_batch']],
      ['encoder_hidden_states', 'float32', ['batch', 'sequence', 1024]],
    ],
    outputs: [['out_sample', 'float32', ['batch', 4, 'frames', 'height', 'width']]],
  });
});

test('real CLIP text encoder: exactly the 372 transformers parameters and its signature', async () => {
  const ref = await reference('text_encoder.params.json');
  const vb = VarBuilder.placeholder();
  const { graph } = buildTextEncoderGraph(vb, parseCLIPTextConfig(await readJson('text_encoder.config.json')), { dtype: 'float32' });
  const used = vb.usedKeys();
  assert.equal(used.size, 372);
  assert.deepEqual(new Map([...used].sort()), new Map([...ref.params].sort()));
  assert.equal(paramCount(used), ref.count);
  assertGraphUsesExactly(graph, used);
  assert.deepEqual(signature(graph), {
    inputs: [['input_ids', 'int64', ['batch', 'sequence']]],
    outputs: [['last_hidden_state', 'float32', ['batch', 'sequence', 1024]]],
  });
});

test('real VAE: the decoder side of the 248 diffusers parameters; only encoder tensors are left', async () => {
  const ref = await reference('vae.params.json');
  assert.equal(ref.params.size, 248);
  const vb = VarBuilder.placeholder();
  const { graph } = buildVaeDecoderGraph(vb, parseAutoencoderKLConfig(await readJson('vae.config.json')), { dtype: 'float32' });
  const used = vb.usedKeys();
  for (const [key, shape] of used) assert.deepEqual(ref.params.get(key), shape, `${key} is a diffusers parameter of that shape`);
  const left = [...ref.params.keys()].filter((k) => !used.has(k));
  assert.ok(left.length > 0);
  for (const key of left) assert.ok(VAE_ENCODER_KEY_PREFIXES.some((p) => key.startsWith(p)), `${key} is not built but is not an encoder tensor`);
  assert.equal(used.size + left.length, 248);
  assertGraphUsesExactly(graph, used);
  assert.deepEqual(signature(graph), {
    inputs: [['latent_sample', 'float32', ['batch', 4, 'latent_height', 'latent_width']]],
    outputs: [['sample', 'float32', ['batch', 3, 'height', 'width']]],
  });
});
