// Cached graphs are keyed by GRAPH_BUILDER_VERSION: a change to how graphs are built must bump it, or users keep
// running stale graphs. This test fingerprints the graphs built for the golden configs (nodes, attributes,
// inputs/outputs, initializer names/types/shapes, inline constants; not weight values) and fails when the
// fingerprint recorded for the current version no longer matches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { GRAPH_BUILDER_VERSION, NETWORK_RECIPES, readComponentConfig } from '../../../src/engine/models/model_graphs.js';
import type { GraphBuilder } from '../../../src/engine/onnx/graph_builder.js';
import { VarBuilder } from '../../../src/engine/weights/var_builder.js';

/** The fingerprint of GRAPH_BUILDER_VERSION's graphs; update both together. */
const RECORDED = { version: 4, fingerprint: '4a61df9f216d9e2fa5956a455422333364de2e0d9324672043dbd5e6b1b6ee8c' };

function fingerprint(graph: GraphBuilder): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ inputs: graph.inputs, outputs: graph.outputs }));
  for (const n of graph.nodes) {
    hash.update(JSON.stringify([n.name, n.opType, n.domain, n.inputs, n.outputs]));
    for (const a of n.attributes) hash.update(JSON.stringify({ ...a, s: a.s && Buffer.from(a.s).toString() }));
  }
  for (const init of graph.initializers.values()) {
    hash.update(JSON.stringify([init.name, init.dtype, init.dims, init.data.kind]));
    if (init.data.kind === 'inline') hash.update(new Uint8Array(init.data.data.buffer, init.data.data.byteOffset, init.data.data.byteLength));
  }
  return hash.digest('hex');
}

test('graphs are unchanged since GRAPH_BUILDER_VERSION was last bumped', async () => {
  const dir = 'test/fixtures/goldens';
  const { text_encoder: clip, unet, vae_decoder: vae } = NETWORK_RECIPES;
  const hash = createHash('sha256');
  for (const dtype of ['float32', 'float16'] as const) {
    hash.update(fingerprint(clip.build(VarBuilder.placeholder(), await readComponentConfig(dir, 'text_encoder'), dtype)));
    hash.update(fingerprint(unet.build(VarBuilder.placeholder(), await readComponentConfig(dir, 'unet'), dtype)));
    hash.update(fingerprint(vae.build(VarBuilder.placeholder(), await readComponentConfig(dir, 'vae'), dtype)));
  }
  const current = hash.digest('hex');
  assert.equal(GRAPH_BUILDER_VERSION, RECORDED.version, 'GRAPH_BUILDER_VERSION changed: record the new fingerprint in this test');
  assert.equal(current, RECORDED.fingerprint, 'the graphs changed: bump GRAPH_BUILDER_VERSION (src/engine/models/model_graphs.ts) and record this fingerprint with it');
});
