// The engine: one per process. It loads a model folder (or the built-in demo model) in the background, holds the
// three ONNX Runtime sessions, and implements the core's Renderer: render = pipeline call + video export. The CLI
// uses the same class through `generate`, so device selection, caching and validation are the same everywhere.
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { EngineDevice } from '../config.js';
import { ErrorCode, type RenderFault } from '../core/errors.js';
import { videoBotError } from '../core/messages.js';
import type { EngineStatus, Renderer, RenderOptions, RenderOutput, RenderParams } from '../core/ports.js';
import { describeRange, FIXED_LIMITS, inRange, type NumberBounds } from '../core/requests.js';
import type { Logger } from '../log.js';
import { DEMO_MODEL_LABEL, DEMO_MODEL_NOTICE, ensureDemoModel } from './demo/demo_model.js';
import type { RandomModelProgress } from './demo/random_model.js';
import { type CudaProviderProbe, EngineDeviceError, EXECUTION_PROVIDER_NAME, planDevice, probeCudaProvider } from './device.js';
import { modelFingerprint } from './model_fingerprint.js';
import { ModelConfigError } from './models/model_config.js';
import { OrtSessionError, type SessionOptions } from './onnx/session.js';
import {
  type FromPretrainedOptions,
  type FromPretrainedProgress,
  PIPELINE_DEFAULTS,
  type PipelineTimings,
  TextToVideoSDPipeline,
} from './pipelines/text_to_video_synthesis/pipeline_text_to_video_synth.js';
import { DDIMScheduler } from './schedulers/scheduling_ddim.js';
import { readSchedulerConfig } from './schedulers/scheduling_utils.js';
import { Generator } from './utils/generator.js';
import { DiskFullError, exportFrames, type ExportedMedia } from '../video/export-frames.js';
import { FfmpegError, FfmpegNotFoundError, type FfmpegBinary, locateConfiguredFfmpeg } from '../video/ffmpeg.js';
import type { RgbFrames } from '../video/frames.js';
import { SafetensorsError } from './weights/safetensors.js';
import { WeightsMismatchError } from './weights/var_builder.js';

/**
 * Session options, measured with `npm run bench` (docs/engine-runtime.md): all graph optimizations (NCHWc
 * convolutions, fusions); the CPU memory arena on (repeated calls reuse its blocks); memory patterns off (their
 * planned block comes on top of the arena: +480 MB peak for the benchmark UNet, no measurable speed gain); one
 * inter-op thread (the graphs are one chain of operators).
 */
export const ENGINE_SESSION_DEFAULTS = {
  graphOptimizationLevel: 'all',
  enableCpuMemArena: true,
  enableMemPattern: false,
  interOpNumThreads: 1,
} as const satisfies SessionOptions;

/** ENGINE_SESSION_DEFAULTS with `threads` threads per operator (0 leaves ONNX Runtime's default); the CPU unless an execution provider is added. */
export function engineSessionOptions(threads: number): SessionOptions {
  return { ...ENGINE_SESSION_DEFAULTS, ...(threads > 0 ? { intraOpNumThreads: threads } : {}) };
}

/** The graph cache under DATA_DIR, shared by the engine and `t2v model verify --run`: one builds what the other reuses. */
export function graphCacheDir(dataDir: string): string {
  return join(dataDir, 'cache', 'graphs');
}

export interface EngineOptions {
  /** A diffusers text-to-video folder; '' loads the built-in demo model. */
  modelDir: string;
  /** DATA_DIR: the demo model and the graph cache live under it. */
  dataDir: string;
  device: EngineDevice;
  deviceId: number;
  /** Threads per operator; 0 leaves ONNX Runtime's default (one per physical core). */
  threads: number;
  /** '' searches ffmpeg-static, @ffmpeg-installer/ffmpeg, then PATH. */
  ffmpegPath: string;
  logger: Logger;
  /** Default DATA_DIR/cache/graphs. */
  cacheDir?: string;
  cudaProbe?: CudaProviderProbe;
  /** Replaces TextToVideoSDPipeline.fromPretrained (tests simulate CUDA session failures with it). */
  loadPipeline?: (modelDir: string, options: FromPretrainedOptions) => Promise<TextToVideoSDPipeline>;
  /** Extra session options (profiling in the benchmark). */
  sessionOptions?: SessionOptions;
  onLoadProgress?: (progress: EngineLoadProgress) => void;
}

export type EngineLoadProgress = FromPretrainedProgress | ({ phase: 'demo' } & RandomModelProgress);

/** Why loading failed: the model folder (exit code 3 in the CLI) or the runtime/device (4). */
export class EngineLoadError extends Error {
  constructor(
    readonly kind: 'model' | 'runtime',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'EngineLoadError';
  }
}

export interface GenerateRequest {
  prompt: string;
  negativePrompt?: string;
  frames?: number;
  width?: number;
  height?: number;
  steps?: number;
  guidance?: number;
  /** Unsigned 32-bit; drawn at random when absent (and no latents are given). */
  seed?: number;
  /** Initial latents (1, 4, frames, height/8, width/8) instead of seeded noise. */
  latents?: Float32Array;
}

export interface GenerateProgress {
  phase: 'denoise' | 'decode';
  /** Denoising steps finished, or frames decoded. */
  done: number;
  total: number;
  /** Denoising steps of this render (also while decoding). */
  totalSteps: number;
  elapsedMs: number;
  etaMs: number;
}

export interface GenerateResult {
  frames: RgbFrames;
  /** The seed used; null when initial latents were given. */
  seed: number | null;
  timings: PipelineTimings;
}

/** Failures that are the model folder's (its configs, weight files, tensors), not the runtime's. */
export function isModelProblem(error: unknown): error is ModelConfigError | SafetensorsError | WeightsMismatchError {
  return error instanceof ModelConfigError || error instanceof SafetensorsError || error instanceof WeightsMismatchError;
}

export class Engine implements Renderer {
  #state: 'loading' | 'ready' | 'failed' | 'closed' = 'loading';
  #message: string | undefined;
  #device: 'cpu' | 'cuda' = 'cpu';
  #pipeline: TextToVideoSDPipeline | undefined;
  #schedulerConfig: Record<string, unknown> = {};
  #decodeMsPerMegapixel: number | undefined;
  #fingerprint: string | undefined;
  readonly #loaded: Promise<void>;
  readonly demo: boolean;
  readonly modelLabel: string;

  private constructor(private readonly options: EngineOptions) {
    this.demo = options.modelDir === '';
    this.modelLabel = this.demo ? DEMO_MODEL_LABEL : resolve(options.modelDir);
    this.#loaded = this.#load();
    // Failures are reported through status() and whenReady(); nothing may go unhandled in the meantime.
    this.#loaded.catch(() => undefined);
  }

  /** Creates the engine and starts loading in the background; status() says loading, ready or failed. */
  static start(options: EngineOptions): Engine {
    return new Engine(options);
  }

  /** Resolves when the model is loaded; rejects with EngineLoadError or EngineDeviceError when it cannot be. */
  async whenReady(): Promise<EngineStatus> {
    await this.#loaded;
    return this.status();
  }

  status(): EngineStatus {
    const messages = [this.#state === 'loading' ? 'loading the model' : undefined, this.#message, this.demo ? DEMO_MODEL_NOTICE : undefined].filter(
      (m): m is string => m !== undefined,
    );
    return {
      ready: this.#state === 'ready',
      model: this.modelLabel,
      demo: this.demo,
      device: this.#device,
      executionProvider: EXECUTION_PROVIDER_NAME[this.#device],
      ...(this.#fingerprint === undefined ? {} : { fingerprint: this.#fingerprint }),
      ...(messages.length > 0 ? { message: messages.join('; ') } : {}),
    };
  }

  async #load(): Promise<void> {
    const { logger } = this.options;
    const started = performance.now();
    try {
      const plan = planDevice(this.options.device, (this.options.cudaProbe ?? probeCudaProvider)());
      if (plan.device === 'cpu' && plan.reason !== undefined) {
        this.#message = plan.reason;
        logger.info(plan.reason);
      }
      const modelDir = await this.#modelFolder();
      this.#fingerprint = await modelFingerprint(modelDir);
      logger.info({ model: this.modelLabel, device: plan.device, demo: this.demo }, 'loading the model');
      if (this.demo) logger.warn(DEMO_MODEL_NOTICE);
      this.#schedulerConfig = await readSchedulerConfig(join(modelDir, 'scheduler')).catch((error: unknown) => {
        throw new ModelConfigError(join(modelDir, 'scheduler'), (error as Error).message);
      });
      let pipeline: TextToVideoSDPipeline;
      if (plan.device === 'cuda') {
        try {
          pipeline = await this.#open(modelDir, 'cuda');
          this.#device = 'cuda';
        } catch (error) {
          if (!plan.fallbackToCpu || !(error instanceof OrtSessionError)) throw error;
          this.#message = `ENGINE_DEVICE=auto fell back to the CPU: the CUDA execution provider did not start (${error.message})`;
          logger.warn({ err: error }, this.#message);
          pipeline = await this.#open(modelDir, 'cpu');
        }
      } else {
        pipeline = await this.#open(modelDir, 'cpu');
      }
      if (this.#state === 'closed') {
        await pipeline.release();
        return;
      }
      this.#pipeline = pipeline;
      this.#state = 'ready';
      logger.info({ model: this.modelLabel, device: this.#device, seconds: round((performance.now() - started) / 1000) }, 'engine ready');
    } catch (error) {
      const failure =
        error instanceof EngineDeviceError || error instanceof EngineLoadError
          ? error
          : new EngineLoadError(isModelProblem(error) ? 'model' : 'runtime', (error as Error).message, { cause: error });
      if (this.#state !== 'closed') this.#state = 'failed';
      this.#message = `the engine could not start: ${failure.message}`;
      logger.error({ err: error }, this.#message);
      throw failure;
    }
  }

  /** The model folder to load: MODEL_DIR checked to be a diffusers folder, or the demo model (generated once). */
  async #modelFolder(): Promise<string> {
    if (this.demo) {
      return ensureDemoModel(this.options.dataDir, (p) => this.options.onLoadProgress?.({ phase: 'demo', ...p }));
    }
    const dir = resolve(this.options.modelDir);
    const isDir = await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir) throw new EngineLoadError('model', `model folder ${dir} does not exist (MODEL_DIR / --model; \`./t2v model pull\` downloads one)`);
    const hasIndex = await stat(join(dir, 'model_index.json')).then(
      () => true,
      () => false,
    );
    if (!hasIndex) throw new EngineLoadError('model', `${dir} is not a diffusers pipeline folder: it has no model_index.json`);
    return dir;
  }

  #open(modelDir: string, device: 'cpu' | 'cuda'): Promise<TextToVideoSDPipeline> {
    const { threads, deviceId } = this.options;
    const sessionOptions: SessionOptions = {
      ...engineSessionOptions(threads),
      executionProvider: device,
      ...(device === 'cuda' ? { deviceId } : {}),
      ...this.options.sessionOptions,
    };
    const load = this.options.loadPipeline ?? TextToVideoSDPipeline.fromPretrained;
    return load(modelDir, {
      // fp16 graphs on the GPU (tensor cores, half the memory); fp32 on the CPU, whose kernels are fp32.
      dtype: device === 'cuda' ? 'float16' : 'float32',
      cacheDir: this.options.cacheDir ?? graphCacheDir(this.options.dataDir),
      sessionOptions,
      onProgress: (p) => {
        if (p.phase === 'build') this.options.logger.info({ network: p.network }, `building the ${p.network} graph (first start with this model; cached afterwards)`);
        if (p.phase === 'invalid') this.options.logger.warn({ network: p.network, reason: p.reason }, 'cached graph invalid; rebuilding');
        this.options.onLoadProgress?.(p);
      },
    });
  }

  /** Runs the pipeline: frames in memory, plus the seed and timings. */
  async generate(request: GenerateRequest, options: { signal?: AbortSignal; onProgress?: (p: GenerateProgress) => void } = {}): Promise<GenerateResult> {
    const base = this.#pipeline;
    if (this.#state !== 'ready' || base === undefined) throw new Error(`the engine is not ready (${this.status().message ?? this.#state})`);
    const seedRange: NumberBounds = { min: 0, max: FIXED_LIMITS.maxSeed, integer: true };
    if (request.seed !== undefined && !inRange(request.seed, seedRange)) throw new RangeError(`${describeRange('seed', seedRange)} (got ${request.seed})`);
    const seed = request.latents !== undefined ? null : (request.seed ?? Math.floor(Math.random() * (FIXED_LIMITS.maxSeed + 1)));
    // A scheduler per call: it holds the call's timesteps, and renders may run concurrently (ENGINE_SLOTS).
    const pipeline = base.withScheduler(new DDIMScheduler(this.#schedulerConfig));
    const width = request.width ?? PIPELINE_DEFAULTS.width;
    const height = request.height ?? PIPELINE_DEFAULTS.height;
    let totalSteps = 0;
    const out = await pipeline.call({
      prompt: request.prompt,
      negativePrompt: request.negativePrompt ?? '',
      numFrames: request.frames,
      width,
      height,
      numInferenceSteps: request.steps,
      guidanceScale: request.guidance,
      ...(seed === null ? { latents: request.latents } : { generator: new Generator(seed) }),
      ...(this.#decodeMsPerMegapixel === undefined ? {} : { decodeMsPerFrameEstimate: (this.#decodeMsPerMegapixel * width * height) / 1e6 }),
      signal: options.signal,
      callback: (p) => {
        if (p.phase === 'denoise') totalSteps = p.totalSteps;
        options.onProgress?.({
          phase: p.phase,
          done: p.phase === 'denoise' ? p.step : p.frame,
          total: p.phase === 'denoise' ? p.totalSteps : p.totalFrames,
          totalSteps,
          elapsedMs: p.elapsedMs,
          etaMs: p.etaMs,
        });
      },
    });
    const decode = out.timings.decodeCalls;
    const decodeSeconds = decode.reduce((a, c) => a + c.seconds, 0);
    const decodedFrames = decode.reduce((a, c) => a + c.frames, 0);
    if (decodedFrames > 0) this.#decodeMsPerMegapixel = (1000 * decodeSeconds * 1e6) / (decodedFrames * width * height);
    return { frames: out.frames, seed, timings: out.timings };
  }

  async render(params: RenderParams, options: RenderOptions): Promise<RenderOutput> {
    const started = performance.now();
    const result = await this.generate(
      {
        prompt: params.prompt,
        negativePrompt: params.negativePrompt,
        frames: params.frames,
        width: params.width,
        height: params.height,
        steps: params.steps,
        guidance: params.guidance,
        seed: params.seed,
      },
      {
        signal: options.signal,
        onProgress: (p) =>
          options.onProgress?.({ step: p.phase === 'denoise' ? p.done : p.totalSteps, totalSteps: p.totalSteps, elapsedMs: p.elapsedMs, etaMs: p.etaMs }),
      },
    );
    let media: ExportedMedia;
    try {
      media = await exportFrames(result.frames, {
        outputDir: options.outputDir,
        fps: params.fps,
        signal: options.signal,
        ...(result.frames.frames > 1 ? { ffmpeg: await this.ffmpeg() } : {}),
      });
    } catch (error) {
      throw asRenderFault(error);
    }
    return { mediaPath: media.mediaPath, mediaType: media.mediaType, bytes: media.bytes, posterPath: media.posterPath, gpuSeconds: (performance.now() - started) / 1000 };
  }

  /** The ffmpeg binary for MP4s: FFMPEG_PATH when configured, else the usual search (video/ffmpeg.ts). */
  ffmpeg(): Promise<FfmpegBinary> {
    return locateConfiguredFfmpeg(this.options.ffmpegPath);
  }

  async close(): Promise<void> {
    const wasLoading = this.#state === 'loading';
    this.#state = 'closed';
    if (wasLoading) await this.#loaded.catch(() => undefined);
    await this.#pipeline?.release();
    this.#pipeline = undefined;
  }
}

/**
 * A failure of the machine rather than of the request (no ffmpeg, ffmpeg killed or failing, a full disk) as the
 * requester's error, whose cause keeps what the operator must fix (which binary, which folder); others unchanged.
 */
function asRenderFault(error: unknown): unknown {
  const fault: RenderFault | undefined =
    error instanceof FfmpegNotFoundError
      ? 'encoder_missing'
      : error instanceof DiskFullError
        ? 'disk_full'
        : error instanceof FfmpegError
          ? 'encoder_failed'
          : undefined;
  return fault === undefined ? error : videoBotError(ErrorCode.EngineFailed, { fault }, { cause: error });
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
