// `npm run bench -- --unet-only`: UNet3D calls alone, for tuning the graph layout (docs/engine.md). The graph is
// built from a UNet config.json with weights drawn from a fixed seed (speed does not depend on their values, and
// any config works, the real 1.7B one included) and timed on smooth inputs. Each call is paired with MatMul
// probe runs just before it, so the ratio of the UNet's rate to MatMul's stays meaningful on a shared machine.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildUNet3DGraph, type UNet3DConditionConfig } from '../src/engine/models/unets/unet_3d_condition.js';
import type { FloatType } from '../src/engine/nn/module.js';
import { writeModel } from '../src/engine/onnx/serialize.js';
import { createSession, type SessionOptions } from '../src/engine/onnx/session.js';
import { randomWeights } from '../src/engine/weights/random_weights.js';
import { VarBuilder } from '../src/engine/weights/var_builder.js';
import { MatmulProbe, median } from './matmul.js';
import { type ProfileSummary, summarizeProfile } from './profile.js';

export interface UnetBenchOptions {
  config: UNet3DConditionConfig;
  /** Where the config came from, for the report. */
  configPath: string;
  batch: number;
  frames: number;
  /** Latent height and width. */
  size: number;
  runs: number;
  dtype: FloatType;
  profile: boolean;
  /** FLOP of one call in GFLOP, when known: the effective rate is reported with it. */
  gflop: number | null;
  sessionOptions: SessionOptions;
  /** Emptied, then holds the graph, the probe and the profile. */
  workDir: string;
  log: (line: string) => void;
}

export interface UnetBenchReport {
  config: string;
  batch: number;
  frames: number;
  size: number;
  dtype: FloatType;
  graphNodes: number;
  graphBuildSeconds: number;
  sessionSeconds: number;
  unetCallSeconds: number[];
  unetCallMedianSeconds: number;
  unetCallMinSeconds: number;
  /** Median over the calls of the best of the three probe runs just before each call. */
  matmulGflops: number;
  unetEffectiveGflops: number | null;
  /** Median over the calls of (effective rate / MatMul rate just before). */
  unetFractionOfMatmul: number | null;
  profile: ProfileSummary | null;
}

/** Smooth values in about [-0.9, 0.9]. */
const wave = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.9);

export async function benchUnet(o: UnetBenchOptions): Promise<UnetBenchReport> {
  const { config } = o;
  await rm(o.workDir, { recursive: true, force: true });
  await mkdir(o.workDir, { recursive: true });

  let started = performance.now();
  const { graph } = buildUNet3DGraph(VarBuilder.placeholder(randomWeights(0)), config, { dtype: o.dtype });
  const modelPath = join(o.workDir, 'unet.onnx');
  await writeModel(graph, modelPath);
  const graphBuildSeconds = (performance.now() - started) / 1000;
  o.log(`UNet graph of ${resolve(o.configPath)}: ${graph.nodes.length} nodes, ${o.dtype}, built and written in ${graphBuildSeconds.toFixed(1)} s`);

  started = performance.now();
  const session = await createSession(modelPath, { ...o.sessionOptions, ...(o.profile ? { enableProfiling: true, profileFilePrefix: join(o.workDir, 'profile') } : {}) });
  const sessionSeconds = (performance.now() - started) / 1000;
  const probe = await MatmulProbe.open(o.workDir, o.sessionOptions);
  try {
    const { batch, frames, size } = o;
    const feeds = {
      sample: new ort.Tensor('float32', wave(batch * config.in_channels * frames * size * size), [batch, config.in_channels, frames, size, size]),
      timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', wave(batch * 77 * config.cross_attention_dim), [batch, 77, config.cross_attention_dim]),
    };
    // The first call plans memory and picks kernels; it is not timed.
    await session.run(feeds);
    const seconds: number[] = [];
    const matmul: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      matmul.push(Math.max(...(await probe.measure(3))));
      started = performance.now();
      await session.run(feeds);
      seconds.push((performance.now() - started) / 1000);
      o.log(`  call ${i + 1}/${o.runs}: ${seconds[i]!.toFixed(3)} s (MatMul ${matmul[i]!.toFixed(0)} GFLOP/s just before)`);
    }
    let profile: ProfileSummary | null = null;
    if (o.profile) {
      session.endProfiling();
      const file = (await readdir(o.workDir)).find((f) => f.startsWith('profile') && f.endsWith('.json'));
      if (file === undefined) throw new Error(`ONNX Runtime wrote no profile into ${o.workDir}`);
      profile = await summarizeProfile(join(o.workDir, file), o.runs + 1);
      o.log(`ONNX Runtime profile of the UNet: ${join(o.workDir, file)}`);
    }
    const gflop = o.gflop;
    return {
      config: resolve(o.configPath),
      batch,
      frames,
      size,
      dtype: o.dtype,
      graphNodes: graph.nodes.length,
      graphBuildSeconds,
      sessionSeconds,
      unetCallSeconds: seconds,
      unetCallMedianSeconds: median(seconds),
      unetCallMinSeconds: Math.min(...seconds),
      matmulGflops: median(matmul),
      unetEffectiveGflops: gflop === null ? null : gflop / median(seconds),
      unetFractionOfMatmul: gflop === null ? null : median(seconds.map((s, i) => gflop / s / matmul[i]!)),
      profile,
    };
  } finally {
    await Promise.all([session.release(), probe.release()]);
  }
}
