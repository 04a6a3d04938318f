import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from '../../src/engine/utils/generator.js';
import { MT19937 } from '../../src/engine/utils/mt19937.js';
import { randnTensor } from '../../src/engine/utils/torch_utils.js';
import { fmaf } from '../../src/engine/utils/float32.js';
import { SafetensorsFile } from '../../src/engine/weights/safetensors.js';
import { latentsSeed, readPipelineCases } from './goldens.js';

/** Asserts agreement with a printout of torch.randn (4 decimals, so within 5e-5). */
function assertPrinted(actual: Float32Array, printed: number[]): void {
  assert.equal(actual.length, printed.length);
  printed.forEach((value, i) => assert.ok(Math.abs((actual[i] as number) - value) <= 5e-5, `element ${i}: ${actual[i]} vs printed ${value}`));
}

test('MT19937 matches the reference generator (std::mt19937, seed 5489: 10000th output 4123659995)', () => {
  const mt = new MT19937(5489);
  let value = 0;
  for (let i = 0; i < 10000; i++) value = mt.nextUint32();
  assert.equal(value, 4123659995);
});

test('fewer than 16 elements: the scalar float64 path (torch.manual_seed(0); torch.randn(3))', () => {
  assertPrinted(randnTensor([3], new Generator(0)), [1.541, -0.2934, -2.1788]);
  assertPrinted(randnTensor([2, 3], new Generator(42)), [0.3367, 0.1288, 0.2345, 0.2303, -1.1229, -0.1863]);
});

test('the cached second Box-Muller value carries over to the next call and manualSeed clears it', () => {
  const generator = new Generator(0);
  const first = randnTensor([1], generator);
  const second = randnTensor([1], generator);
  assert.deepEqual([...first, ...second], [...randnTensor([2], new Generator(0))]);
  generator.manualSeed(0);
  assert.deepEqual(randnTensor([3], generator), randnTensor([3], new Generator(0)));
});

test('16 elements: one Box-Muller block (torch.manual_seed(0); torch.randn(1, 1, 4, 4))', () => {
  assertPrinted(randnTensor([1, 1, 4, 4], new Generator(0)), [
    -1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.692, -0.316, -2.1152, 0.3223, -1.2633, 0.35, 0.3081, 0.1198, 1.2377,
    1.1168, -0.2473,
  ]);
});

test('sizes not divisible by 16 redraw the tail, and the generator state carries over (seed 0: X, W, Y)', () => {
  const generator = new Generator(0);
  const x = randnTensor([10, 4], generator);
  const w = randnTensor([4, 4], generator);
  const y = randnTensor([10, 4], generator);
  assertPrinted(x, [
    -1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.692, -0.316, -2.1152, 0.3223, -1.2633, 0.35, 0.3081, 0.1198, 1.2377,
    1.1168, -0.2473, -1.3527, -1.6959, 0.5667, 0.7935, 0.5988, -1.5551, -0.3414, 1.853, -0.2159, -0.7425, 0.5627,
    0.2596, -0.174, -0.6787, 0.9383, 0.4889, 1.2032, 0.0845, -1.2001, -0.0048, -0.5181, -0.3067, -1.581, 1.7066,
  ]);
  assertPrinted(w, [
    0.2055, -0.4503, -0.5731, -0.5554, 0.5943, 1.5419, 0.5073, -0.591, -1.3253, 0.1886, -0.0691, -0.4949, -1.4959,
    -0.1938, 0.4455, 1.3253,
  ]);
  assertPrinted(y.subarray(0, 8), [1.5091, 2.082, 1.7067, 2.3804, -1.1256, -0.317, -1.0925, -0.0852]);
  assertPrinted(y.subarray(36), [0.1239, 1.1648, 0.9234, 1.3873]);
});

test('bit-identical to torch 1.13 CPU for the goldens\' seeded initial latents', async (t) => {
  const seeded = (await readPipelineCases()).flatMap((c) => {
    const note = latentsSeed(c);
    return note === null ? [] : [{ c, ...note }];
  });
  // latents_seed_note is optional in the format; without any there is nothing to compare.
  if (seeded.length === 0) return void t.skip('no pipeline case records the seed of its initial latents');
  for (const { c, seed, shape } of seeded) {
    const golden = await SafetensorsFile.open(c.path);
    const expected = await golden.readFloat32('initial_latents');
    assert.deepEqual(golden.info('initial_latents').shape, shape, `${c.name}: the note's shape`);
    await golden.close();
    const actual = randnTensor(shape, new Generator(seed));
    const mismatches = actual.filter((v, i) => v !== expected[i]).length;
    assert.equal(mismatches, 0, `${c.name}: ${mismatches} of ${actual.length} values differ for seed ${seed}`);
  }
});

test('seeds use their low 32 bits, like torch, and invalid seeds are rejected', () => {
  assert.deepEqual(randnTensor([20], new Generator(2 ** 32 + 7)), randnTensor([20], new Generator(7)));
  assert.throws(() => new Generator(-1), /seed must be an integer from 0/);
  assert.throws(() => new Generator(1.5), /seed must be an integer from 0/);
  assert.throws(() => randnTensor([2, -1], new Generator(0)), /non-negative integers/);
});

test('fmaf rounds once where a separate multiply and add would round twice', () => {
  const a = 1 + 2 ** -12;
  // a*a = 1 + 2^-11 + 2^-24: one rounding keeps the 2^-24 term's effect after subtracting 1.
  assert.equal(fmaf(a, a, -1), 2 ** -11 + 2 ** -24);
  assert.equal(Math.fround(Math.fround(a * a) - 1), 2 ** -11);
  // a*a + 2^-80 lies just above a float32 midpoint; float64 rounding alone would land on it and tie to even.
  assert.equal(fmaf(a, a, 2 ** -80), 1 + 2 ** -11 + 2 ** -23);
  assert.equal(Math.fround(a * a + 2 ** -80), 1 + 2 ** -11);
});
