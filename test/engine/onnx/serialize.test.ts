// writeModel: weights inside the protobuf or in a page-aligned external data file, with the same results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../../../src/engine/onnx/graph_builder.js';
import { decodeModel } from '../../../src/engine/onnx/proto.js';
import { writeModel } from '../../../src/engine/onnx/serialize.js';
import { createSession } from '../../../src/engine/onnx/session.js';
import { f32 } from '../graph-helpers.js';

const dir = await mkdtemp(join(tmpdir(), 't2v-serialize-'));
test.after(() => rm(dir, { recursive: true, force: true }));

/** y = x W^T + b with a 64x64 weight (16 KB: external) and a 64-value bias (256 B: always inline), in `dtype`. */
function linearGraph(dtype: 'float32' | 'float16'): GraphBuilder {
  const g = new GraphBuilder('linear');
  const o = g.at('layer');
  const x = g.input('x', 'float32', ['rows', 64]);
  const w = g.weight('layer.weight', dtype, [64, 64], async () => Float32Array.from({ length: 4096 }, (_, i) => ((i % 17) - 8) / 64), ['layer.weight']);
  const b = g.weight('layer.bias', dtype, [64], async () => Float32Array.from({ length: 64 }, (_, i) => i / 128), ['layer.bias']);
  g.output(o.cast(o.gemmTransB(o.cast(x, dtype), w, b), 'float32'), 'y', ['rows', 64]);
  return g;
}

test('external data: page-aligned offsets, small tensors inline, same output as embedded weights', async () => {
  const external = await writeModel(linearGraph('float32'), join(dir, 'ext.onnx'), { externalData: true, metadata: { network: 'test' } });
  const embedded = await writeModel(linearGraph('float32'), join(dir, 'emb.onnx'), { externalData: false });
  assert.equal(external.dataPath, join(dir, 'ext.onnx.data'));
  assert.equal(embedded.dataPath, undefined);
  assert.equal(external.weightBytes, 4096 * 4 + 64 * 4);

  const model = decodeModel(await readFile(external.modelPath));
  assert.deepEqual(model.metadata_props, [{ key: 'network', value: 'test' }]);
  assert.deepEqual(model.opset_import, [{ version: 21 }, { domain: 'com.microsoft', version: 1 }]); // proto3 omits the empty default domain
  const [weight, bias] = model.graph.initializer;
  assert.deepEqual(weight!.external_data, [
    { key: 'location', value: 'ext.onnx.data' },
    { key: 'offset', value: '0' },
    { key: 'length', value: '16384' },
  ]);
  assert.deepEqual(bias!.external_data, []);
  assert.equal(bias!.raw_data!.length, 256);

  const x = f32(Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i)), [3, 64]);
  const outputs = [];
  for (const path of [external.modelPath, embedded.modelPath]) {
    const session = await createSession(path);
    outputs.push((await session.run({ x })).y!.data as Float32Array);
    await session.release();
  }
  assert.deepEqual(outputs[0], outputs[1]);
});

test('float16 initializers are written as half bits', async () => {
  const written = await writeModel(linearGraph('float16'), join(dir, 'half.onnx'), { externalData: false });
  assert.equal(written.weightBytes, 4096 * 2 + 64 * 2);
  const model = decodeModel(await readFile(written.modelPath));
  const bias = model.graph.initializer.find((t) => t.name === 'layer.bias')!;
  assert.equal(bias.data_type, 10);
  // bias[1] = 1/128 = 0x2000 in binary16.
  assert.equal(Buffer.from(bias.raw_data!).readUInt16LE(2), 0x2000);
});
