// `npm run bench`: the mid-sized model of bench/model-small (the real text-to-video-ms-1.7b block structure,
// 58 M UNet parameters; configs only, weights drawn from a fixed seed into .cache/bench) rendering 16 frames at
// 256x256 with 10 DDIM steps and guidance 9 on the CPU execution provider with 2 threads, as the reference
// figures in docs/benchmark.md (diffusers 0.26.3 on PyTorch 1.13 CPU) were measured.
//
//   npm run bench [-- --json] [--profile] [--videos 2] [--threads 2] [--no-arena] [--mem-pattern]
//   npm run bench -- --unet-only [--config FILE] [--batch 2] [--frames 16] [--size 32] [--runs 5]
//     [--dtype float32|float16] [--gflop N] [--profile] [--json]     (UNet calls alone: bench/unet.ts)
//
// Three processes, so each figure is its own: this one prepares the weights and prints; a `build` child builds
// the graphs into an empty cache (graph-build time); a `run` child loads them from the cache (cache-load time),
// measures the machine's MatMul speed before and after rendering the videos (the machine is shared: the UNet is
// compared with what the same cores delivered around it) and reports its peak RSS, which is thus the peak of
// loading and rendering only, as a service process would see it.
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { materializeRandomModel } from '../src/engine/demo/random_model.js';
import { ENGINE_SESSION_DEFAULTS } from '../src/engine/engine.js';
import { CLIPTokenizer } from '../src/engine/models/clip/tokenization_clip.js';
import { loadModelGraphs, type NetworkName } from '../src/engine/models/model_graphs.js';
import { readModelConfig } from '../src/engine/models/model_config.js';
import { UNet3DConditionConfigSchema } from '../src/engine/models/unets/unet_3d_condition.js';
import type { FloatType } from '../src/engine/nn/module.js';
import { createSession, type SessionOptions } from '../src/engine/onnx/session.js';
import { TextToVideoSDPipeline } from '../src/engine/pipelines/text_to_video_synthesis/pipeline_text_to_video_synth.js';
import { DDIMScheduler } from '../src/engine/schedulers/scheduling_ddim.js';
import { Generator } from '../src/engine/utils/generator.js';
import { MATMUL, MatmulProbe, median } from './matmul.js';
import { formatProfile, summarizeProfile, type ProfileSummary } from './profile.js';
import { benchUnet } from './unet.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIG_DIR = join(ROOT, 'bench', 'model-small');
const CACHE = join(ROOT, '.cache', 'bench');
const MODEL_DIR = join(CACHE, 'model-small');
const GRAPH_CACHE = join(CACHE, 'graphs');
const PROFILE_DIR = join(CACHE, 'profile');
const WEIGHTS_SEED = 0;
/** One UNet call of this config, batch 2, 16 frames, 32x32 latents (docs/benchmark.md). */
const UNET_GFLOP = 513;
const WORK = { prompt: 'a panda playing guitar on a boat', numFrames: 16, width: 256, height: 256, numInferenceSteps: 10, guidanceScale: 9, seed: 42 };
/** MatMul probe runs before and after the videos. */
const MATMUL_RUNS = 15;
/** `--unet-only` defaults: the UNet call of the whole bench. */
const UNET_ONLY = { config: join(CONFIG_DIR, 'unet', 'config.json'), batch: '2', frames: '16', size: '32', runs: '5', dtype: 'float32' };
const UNET_ONLY_OPTIONS = ['config', 'batch', 'frames', 'size', 'runs', 'dtype', 'gflop'] as const;

function usage(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

function parse() {
  try {
    return parseArgs({
      options: {
        json: { type: 'boolean', default: false },
        profile: { type: 'boolean', default: false },
        videos: { type: 'string', default: '2' },
        threads: { type: 'string', default: '2' },
        'no-arena': { type: 'boolean', default: false },
        'mem-pattern': { type: 'boolean', default: false },
        'unet-only': { type: 'boolean', default: false },
        // Defaults in UNET_ONLY: given without --unet-only they are refused, not ignored.
        config: { type: 'string' },
        batch: { type: 'string' },
        frames: { type: 'string' },
        size: { type: 'string' },
        runs: { type: 'string' },
        dtype: { type: 'string' },
        gflop: { type: 'string' },
        phase: { type: 'string' },
      },
    }).values;
  } catch (error) {
    return usage((error as Error).message);
  }
}
const args = parse();
if (!args['unet-only']) {
  const misplaced = UNET_ONLY_OPTIONS.filter((name) => args[name] !== undefined);
  if (misplaced.length > 0) usage(`${misplaced.map((name) => `--${name}`).join(', ')} go with --unet-only`);
}

/** An --unet-only option's value, or its default. */
const unetOption = (name: keyof typeof UNET_ONLY): string => args[name] ?? UNET_ONLY[name];

/** A whole number of at least 1 from option `name`. */
function count(name: string, raw: string): number {
  const value = Number(raw);
  if (!(Number.isInteger(value) && value >= 1)) usage(`--${name} must be a whole number of at least 1 (got ${raw})`);
  return value;
}
const threads = count('threads', args.threads);
const videos = count('videos', args.videos);
const dtype = unetOption('dtype');
if (dtype !== 'float32' && dtype !== 'float16') usage(`--dtype must be float32 or float16 (got ${dtype})`);
const gflop = args.gflop === undefined ? undefined : Number(args.gflop);
if (gflop !== undefined && !(gflop > 0)) usage(`--gflop must be a positive number (got ${args.gflop})`);
const sessionOptions: SessionOptions = {
  ...ENGINE_SESSION_DEFAULTS,
  intraOpNumThreads: threads,
  enableCpuMemArena: !args['no-arena'],
  enableMemPattern: args['mem-pattern'],
};

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface BuildReport {
  graphBuildSeconds: number;
  buildPeakRssMb: number;
}

interface RunReport {
  cacheLoadSeconds: number;
  unetCallSeconds: number[];
  vaeFrameSeconds: number[];
  videoSeconds: number[];
  /** Step wall time minus UNet call: guidance, DDIM update, copies (what folding them into the graph would save). */
  hostStepMs: number[];
  encodePromptSeconds: number;
  peakRssMb: number;
  /** MatMul GFLOP/s samples, before and after the videos. */
  matmulGflops: number[];
  profile: ProfileSummary | null;
}

/** The machine's MatMul speed now, one sample per run; the probe's session lives only this long (peak RSS). */
async function measureMatmul(): Promise<number[]> {
  const probe = await MatmulProbe.open(CACHE, sessionOptions);
  try {
    return await probe.measure(MATMUL_RUNS);
  } finally {
    await probe.release();
  }
}

async function buildPhase(): Promise<BuildReport> {
  await rm(GRAPH_CACHE, { recursive: true, force: true });
  await mkdir(GRAPH_CACHE, { recursive: true });
  log('building the graphs into an empty cache ...');
  const started = performance.now();
  await loadModelGraphs({ modelDir: MODEL_DIR, dtype: 'float32', cacheDir: GRAPH_CACHE });
  return { graphBuildSeconds: (performance.now() - started) / 1000, buildPeakRssMb: peakRssMb() };
}

async function runPhase(): Promise<RunReport> {
  const started = performance.now();
  const graphs = await loadModelGraphs({ modelDir: MODEL_DIR, dtype: 'float32', cacheDir: GRAPH_CACHE });
  if (args.profile) await mkdir(PROFILE_DIR, { recursive: true });
  const open = (network: NetworkName): Promise<ort.InferenceSession> =>
    createSession(graphs.paths[network]!, { ...sessionOptions, ...(args.profile && network === 'unet' ? { enableProfiling: true, profileFilePrefix: join(PROFILE_DIR, 'unet') } : {}) });
  const [textEncoder, unet, vae] = [await open('text_encoder'), await open('unet'), await open('vae_decoder')];
  const pipeline = new TextToVideoSDPipeline({
    tokenizer: await CLIPTokenizer.fromPretrained(join(MODEL_DIR, 'tokenizer')),
    textEncoder,
    unet,
    vae,
    scheduler: await DDIMScheduler.fromPretrained(join(MODEL_DIR, 'scheduler')),
    unetConfig: graphs.configs.unet,
    vaeConfig: graphs.configs.vae,
  });
  const cacheLoadSeconds = (performance.now() - started) / 1000;
  log('measuring MatMul speed ...');
  const matmulBefore = await measureMatmul();
  const report: RunReport = {
    cacheLoadSeconds,
    unetCallSeconds: [],
    vaeFrameSeconds: [],
    videoSeconds: [],
    hostStepMs: [],
    encodePromptSeconds: 0,
    peakRssMb: 0,
    matmulGflops: [],
    profile: null,
  };
  for (let v = 0; v < videos; v++) {
    const out = await pipeline.call({
      ...WORK,
      generator: new Generator(WORK.seed),
      callback: (p) => {
        if (p.phase === 'denoise') log(`video ${v + 1}/${videos}: step ${p.step}/${p.totalSteps} (${(p.elapsedMs / 1000).toFixed(1)} s)`);
        else if (p.frame === p.totalFrames) log(`video ${v + 1}/${videos}: decoded ${p.totalFrames} frames (${(p.elapsedMs / 1000).toFixed(1)} s)`);
      },
    });
    const t = out.timings;
    report.unetCallSeconds.push(...t.unetSeconds);
    report.vaeFrameSeconds.push(...t.decodeCalls.map((c) => c.seconds / c.frames));
    report.videoSeconds.push(t.totalSeconds);
    report.hostStepMs.push(...t.stepSeconds.map((s, i) => 1000 * (s - t.unetSeconds[i]!)));
    report.encodePromptSeconds = t.encodePromptSeconds;
  }
  report.peakRssMb = peakRssMb();
  log('measuring MatMul speed again ...');
  report.matmulGflops = [...matmulBefore, ...(await measureMatmul())];
  if (args.profile) {
    unet.endProfiling();
    const file = (await readdir(PROFILE_DIR)).filter((f) => f.startsWith('unet')).sort().at(-1);
    if (file === undefined) throw new Error(`ONNX Runtime wrote no profile into ${PROFILE_DIR}`);
    report.profile = await summarizeProfile(join(PROFILE_DIR, file), report.unetCallSeconds.length);
    log(`ONNX Runtime profile of the UNet: ${join(PROFILE_DIR, file)}`);
  }
  await Promise.all([textEncoder.release(), unet.release(), vae.release()]);
  return report;
}

/** Runs this script as a child in `phase` and returns the JSON line it prints. */
function child<T>(phase: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const forwarded = process.argv.slice(2).filter((a) => a !== '--json');
    const proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...forwarded, '--phase', phase], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('error', reject);
    proc.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as T) : reject(new Error(`bench ${phase} phase exited with ${code}`))));
  });
}

/** `--unet-only`: UNet calls alone in this process (bench/unet.ts). */
async function unetOnly(): Promise<void> {
  const [batch, frames, size, runs] = (['batch', 'frames', 'size', 'runs'] as const).map((name) => count(name, unetOption(name))) as [number, number, number, number];
  const configPath = unetOption('config');
  const isBenchWork = resolve(configPath) === resolve(UNET_ONLY.config) && [batch, frames, size].join() === [UNET_ONLY.batch, UNET_ONLY.frames, UNET_ONLY.size].join();
  const config = await readModelConfig(UNet3DConditionConfigSchema, configPath).catch((error: unknown) => usage((error as Error).message));
  const report = await benchUnet({
    config,
    configPath,
    batch,
    frames,
    size,
    runs,
    dtype: dtype as FloatType,
    profile: args.profile,
    gflop: gflop ?? (isBenchWork ? UNET_GFLOP : null),
    sessionOptions,
    workDir: join(CACHE, 'unet-only'),
    log,
  });
  if (args.json) return void process.stdout.write(`${JSON.stringify({ unetOnly: true, threads, ...report })}\n`);
  const f = (x: number, d = 2): string => x.toFixed(d);
  const lines = [
    `t2v-bot bench --unet-only: ${report.config}, batch ${batch}, ${frames} frames, ${size}x${size} latents, ${report.dtype}, CPU EP, ${threads} threads${args.profile ? ' (profiling on: times include its overhead)' : ''}`,
    `  UNet call                median ${f(report.unetCallMedianSeconds, 3)} s, min ${f(report.unetCallMinSeconds, 3)} s over ${runs} calls`,
    `  MatMul ${MATMUL.m}x${MATMUL.k}x${MATMUL.n}    median ${f(report.matmulGflops, 0)} GFLOP/s (best of 3 runs just before each call)`,
    report.unetEffectiveGflops === null
      ? '  effective rate           unknown FLOP count for this config and shape (--gflop N gives it)'
      : `  effective rate           ${f(report.unetEffectiveGflops, 0)} GFLOP/s; median ratio to the MatMul just before ${f(100 * report.unetFractionOfMatmul!, 0)}%`,
    `  graph                    ${report.graphNodes} nodes, build + write ${f(report.graphBuildSeconds, 1)} s; session ${f(report.sessionSeconds, 1)} s`,
  ];
  if (report.profile) lines.push(...formatProfile(report.profile, 'UNet'));
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  if (args['unet-only']) return unetOnly();
  if (args.phase === 'build') return void process.stdout.write(JSON.stringify(await buildPhase()));
  if (args.phase === 'run') return void process.stdout.write(JSON.stringify(await runPhase()));

  let started = performance.now();
  log(`bench/model-small with seeded random weights in ${MODEL_DIR} ...`);
  await materializeRandomModel(CONFIG_DIR, MODEL_DIR, WEIGHTS_SEED, (p) => {
    if (p.tensorsDone === p.tensorsTotal) log(`  ${p.component}: ${p.tensorsTotal} tensors`);
  });
  const weightsSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  const build = await child<BuildReport>('build');
  const run = await child<RunReport>('run');
  const unet = median(run.unetCallSeconds);
  const matmulGflops = median(run.matmulGflops);
  const result = {
    unetCallMedianSeconds: unet,
    vaeFrameMedianSeconds: median(run.vaeFrameSeconds),
    videoSeconds: median(run.videoSeconds),
    peakRssMb: run.peakRssMb,
    matmulGflops,
    unetEffectiveGflops: UNET_GFLOP / unet,
    unetFractionOfMatmul: UNET_GFLOP / unet / matmulGflops,
    unetCallMinSeconds: Math.min(...run.unetCallSeconds),
    unetCalls: run.unetCallSeconds.length,
    hostStepMedianMs: median(run.hostStepMs),
    encodePromptSeconds: run.encodePromptSeconds,
    graphBuildSeconds: build.graphBuildSeconds,
    buildPeakRssMb: build.buildPeakRssMb,
    cacheLoadSeconds: run.cacheLoadSeconds,
    weightsSeconds,
    threads,
    cpuMemArena: !args['no-arena'],
    memPattern: args['mem-pattern'],
    videos,
    profiled: args.profile,
    profile: run.profile,
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const f = (x: number, d = 2): string => x.toFixed(d);
  const lines = [
    `t2v-bot bench: bench/model-small, ${WORK.numFrames} frames ${WORK.width}x${WORK.height}, ${WORK.numInferenceSteps} steps, guidance ${WORK.guidanceScale}, CPU EP, ${threads} threads${args.profile ? ' (profiling on: times include its overhead)' : ''}`,
    `  UNet call (batch 2)      median ${f(unet)} s, min ${f(result.unetCallMinSeconds)} s over ${result.unetCalls} calls   (reference 8.90 s)`,
    `  VAE decode               median ${f(result.vaeFrameMedianSeconds, 3)} s per frame   (reference 3.9 s for 16 frames)`,
    `  whole video              median ${f(result.videoSeconds, 1)} s   (reference about 95 s)`,
    `  peak RSS (load + render) ${f(result.peakRssMb, 0)} MB   (reference 1700-1754 MB)`,
    `  MatMul ${MATMUL.m}x${MATMUL.k}x${MATMUL.n}    median ${f(result.matmulGflops, 0)} GFLOP/s (before and after the videos); UNet ${UNET_GFLOP} GFLOP per call = ${f(result.unetEffectiveGflops, 0)} GFLOP/s effective, ${f(100 * result.unetFractionOfMatmul, 0)}% of MatMul`,
    `  host work per step       median ${f(result.hostStepMedianMs, 1)} ms (guidance, DDIM update, copies)`,
    `  graph build (cold cache) ${f(result.graphBuildSeconds, 1)} s, peak RSS ${f(result.buildPeakRssMb, 0)} MB; cache load + sessions ${f(result.cacheLoadSeconds, 1)} s`,
  ];
  if (run.profile) lines.push(...formatProfile(run.profile, 'UNet'));
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
