// `npm run bench -- --unet-only` run as a child process, as a developer runs it, on the tiny demo UNet config:
// what it reports (never how fast: speed is the bench's business, not the tests'), the shared profile summary,
// and usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runNode, type NodeRun } from '../support/run-node.js';

function bench(args: string[]): Promise<NodeRun> {
  return runNode(['--import', 'tsx', 'bench/bench.ts', ...args]);
}

const TINY = ['--unet-only', '--config', 'models/demo/unet/config.json', '--batch', '1', '--frames', '2', '--size', '8', '--runs', '2'];

test('--unet-only --json times UNet calls with paired MatMul probes and summarizes an ONNX Runtime profile', async () => {
  const run = await bench([...TINY, '--profile', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout) as Record<string, unknown> & { unetCallSeconds: number[]; profile: { kernelMs: number; byOperator: { name: string; ms: number; share: number }[]; byModule: { name: string }[] } };
  assert.equal(report.unetOnly, true);
  assert.deepEqual([report.batch, report.frames, report.size, report.dtype, report.threads], [1, 2, 8, 'float32', 2]);
  assert.match(String(report.config), /models\/demo\/unet\/config\.json$/);
  assert.equal(report.unetCallSeconds.length, 2);
  assert.ok(report.unetCallSeconds.every((s) => s > 0));
  assert.equal(report.unetCallMedianSeconds, (report.unetCallSeconds[0]! + report.unetCallSeconds[1]!) / 2);
  assert.ok((report.matmulGflops as number) > 0);
  // No FLOP count is known for this config and shape, so no effective rate is made up.
  assert.equal(report.unetEffectiveGflops, null);
  assert.ok(report.profile.kernelMs > 0);
  const operators = report.profile.byOperator.map((r) => r.name);
  for (const op of ['Conv', 'Gemm', 'MultiHeadAttention']) assert.ok(operators.includes(op), `${op} among ${operators.join(', ')}`);
  assert.ok(report.profile.byModule.some((r) => /^(down|up)_blocks\.\d\.(attentions|temp_attentions|resnets|temp_convs)$/.test(r.name)), 'modules grouped per block');
  assert.match(run.stderr, /call 2\/2: [\d.]+ s \(MatMul \d+ GFLOP\/s just before\)/);
});

test('--unet-only prints a readable report; --gflop gives the effective rate; fp16 graphs run too', async () => {
  const run = await bench([...TINY, '--dtype', 'float16', '--gflop', '0.5']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /bench --unet-only: .*models\/demo\/unet\/config\.json, batch 1, 2 frames, 8x8 latents, float16/);
  assert.match(run.stdout, /UNet call +median [\d.]+ s, min [\d.]+ s over 2 calls/);
  assert.match(run.stdout, /effective rate +\d+ GFLOP\/s; median ratio to the MatMul just before \d+%/);
  assert.doesNotMatch(run.stdout, /kernel time/, 'no profile unless asked');
});

test('bad bench options exit 2 naming the option', async () => {
  for (const [args, message] of [
    [['--unet-only', '--runs', '0'], /--runs must be a whole number of at least 1 \(got 0\)/],
    [['--unet-only', '--dtype', 'bf16'], /--dtype must be float32 or float16 \(got bf16\)/],
    [['--unet-only', '--gflop', 'lots'], /--gflop must be a positive number/],
    [['--unet-only', '--config', 'no/such/config.json'], /no\/such\/config\.json: cannot read config/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['--batch', '4', '--profile'], /--batch go with --unet-only/],
  ] as const) {
    const run = await bench([...args]);
    assert.equal(run.code, 2, args.join(' '));
    assert.match(run.stderr, message, args.join(' '));
  }
});
