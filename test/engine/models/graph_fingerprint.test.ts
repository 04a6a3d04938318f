// Cached graphs are keyed by GRAPH_BUILDER_VERSION: a change to how graphs are built must bump it, or users keep
// running stale graphs. This test fingerprints the graphs built for the golden configs (nodes, attributes,
// inputs/outputs, initializer names/types/shapes, inline constants; not weight values) and fails when the
// fingerprint recorded for the current version no longer matches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buildNetworkGraph, GRAPH_BUILDER_VERSION, type ModelConfigs, type NetworkName, readComponentConfig } from '../../../src/engine/models/model_graphs.js';
import type { GraphBuilder } from '../../../src/engine/onnx/graph_builder.js';
import { VarBuilder } from '../../../src/engine/weights/var_builder.js';

/** The fingerprint of GRAPH_BUILDER_VERSION's graphs; update both together. */
const RECORDED = { version: 2, fingerprint: '11d64be423557e0feed48b3b9fa569c44a6ece55d8c347a27ecb112b3ca40aa6' };

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
  const configs: ModelConfigs = {
    text_encoder: await readComponentConfig(dir, 'text_encoder'),
    unet: await readComponentConfig(dir, 'unet'),
    vae: await readComponentConfig(dir, 'vae'),
  };
  const hash = createHash('sha256');
  for (const network of ['text_encoder', 'unet', 'vae_decoder'] as NetworkName[]) {
    for (const dtype of ['float32', 'float16'] as const) hash.update(fingerprint(buildNetworkGraph(network, VarBuilder.placeholder(), configs, dtype)));
  }
  const current = hash.digest('hex');
  assert.equal(GRAPH_BUILDER_VERSION, RECORDED.version, 'GRAPH_BUILDER_VERSION changed: record the new fingerprint in this test');
  assert.equal(current, RECORDED.fingerprint, 'the graphs changed: bump GRAPH_BUILDER_VERSION (src/engine/models/model_graphs.ts) and record this fingerprint with it');
});
