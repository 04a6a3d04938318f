// Strict loading: every mismatch between a checkpoint and what the config implies fails with one
// WeightsMismatchError whose message names the first offender.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear } from '../../../src/engine/nn/linear.js';
import { encodeSafetensors, type SafetensorsDType } from '../../../src/engine/weights/safetensors.js';
import { SafetensorsWeights, VarBuilder, WeightsMismatchError } from '../../../src/engine/weights/var_builder.js';

const dir = await mkdtemp(join(tmpdir(), 't2v-varbuilder-'));
test.after(() => rm(dir, { recursive: true, force: true }));

type Spec = Record<string, { dtype?: SafetensorsDType; shape: number[] }>;

async function checkpoint(name: string, spec: Spec): Promise<SafetensorsWeights> {
  const tensors = Object.fromEntries(
    Object.entries(spec).map(([k, { dtype = 'F32', shape }]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = dtype === 'I64' ? new BigInt64Array(n) : dtype === 'F32' ? Float32Array.from({ length: n }, (_, i) => i) : new Uint16Array(n);
      return [k, { dtype, shape, data }];
    }),
  );
  const path = join(dir, `${name}.safetensors`);
  await writeFile(path, encodeSafetensors(tensors));
  return SafetensorsWeights.open([path]);
}

/** Two Linear layers under `block.0.` and `block.1.`, as a module tree would ask for them. */
function build(vb: VarBuilder): void {
  new Linear(vb.pp('block').pp(0).pp('proj'), 4, 3);
  new Linear(vb.pp('block').pp(1).pp('proj'), 3, 2, false);
}

const complete: Spec = {
  'block.0.proj.weight': { shape: [3, 4] },
  'block.0.proj.bias': { shape: [3] },
  'block.1.proj.weight': { shape: [2, 3] },
};

async function failure(spec: Spec, check?: Parameters<VarBuilder['check']>[0]): Promise<WeightsMismatchError> {
  const weights = await checkpoint(`c${Math.random().toString(36).slice(2)}`, spec);
  try {
    const vb = VarBuilder.from(weights);
    build(vb);
    try {
      vb.check(check);
    } catch (e) {
      assert.ok(e instanceof WeightsMismatchError);
      return e;
    }
    assert.fail('check() accepted a mismatched checkpoint');
  } finally {
    await weights.close();
  }
}

test('a complete checkpoint passes and its weights read through the scoped keys', async () => {
  const weights = await checkpoint('complete', complete);
  const vb = VarBuilder.from(weights);
  const ref = vb.pp('block').pp(0).pp('proj').get([3, 4], 'weight');
  build(vb);
  vb.check();
  assert.equal(ref.key, 'block.0.proj.weight');
  assert.deepEqual([...(await ref.read())], Array.from({ length: 12 }, (_, i) => i));
  assert.deepEqual([...vb.usedKeys().keys()], ['block.0.proj.weight', 'block.0.proj.bias', 'block.1.proj.weight']);
  await weights.close();
});

test('a missing tensor is named with the shape the config implies', async () => {
  const { 'block.0.proj.bias': _, ...spec } = complete;
  const e = await failure(spec);
  assert.match(e.message, /missing tensor block\.0\.proj\.bias \(expected shape \[3\]\)/);
  assert.deepEqual(e.missing, ['block.0.proj.bias']);
});

test('a wrong shape names the tensor, its shape and the expected one', async () => {
  const e = await failure({ ...complete, 'block.1.proj.weight': { shape: [3, 2] } });
  assert.match(e.message, /tensor block\.1\.proj\.weight has shape \[3,2\], expected \[2,3\]/);
  assert.deepEqual(e.shapeMismatch, [{ key: 'block.1.proj.weight', expected: [2, 3], actual: [3, 2] }]);
});

test('a non-float dtype is refused; F16 and BF16 are accepted', async () => {
  const e = await failure({ ...complete, 'block.0.proj.weight': { dtype: 'I64', shape: [3, 4] } });
  assert.match(e.message, /tensor block\.0\.proj\.weight has dtype I64, expected one of F32, F16, BF16/);
  const weights = await checkpoint('halves', { ...complete, 'block.0.proj.weight': { dtype: 'F16', shape: [3, 4] }, 'block.0.proj.bias': { dtype: 'BF16', shape: [3] } });
  const vb = VarBuilder.from(weights);
  build(vb);
  vb.check();
  await weights.close();
});

test('the first offender in request order is named, with counts of all problems', async () => {
  const { 'block.1.proj.weight': _, ...spec } = complete;
  const e = await failure({ ...spec, 'block.0.proj.weight': { shape: [4, 3] }, 'block.2.extra': { shape: [1] } });
  assert.match(e.message, /tensor block\.0\.proj\.weight has shape \[4,3\]/);
  assert.match(e.message, /1 missing, 1 with the wrong shape, 1 unexpected/);
  assert.deepEqual(e.unexpected, ['block.2.extra']);
});

test('unexpected tensors fail unless under an ignored prefix', async () => {
  const e = await failure({ ...complete, 'encoder.conv.weight': { shape: [1] } });
  assert.match(e.message, /unexpected tensor encoder\.conv\.weight/);
  const weights = await checkpoint('extra', { ...complete, 'encoder.conv.weight': { shape: [1] } });
  const vb = VarBuilder.from(weights);
  build(vb);
  vb.check({ ignoreUnusedPrefixes: ['encoder.'] });
  await weights.close();
});

test('placeholder builders record keys without data; asking one key with two shapes is a bug', async () => {
  const vb = VarBuilder.placeholder();
  build(vb);
  vb.check();
  const ref = vb.get([2], 'x');
  await assert.rejects(ref.read(), /placeholder weight x has no data/);
  assert.throws(() => vb.get([3], 'x'), /asked for x with shapes \[2\] and \[3\]/);
});
