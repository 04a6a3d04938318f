// `t2v generate "prompt" -o out.mp4`: one render on this machine, without the service. Loads the model (MODEL_DIR,
// --model, or the built-in demo model) with the same Engine the service uses, shows a progress bar on stderr
// (model/graph loading, denoising steps, decoding, encoding) and prints a summary on stdout (--json: one JSON line).
// Exit codes: src/cli/exit-codes.ts.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError, ENGINE_DEVICES, type EngineDevice, loadConfig, withDotEnv } from '../../config.js';
import { describeRange, ENGINE_LIMITS, FIXED_LIMITS, inRange, type NumberBounds, PARAM_DEFAULTS } from '../../core/requests.js';
import { type Engine, EngineLoadError, type GenerateResult } from '../../engine/engine.js';
import { createEngine } from '../../engine/index.js';
import { LatentsFileError, readLatentsFile } from '../../engine/latents.js';
import { PIPELINE_DEFAULTS, PIPELINE_LIMITS, PipelineInputError } from '../../engine/pipelines/text_to_video_synthesis/pipeline_text_to_video_synth.js';
import { encodeMp4 } from '../../video/encode-mp4.js';
import { writeFramePngs } from '../../video/frames-dir.js';
import { writePng } from '../../video/png.js';
import { formatBytes } from '../../engine/hub/pull_model.js';
import { createLogger } from '../../log.js';
import { EXIT_CODES, isAbortError, usageErrorsExitWith2 } from '../exit-codes.js';
import { formatSeconds, PhaseBar, showLoadProgress } from '../progress.js';

/** The VAE of every ModelScope-style model downsamples by 8; the pipeline re-checks against the loaded model. */
const SIDE_MULTIPLE = ENGINE_LIMITS.sideMultiple;

interface GenerateOptions {
  output: string;
  negative?: string;
  frames?: number;
  width?: number;
  height?: number;
  steps: number;
  guidance: number;
  seed?: number;
  latents?: string;
  fps: number;
  model?: string;
  device?: EngineDevice;
  framesDir?: string;
  json?: boolean;
}

function numberArg(name: string, min: number, max: number, options: Pick<NumberBounds, 'integer' | 'multipleOf'>) {
  const range: NumberBounds = { min, max, ...options };
  return (raw: string): number => {
    const value = Number(raw);
    // Number('') and Number(' ') are 0, which would pass for the seed.
    if (raw.trim() === '' || !inRange(value, range)) throw new InvalidArgumentError(`${describeRange(name, range)}.`);
    return value;
  };
}

class UsageError extends Error {}

export function registerGenerate(program: Command): void {
  const L = PIPELINE_LIMITS;
  program
    .command('generate')
    .description('render one video (or, with --frames 1, an image) on this machine; progress on stderr, summary on stdout')
    .argument('<prompt>', 'what the video shows')
    .requiredOption('-o, --output <file>', 'output file: .mp4 (H.264), or .png with --frames 1')
    .option('--negative <text>', 'negative prompt: what the video should not show')
    .option('--frames <n>', `frames, ${L.minFrames}-${L.maxFrames}; 1 makes a PNG (default ${PIPELINE_DEFAULTS.numFrames})`, numberArg('frames', L.minFrames, L.maxFrames, { integer: true }))
    .option('--width <px>', `width, ${L.minSide}-${L.maxSide}, a multiple of ${SIDE_MULTIPLE} (default ${PIPELINE_DEFAULTS.width})`, numberArg('width', L.minSide, L.maxSide, { integer: true, multipleOf: SIDE_MULTIPLE }))
    .option('--height <px>', `height, ${L.minSide}-${L.maxSide}, a multiple of ${SIDE_MULTIPLE} (default ${PIPELINE_DEFAULTS.height})`, numberArg('height', L.minSide, L.maxSide, { integer: true, multipleOf: SIDE_MULTIPLE }))
    .option('--steps <n>', `denoising steps, ${L.minSteps}-${L.maxSteps}`, numberArg('steps', L.minSteps, L.maxSteps, { integer: true }), PIPELINE_DEFAULTS.numInferenceSteps)
    .option('--guidance <g>', `classifier-free guidance scale, ${L.minGuidance}-${L.maxGuidance}; 1 turns it off`, numberArg('guidance', L.minGuidance, L.maxGuidance, { integer: false }), PIPELINE_DEFAULTS.guidanceScale)
    .addOption(new Option('--seed <n>', `seed, 0-${FIXED_LIMITS.maxSeed} (default: random, printed in the summary)`).argParser(numberArg('seed', 0, FIXED_LIMITS.maxSeed, { integer: true })).conflicts('latents'))
    .option('--latents <file>', 'initial latents from a safetensors file: tensor "latents" (or its only tensor), shape (1, 4, frames, height/8, width/8); sets frames and size unless given')
    .option('--fps <n>', `frames per second of the MP4, ${FIXED_LIMITS.minFps}-${FIXED_LIMITS.maxFps}`, numberArg('fps', FIXED_LIMITS.minFps, FIXED_LIMITS.maxFps, { integer: true }), PARAM_DEFAULTS.fps)
    .option('--model <dir>', 'diffusers model folder (default: MODEL_DIR, else the built-in demo model)')
    .addOption(new Option('--device <device>', 'execution device (default: ENGINE_DEVICE, else auto)').choices(ENGINE_DEVICES))
    .option('--frames-dir <dir>', 'also write every frame as a PNG into this folder')
    .option('--json', 'print the summary as one JSON line')
    .exitOverride(usageErrorsExitWith2)
    .action(async (prompt: string, options: GenerateOptions) => {
      process.exit(await generate(prompt, options));
    });
}

async function generate(prompt: string, options: GenerateOptions): Promise<number> {
  const controller = new AbortController();
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(EXIT_CODES.interrupted);
    interrupted = true;
    process.stderr.write('\nInterrupted: stopping after the current step (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);

  const bar = new PhaseBar();
  let engine: Engine | undefined;
  const output = resolve(options.output);
  const written: string[] = [];
  try {
    const config = loadConfig(withDotEnv({ ...process.env, ...(options.model !== undefined ? { MODEL_DIR: options.model } : {}), ...(options.device ? { ENGINE_DEVICE: options.device } : {}) }));
    if (prompt.trim() === '') throw new UsageError('the prompt is empty: say what the video should show.');

    let frames = options.frames;
    let width = options.width;
    let height = options.height;
    let latents: Float32Array | undefined;
    if (options.latents !== undefined) {
      const file = await readLatentsFile(resolve(options.latents));
      const [, , f, h, w] = file.shape;
      for (const [name, given, fromFile] of [
        ['--frames', frames, f],
        ['--height', height, h * SIDE_MULTIPLE],
        ['--width', width, w * SIDE_MULTIPLE],
      ] as const) {
        if (given !== undefined && given !== fromFile) throw new UsageError(`${name} ${given} does not match the latents in ${options.latents} (shape [${file.shape.join(', ')}] means ${name} ${fromFile}).`);
      }
      frames = f;
      height = h * SIDE_MULTIPLE;
      width = w * SIDE_MULTIPLE;
      latents = file.data;
    }
    frames ??= PIPELINE_DEFAULTS.numFrames;
    width ??= PIPELINE_DEFAULTS.width;
    height ??= PIPELINE_DEFAULTS.height;
    const expectedExtension = frames === 1 ? '.png' : '.mp4';
    if (extname(output).toLowerCase() !== expectedExtension) {
      throw new UsageError(
        frames === 1 ? `with --frames 1 the output is a PNG image: name it *.png (got ${options.output}).` : `the output is an MP4 video: name it *.mp4 (got ${options.output}); use --frames 1 for a PNG.`,
      );
    }

    const loadStarted = performance.now();
    const logger = createLogger({ level: process.env.LOG_LEVEL === undefined ? 'silent' : config.logLevel, destination: { write: (line: string) => void process.stderr.write(line) } });
    engine = createEngine(config, logger, { onLoadProgress: (p) => showLoadProgress(bar, p) });
    await Promise.race([engine.whenReady(), abortPromise(controller.signal)]);
    const loadMs = performance.now() - loadStarted;
    bar.stop();
    const status = engine.status();
    if (status.message !== undefined) process.stderr.write(`note: ${status.message}\n`);

    const result = await engine.generate(
      { prompt, negativePrompt: options.negative ?? '', frames, width, height, steps: options.steps, guidance: options.guidance, seed: options.seed, latents },
      {
        signal: controller.signal,
        onProgress: (p) => bar.show(p.phase === 'denoise' ? 'denoising' : 'decoding', p.done, p.total, `ETA ${formatSeconds(p.etaMs)}`),
      },
    );
    controller.signal.throwIfAborted();
    bar.show('encoding', 0, 1, frames === 1 ? 'PNG' : 'MP4');
    await mkdir(dirname(output), { recursive: true });
    let bytes: number;
    written.push(output);
    if (frames === 1) {
      bytes = await writePng(output, result.frames.data, width, height);
    } else {
      bytes = (await encodeMp4(result.frames, output, { fps: options.fps, signal: controller.signal, ffmpeg: await engine.ffmpeg() })).bytes;
    }
    if (options.framesDir !== undefined) {
      written.push(...(await writeFramePngs(result.frames, resolve(options.framesDir), { signal: controller.signal })));
    }
    bar.show('encoding', 1, 1, frames === 1 ? 'PNG' : 'MP4');
    bar.stop();
    printSummary(options, { output, bytes, result, loadMs, status, frames, width, height });
    return EXIT_CODES.ok;
  } catch (error) {
    bar.stop();
    if (isAbortError(error) || controller.signal.aborted) {
      await Promise.all(written.map((path) => rm(path, { force: true })));
      process.stderr.write('t2v generate: interrupted; nothing was written.\n');
      return EXIT_CODES.interrupted;
    }
    const [code, message] = classify(error);
    process.stderr.write(`t2v generate: ${message}\n`);
    return code;
  } finally {
    process.off('SIGINT', onSigint);
    await engine?.close();
  }
}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new DOMException('interrupted', 'AbortError')), { once: true }));
}

function classify(error: unknown): [number, string] {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ConfigError || error instanceof UsageError || error instanceof LatentsFileError || error instanceof PipelineInputError) return [EXIT_CODES.usage, message];
  if (error instanceof EngineLoadError) return [error.kind === 'model' ? EXIT_CODES.model : EXIT_CODES.runtime, message];
  // EngineDeviceError (ENGINE_DEVICE=cuda on a host that cannot run it) and anything unforeseen.
  return [EXIT_CODES.runtime, message];
}

interface Summary {
  output: string;
  bytes: number;
  result: GenerateResult;
  loadMs: number;
  status: ReturnType<Engine['status']>;
  frames: number;
  width: number;
  height: number;
}

function printSummary(options: GenerateOptions, s: Summary): void {
  const t = s.result.timings;
  const denoiseSeconds = t.stepSeconds.reduce((a, b) => a + b, 0);
  const decodeSeconds = t.decodeCalls.reduce((a, c) => a + c.seconds, 0);
  const summary = {
    output: s.output,
    mediaType: s.frames === 1 ? 'image/png' : 'video/mp4',
    bytes: s.bytes,
    frames: s.frames,
    width: s.width,
    height: s.height,
    fps: s.frames === 1 ? null : options.fps,
    steps: t.stepSeconds.length,
    guidance: options.guidance,
    seed: s.result.seed,
    latentsFile: options.latents === undefined ? null : resolve(options.latents),
    seconds: round(t.totalSeconds),
    secondsPerStep: round(denoiseSeconds / Math.max(1, t.stepSeconds.length)),
    decodeSeconds: round(decodeSeconds),
    loadSeconds: round(s.loadMs / 1000),
    model: s.status.model,
    demo: s.status.demo,
    device: s.status.device,
    executionProvider: s.status.executionProvider,
    framesDir: options.framesDir === undefined ? null : resolve(options.framesDir),
  };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const what = s.frames === 1 ? `${s.width}x${s.height} image` : `${s.frames} frames ${s.width}x${s.height} at ${options.fps} fps`;
  const lines = [
    `Wrote ${s.output} (${what}, ${formatBytes(s.bytes)})${summary.framesDir ? `; frames in ${summary.framesDir}` : ''}`,
    `seed ${s.result.seed ?? `none (latents from ${options.latents})`} | ${summary.steps} steps in ${formatSeconds(denoiseSeconds * 1000)} (${summary.secondsPerStep} s/step) | decode ${formatSeconds(decodeSeconds * 1000)} | render ${formatSeconds(t.totalSeconds * 1000)}, model load ${formatSeconds(s.loadMs)}`,
    `model: ${s.status.model}${s.status.demo ? ' (DEMO: abstract noise, not your prompt; set MODEL_DIR or --model)' : ''} | device: ${s.status.device} (${s.status.executionProvider})`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
