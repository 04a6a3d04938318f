// The activation ops against their PyTorch / transformers definitions, computed here in float64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activation } from '../../../src/engine/nn/activation.js';
import { GraphBuilder } from '../../../src/engine/onnx/graph_builder.js';
import { f32, maxAbsDiff, runGraph } from '../graph-helpers.js';

const erf = (x: number): number => {
  // Abramowitz-Stegun 7.1.26 is too coarse for 1e-6; integrate the series instead (|x| <= 6 here).
  let sum = 0;
  let term = x;
  for (let n = 0; n < 200; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
};
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const REFERENCE: Record<string, (x: number) => number> = {
  silu: (x) => x * sigmoid(x),
  swish: (x) => x * sigmoid(x),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  quick_gelu: (x) => x * sigmoid(1.702 * x),
  mish: (x) => x * Math.tanh(Math.log1p(Math.exp(x))),
  relu: (x) => Math.max(0, x),
};

test('silu, swish, gelu (exact), quick_gelu, mish and relu match their definitions', async () => {
  const xs = Float32Array.from({ length: 241 }, (_, i) => -6 + i * 0.05);
  for (const [name, fn] of Object.entries(REFERENCE)) {
    const g = new GraphBuilder(name);
    const x = g.input('x', 'float32', [xs.length]);
    g.output(activation(name)(g.at(name), x), 'y', [xs.length]);
    const y = (await runGraph(g, { x: f32(xs, [xs.length]) })).y!.data as Float32Array;
    assert.ok(maxAbsDiff(y, xs.map(fn)) <= 2e-6, `${name}: max error ${maxAbsDiff(y, xs.map(fn))}`);
  }
  assert.throws(() => activation('gelu_new'), /unsupported activation function "gelu_new" \(supported: swish, silu, mish, gelu, relu, quick_gelu\)/);
});
