// Times UNet3D calls of a config with seeded random weights on the CPU EP, and optionally summarizes an ONNX
// Runtime profile by operator type and by module. Used to tune the graph layout (docs/engine.md); issue 4's
// `npm run bench` measures the whole pipeline. Each UNet call is paired with a 4096x1024x1024 MatMul timed just
// before it, so on a shared machine the ratio (UNet GFLOP/s over MatMul GFLOP/s) stays meaningful.
//   node --import tsx scripts/engine-unet-bench.ts [--config bench/model-small/unet/config.json] [--batch 2]
//     [--frames 16] [--size 32] [--runs 5] [--threads 2] [--dtype float32|float16] [--profile]
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildUNet3DGraph, parseUNet3DConditionConfig } from '../src/engine/models/unets/unet_3d_condition.js';
import type { FloatType } from '../src/engine/nn/module.js';
import { GraphBuilder } from '../src/engine/onnx/graph_builder.js';
import { writeModel } from '../src/engine/onnx/serialize.js';
import { createSession } from '../src/engine/onnx/session.js';
import { randomWeights } from '../src/engine/weights/random_weights.js';
import { VarBuilder } from '../src/engine/weights/var_builder.js';

const { values: args } = parseArgs({
  options: {
    config: { type: 'string', default: 'bench/model-small/unet/config.json' },
    batch: { type: 'string', default: '2' },
    frames: { type: 'string', default: '16' },
    size: { type: 'string', default: '32' },
    runs: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    dtype: { type: 'string', default: 'float32' },
    profile: { type: 'boolean', default: false },
    /** FLOP of one call, for the effective rate (513 GFLOP: bench/model-small at batch 2, 16 frames, 32x32). */
    gflop: { type: 'string', default: '513' },
  },
});

const config = parseUNet3DConditionConfig(JSON.parse(await readFile(args.config, 'utf8')), args.config);
const [B, F, S, runs] = [args.batch, args.frames, args.size, args.runs].map(Number) as [number, number, number, number];
const dir = await mkdtemp(join(tmpdir(), 'unet-bench-'));
try {
  let t = performance.now();
  const vb = VarBuilder.placeholder(randomWeights(0));
  const { graph } = buildUNet3DGraph(vb, config, { dtype: args.dtype as FloatType });
  const modelPath = join(dir, 'unet.onnx');
  await writeModel(graph, modelPath);
  console.log(`graph: ${graph.nodes.length} nodes, built and written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  const session = await createSession(modelPath, {
    intraOpNumThreads: Number(args.threads),
    enableProfiling: args.profile,
    profileFilePrefix: join(dir, 'profile'),
  });
  console.log(`session created in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const rand = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.9);
  const feeds = {
    sample: new ort.Tensor('float32', rand(B * config.in_channels * F * S * S), [B, config.in_channels, F, S, S]),
    timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]),
    encoder_hidden_states: new ort.Tensor('float32', rand(B * 77 * config.cross_attention_dim), [B, 77, config.cross_attention_dim]),
  };
  const matmul = await matmulProbe(dir, Number(args.threads));
  await session.run(feeds);
  const times: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    const matmulGflops = await matmul();
    t = performance.now();
    await session.run(feeds);
    const seconds = (performance.now() - t) / 1000;
    times.push(seconds);
    ratios.push(Number(args.gflop) / seconds / matmulGflops);
    console.log(`  run ${i + 1}: ${seconds.toFixed(3)} s (MatMul ${matmulGflops.toFixed(0)} GFLOP/s just before)`);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`UNet call (batch ${B}, ${F} frames, ${S}x${S}): median ${median(times).toFixed(3)} s, min ${Math.min(...times).toFixed(3)} s over ${runs} runs`);
  console.log(`effective ${(Number(args.gflop) / median(times)).toFixed(0)} GFLOP/s; median ratio to the MatMul probe ${median(ratios).toFixed(2)}`);
  if (args.profile) {
    session.endProfiling();
    const profileFile = (await readdir(dir)).find((f) => f.startsWith('profile') && f.endsWith('.json'));
    if (!profileFile) throw new Error('ONNX Runtime wrote no profile');
    summarizeProfile(JSON.parse(await readFile(join(dir, profileFile), 'utf8')) as ProfileEvent[], runs + 1);
  }
  await session.release();
} finally {
  await rm(dir, { recursive: true, force: true });
}

/** A session timing one [4096, 1024] x [1024, 1024] MatMul (8.6 GFLOP); returns a function measuring GFLOP/s. */
async function matmulProbe(dir: string, threads: number): Promise<() => Promise<number>> {
  const graph = new GraphBuilder('matmul_probe');
  const a = graph.input('a', 'float32', [4096, 1024]);
  const b = graph.constant(Float32Array.from({ length: 1024 * 1024 }, (_, i) => Math.sin(i) * 0.03), 'float32', [1024, 1024], 'b');
  graph.output(graph.at('probe').matmul(a, b), 'c', [4096, 1024]);
  const path = join(dir, 'matmul.onnx');
  await writeModel(graph, path, { externalData: false });
  const session = await createSession(path, { intraOpNumThreads: threads });
  const feeds = { a: new ort.Tensor('float32', Float32Array.from({ length: 4096 * 1024 }, (_, i) => Math.cos(i) * 0.5), [4096, 1024]) };
  await session.run(feeds);
  return async () => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await session.run(feeds);
      best = Math.min(best, (performance.now() - t) / 1000);
    }
    return (2 * 4096 * 1024 * 1024) / best / 1e9;
  };
}

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

function summarizeProfile(events: ProfileEvent[], calls: number): void {
  const byOp = new Map<string, number>();
  const byModule = new Map<string, number>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    const node = e.name.slice(0, -'_kernel_time'.length);
    // Module = node path up to the block level (down_blocks.0.attentions.1), plus the kind of sub-module.
    const module = node.split('/')[0]!.replace(/^((?:down|up)_blocks\.\d+|mid_block)\.(\w+)\.\d+.*$/, '$1.$2').replace(/\.transformer_blocks.*$/, '');
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    byModule.set(module, (byModule.get(module) ?? 0) + e.dur);
    total += e.dur;
  }
  const show = (title: string, m: Map<string, number>): void => {
    console.log(`\n${title} (ms per call, share of ${(total / calls / 1000).toFixed(0)} ms kernel time):`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${k.padEnd(48)} ${(v / calls / 1000).toFixed(1).padStart(8)}  ${((100 * v) / total).toFixed(1)}%`);
  };
  show('by operator', byOp);
  show('by module', byModule);
}
