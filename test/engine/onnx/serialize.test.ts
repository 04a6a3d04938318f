// writeModel: weights inside the protobuf or in external data files (split at a size limit), with the same results;
// createSession reads them into memory, so the files can change under a live session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../../../src/engine/onnx/graph_builder.js';
import { decodeModel } from '../../../src/engine/onnx/proto.js';
import { writeModel } from '../../../src/engine/onnx/serialize.js';
import { createSession } from '../../../src/engine/onnx/session.js';
import { f32, i64 } from '../graph-helpers.js';

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

test('external data: small tensors inline, same output as embedded weights', async () => {
  const external = await writeModel(linearGraph('float32'), join(dir, 'ext.onnx'), { externalData: true, metadata: { network: 'test' } });
  const embedded = await writeModel(linearGraph('float32'), join(dir, 'emb.onnx'), { externalData: false });
  assert.deepEqual(external.dataPaths, [join(dir, 'ext.onnx.data')]);
  assert.deepEqual(embedded.dataPaths, []);
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

/** Two 64x64 layers (16 KB of weights each). */
function twoLayerGraph(): GraphBuilder {
  const g = new GraphBuilder('two_layers');
  let y = g.input('x', 'float32', ['rows', 64]);
  for (const name of ['first', 'second']) {
    const w = g.weight(`${name}.weight`, 'float32', [64, 64], async () => Float32Array.from({ length: 4096 }, (_, i) => Math.cos(i + name.length) / 8), [`${name}.weight`]);
    y = g.at(name).gemmTransB(y, w, undefined);
  }
  g.output(y, 'y', ['rows', 64]);
  return g;
}

test('weights past the file size limit go to further data files, and the session reads them all', async () => {
  const split = await writeModel(twoLayerGraph(), join(dir, 'split.onnx'), { maxDataFileBytes: 20_000 });
  const whole = await writeModel(twoLayerGraph(), join(dir, 'whole.onnx'));
  assert.deepEqual(split.dataPaths, [join(dir, 'split.onnx.data'), join(dir, 'split.onnx.data.1')]);
  const locations = decodeModel(await readFile(split.modelPath)).graph.initializer.map((t) => t.external_data!.map((e) => e.value));
  assert.deepEqual(locations, [
    ['split.onnx.data', '0', '16384'],
    ['split.onnx.data.1', '0', '16384'],
  ]);
  const x = f32(Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i)), [2, 64]);
  const outputs = [];
  for (const path of [split.modelPath, whole.modelPath]) {
    const session = await createSession(path);
    outputs.push((await session.run({ x })).y!.data as Float32Array);
    await session.release();
  }
  assert.deepEqual(outputs[0], outputs[1]);
});

/** An embedding lookup: ONNX Runtime reads a Gather's table where it lies, with no copy of its own. */
function embeddingGraph(): GraphBuilder {
  const g = new GraphBuilder('embedding');
  const ids = g.input('ids', 'int64', ['count']);
  const table = g.weight('table', 'float32', [256, 64], async () => Float32Array.from({ length: 256 * 64 }, (_, i) => Math.sin(i)), ['table']);
  g.output(g.at('embedding').gather(table, ids), 'y', ['count', 64]);
  return g;
}

test('a session keeps its weights when the data file is truncated under it (a memory-mapped file raised SIGBUS)', async () => {
  const written = await writeModel(embeddingGraph(), join(dir, 'truncated.onnx'));
  const session = await createSession(written.modelPath);
  const ids = i64(BigInt64Array.from([255n, 0n, 128n]), [3]);
  const before = (await session.run({ ids })).y!.data as Float32Array;
  await truncate(written.dataPaths[0]!, 0);
  assert.deepEqual((await session.run({ ids })).y!.data, before);
  await session.release();
});
