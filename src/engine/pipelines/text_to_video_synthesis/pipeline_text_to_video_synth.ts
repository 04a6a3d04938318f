// Mirrors diffusers src/diffusers/pipelines/deprecated/text_to_video_synthesis/pipeline_text_to_video_synth.py
// (diffusers==0.26.3): TextToVideoSDPipeline. The networks are ONNX graphs (text encoder, UNet3D, VAE decoder)
// run through ONNX Runtime sessions, as diffusers' Onnx*Pipelines call theirs: `unet.run({ sample, timestep,
// encoder_hidden_states })`. The pipeline owns everything between them: tokenizing, classifier-free guidance,
// the frames<->batch fold around the scheduler, the denoising loop, decoding and post-processing.
//
// Layouts follow diffusers: video latents (B, C, F, h, w) with B = 1 here (one prompt per call); the UNet sees
// (2, C, F, h, w) with classifier-free guidance (row 0 unconditional, row 1 conditional); the scheduler sees the
// latents folded to (B·F, C, h, w); the VAE decodes (k, C, h, w) slices of frames; frames come out as uint8
// (F, H, W, 3).
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describeRange, ENGINE_LIMITS, FIXED_LIMITS, inRange, type NumberBounds, PARAM_DEFAULTS } from '../../../core/requests.js';
import type { AutoencoderKLConfig } from '../../models/autoencoders/autoencoder_kl.js';
import { CLIPTokenizer } from '../../models/clip/tokenization_clip.js';
import { ModelConfigError } from '../../models/model_config.js';
import { type LoadProgress, loadModelGraphs, type NetworkName } from '../../models/model_graphs.js';
import type { UNet3DConditionConfig } from '../../models/unets/unet_3d_condition.js';
import type { FloatType } from '../../nn/module.js';
import { createSession, type SessionOptions } from '../../onnx/session.js';
import { DDIMScheduler } from '../../schedulers/scheduling_ddim.js';
import type { Scheduler } from '../../schedulers/scheduling_utils.js';
import { f32 } from '../../utils/float32.js';
import type { Generator } from '../../utils/generator.js';
import { randnTensor } from '../../utils/torch_utils.js';
import type { RgbFrames } from '../../../video/frames.js';

/** What the pipeline needs of a network: ONNX Runtime's `run` (an InferenceSession, or a test double). */
export type OnnxModel = Pick<ort.InferenceSession, 'run'>;

export interface TextToVideoSDPipelineComponents {
  tokenizer: CLIPTokenizer;
  /** CLIPTextModel graph: `input_ids` int64 (N, 77) -> `last_hidden_state` float32 (N, 77, D). */
  textEncoder: OnnxModel;
  /** UNet3DConditionModel graph: `sample`, `timestep`, `encoder_hidden_states` -> `out_sample`. */
  unet: OnnxModel;
  /** AutoencoderKL decoder graph: `latent_sample` (k, C, h, w) -> `sample` (k, 3, H, W). */
  vae: OnnxModel;
  scheduler: Scheduler;
  unetConfig: Pick<UNet3DConditionConfig, 'in_channels'>;
  vaeConfig: Pick<AutoencoderKLConfig, 'scaling_factor' | 'block_out_channels'>;
}

/**
 * Bounds the pipeline accepts, whatever a caller's own limits are: the engine's and service's fixed limits of
 * core/requests.ts, and for frames and sides the highest MAX_FRAMES / MAX_SIDE the service configuration allows.
 */
export const PIPELINE_LIMITS = {
  minFrames: ENGINE_LIMITS.minFrames,
  maxFrames: 256,
  minSide: FIXED_LIMITS.minSide,
  maxSide: 2048,
  minSteps: ENGINE_LIMITS.minSteps,
  maxSteps: ENGINE_LIMITS.maxSteps,
  minGuidance: ENGINE_LIMITS.minGuidance,
  maxGuidance: FIXED_LIMITS.maxGuidance,
} as const;

/** The service's defaults (core/requests.ts), so `t2v generate` and the service default alike. */
export const PIPELINE_DEFAULTS = {
  numFrames: PARAM_DEFAULTS.frames,
  height: PARAM_DEFAULTS.height,
  width: PARAM_DEFAULTS.width,
  /** diffusers defaults to 50; the bot's 25 is its speed/quality trade-off. */
  numInferenceSteps: PARAM_DEFAULTS.steps,
  guidanceScale: PARAM_DEFAULTS.guidance,
} as const;

export type PipelineProgress =
  | {
      phase: 'denoise';
      /** Steps finished (1..totalSteps). */
      step: number;
      totalSteps: number;
      timestep: number;
      elapsedMs: number;
      /** Estimated milliseconds left for the rest of the call: denoising, plus decoding when an estimate was given. */
      etaMs: number;
    }
  | { phase: 'decode'; frame: number; totalFrames: number; elapsedMs: number; etaMs: number };

export interface TextToVideoSDPipelineCallOptions {
  prompt: string;
  /** '' (the default) encodes the empty string as the unconditional prompt. */
  negativePrompt?: string;
  numFrames?: number;
  height?: number;
  width?: number;
  numInferenceSteps?: number;
  /** 1 disables classifier-free guidance: one UNet row per step and no negative prompt encoding. */
  guidanceScale?: number;
  /** Source of the initial noise (torch CPU semantics). Needed unless `latents` are given. */
  generator?: Generator;
  /** Initial latents (1, in_channels, F, H/8, W/8), row-major; used instead of drawing noise. */
  latents?: Float32Array;
  /** Frames per VAE call: memory for decoding grows with it, not with the frame count. Default 1. */
  decodeChunkSize?: number;
  /** Expected decode milliseconds per frame (from an earlier call), for the ETA while denoising. */
  decodeMsPerFrameEstimate?: number;
  /** Called after every denoising step and every decoded slice. */
  callback?: (progress: PipelineProgress) => void;
  /** Checked before every step and every decoded slice; rejects with an AbortError DOMException. */
  signal?: AbortSignal;
}

export interface PipelineTimings {
  encodePromptSeconds: number;
  /** Wall time of each UNet call. */
  unetSeconds: number[];
  /** Wall time of each whole step (UNet call, guidance and scheduler step). */
  stepSeconds: number[];
  /** Wall time of each VAE call and the frames it decoded. */
  decodeCalls: { seconds: number; frames: number }[];
  totalSeconds: number;
}

export interface TextToVideoSDPipelineOutput {
  /** uint8 RGB frames, (F, H, W, 3): `(frames * 255).astype(uint8)` of diffusers' np output. */
  frames: RgbFrames;
  /** Final latents (1, C, F, h, w), before decoding ("latent" output). */
  latents: Float32Array;
  timings: PipelineTimings;
}

export interface PipelineInputIssue {
  /** The option's name (numFrames, height, ...). */
  field: string;
  /** A sentence naming the allowed values and the rejected one. */
  message: string;
}

/** A call option is outside its allowed range; `issues` lists every one. */
export class PipelineInputError extends RangeError {
  constructor(readonly issues: readonly PipelineInputIssue[]) {
    super(issues.map((i) => i.message).join(' '));
    this.name = 'PipelineInputError';
  }
}

function abortError(): DOMException {
  return new DOMException('The render was aborted', 'AbortError');
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError();
}

function tensorData(outputs: ort.InferenceSession.ReturnType, name: string): Float32Array {
  const value = outputs[name];
  if (!(value instanceof ort.Tensor) || value.type !== 'float32') throw new Error(`the ONNX graph returned no float32 output "${name}"`);
  return value.data as Float32Array;
}

export type FromPretrainedProgress = LoadProgress | { phase: 'session'; network: NetworkName; seconds: number };

export interface FromPretrainedOptions {
  /** float32 graphs for the CPU EP, float16 for CUDA. */
  dtype: FloatType;
  /** Where built graphs are cached. */
  cacheDir: string;
  sessionOptions: SessionOptions;
  onProgress?: (progress: FromPretrainedProgress) => void;
}

export class TextToVideoSDPipeline {
  readonly vaeScaleFactor: number;

  constructor(
    readonly components: TextToVideoSDPipelineComponents,
    /** Frees what the components hold (ONNX Runtime sessions); see `release`. */
    private readonly releaseComponents: () => Promise<void> = async () => undefined,
  ) {
    // diffusers: 2 ** (len(self.vae.config.block_out_channels) - 1)
    this.vaeScaleFactor = 2 ** (components.vaeConfig.block_out_channels.length - 1);
  }

  /**
   * `TextToVideoSDPipeline.from_pretrained(modelDir)`: the tokenizer and scheduler from their folders, the three
   * graphs built (or loaded from the cache) and opened as ONNX Runtime sessions. Model problems throw
   * ModelConfigError, SafetensorsError or WeightsMismatchError naming the file or tensor; session problems
   * OrtSessionError.
   */
  static async fromPretrained(modelDir: string, options: FromPretrainedOptions): Promise<TextToVideoSDPipeline> {
    const asModelProblem = (folder: string) => (error: unknown) => {
      throw new ModelConfigError(join(modelDir, folder), (error as Error).message);
    };
    const tokenizer = await CLIPTokenizer.fromPretrained(join(modelDir, 'tokenizer')).catch(asModelProblem('tokenizer'));
    const scheduler = await DDIMScheduler.fromPretrained(join(modelDir, 'scheduler')).catch(asModelProblem('scheduler'));
    const graphs = await loadModelGraphs({ modelDir, dtype: options.dtype, cacheDir: options.cacheDir, onProgress: options.onProgress });
    const sessions: ort.InferenceSession[] = [];
    const open = async (network: NetworkName): Promise<ort.InferenceSession> => {
      const started = performance.now();
      const session = await createSession(graphs.paths[network]!, options.sessionOptions);
      sessions.push(session);
      options.onProgress?.({ phase: 'session', network, seconds: (performance.now() - started) / 1000 });
      return session;
    };
    const release = async (): Promise<void> => {
      await Promise.all(sessions.map((s) => s.release()));
    };
    try {
      const components: TextToVideoSDPipelineComponents = {
        tokenizer,
        textEncoder: await open('text_encoder'),
        unet: await open('unet'),
        vae: await open('vae_decoder'),
        scheduler,
        unetConfig: graphs.configs.unet,
        vaeConfig: graphs.configs.vae,
      };
      return new TextToVideoSDPipeline(components, release);
    } catch (error) {
      await release();
      throw error;
    }
  }

  /**
   * A pipeline sharing these networks with its own scheduler (which holds a call's timesteps), so calls can run
   * concurrently. Releasing stays with this pipeline.
   */
  withScheduler(scheduler: Scheduler): TextToVideoSDPipeline {
    return new TextToVideoSDPipeline({ ...this.components, scheduler });
  }

  /** Releases the ONNX Runtime sessions; the pipeline cannot be called afterwards. */
  release(): Promise<void> {
    return this.releaseComponents();
  }

  /** The allowed value of each option, with the rejected one, for every wrong option at once. */
  checkInputs(options: TextToVideoSDPipelineCallOptions): Required<Pick<TextToVideoSDPipelineCallOptions, 'numFrames' | 'height' | 'width' | 'numInferenceSteps' | 'guidanceScale'>> {
    const L = PIPELINE_LIMITS;
    const issues: PipelineInputIssue[] = [];
    const resolved = {
      numFrames: options.numFrames ?? PIPELINE_DEFAULTS.numFrames,
      height: options.height ?? PIPELINE_DEFAULTS.height,
      width: options.width ?? PIPELINE_DEFAULTS.width,
      numInferenceSteps: options.numInferenceSteps ?? PIPELINE_DEFAULTS.numInferenceSteps,
      guidanceScale: options.guidanceScale ?? PIPELINE_DEFAULTS.guidanceScale,
    };
    const check = (field: keyof typeof resolved, bounds: NumberBounds): void => {
      const value = resolved[field];
      if (!inRange(value, bounds)) issues.push({ field, message: `${describeRange(field, bounds)} (got ${value}).` });
    };
    const side: NumberBounds = { min: L.minSide, max: L.maxSide, integer: true, multipleOf: this.vaeScaleFactor };
    check('numFrames', { min: L.minFrames, max: L.maxFrames, integer: true });
    check('height', side);
    check('width', side);
    check('numInferenceSteps', { min: L.minSteps, max: L.maxSteps, integer: true });
    check('guidanceScale', { min: L.minGuidance, max: L.maxGuidance, integer: false });
    if (typeof options.prompt !== 'string') issues.push({ field: 'prompt', message: `prompt must be text (got ${typeof options.prompt}).` });
    if (options.negativePrompt !== undefined && typeof options.negativePrompt !== 'string') {
      issues.push({ field: 'negativePrompt', message: `negativePrompt must be text (got ${typeof options.negativePrompt}).` });
    }
    const chunk = options.decodeChunkSize ?? 1;
    if (!Number.isInteger(chunk) || chunk < 1) issues.push({ field: 'decodeChunkSize', message: `decodeChunkSize must be a whole number of at least 1 (got ${chunk}).` });
    if (options.latents === undefined && options.generator === undefined) {
      issues.push({ field: 'generator', message: 'a generator (seed) or initial latents are needed.' });
    }
    if (options.latents !== undefined && issues.length === 0) {
      const shape = this.latentShape(resolved.numFrames, resolved.height, resolved.width);
      const expected = shape.reduce((a, b) => a * b, 1);
      if (options.latents.length !== expected) {
        issues.push({ field: 'latents', message: `latents must have shape (${shape.join(', ')}), ${expected} values, for these frames, height and width (got ${options.latents.length} values).` });
      } else if (!options.latents.every(Number.isFinite)) {
        issues.push({ field: 'latents', message: 'latents must be finite numbers (found NaN or infinity).' });
      }
    }
    if (issues.length > 0) throw new PipelineInputError(issues);
    return resolved;
  }

  /** (1, in_channels, F, H / vae_scale_factor, W / vae_scale_factor). */
  latentShape(numFrames: number, height: number, width: number): [number, number, number, number, number] {
    return [1, this.components.unetConfig.in_channels, numFrames, height / this.vaeScaleFactor, width / this.vaeScaleFactor];
  }

  /**
   * encode_prompt: the prompt's last_hidden_state, and with guidance the negative prompt's before it, from one
   * text-encoder run: (2, 77, D) = [uncond, cond], or (1, 77, D) = [cond].
   */
  async encodePrompt(prompt: string, doClassifierFreeGuidance: boolean, negativePrompt: string): Promise<ort.Tensor> {
    const { tokenizer, textEncoder } = this.components;
    const texts = doClassifierFreeGuidance ? [negativePrompt, prompt] : [prompt];
    const maxLength = tokenizer.modelMaxLength;
    const ids = new BigInt64Array(texts.length * maxLength);
    texts.forEach((text, row) => {
      // tokenizer(text, padding="max_length", max_length=tokenizer.model_max_length, truncation=True)
      const { inputIds } = tokenizer.call(text, { maxLength });
      inputIds.forEach((id, i) => (ids[row * maxLength + i] = BigInt(id)));
    });
    const outputs = await textEncoder.run({ input_ids: new ort.Tensor('int64', ids, [texts.length, maxLength]) });
    const hidden = outputs.last_hidden_state;
    if (!(hidden instanceof ort.Tensor)) throw new Error('the text encoder graph returned no "last_hidden_state"');
    return hidden; // [N, 77, D]
  }

  /** prepare_latents: drawn with the generator as torch.randn would, or the given ones, times init_noise_sigma. */
  prepareLatents(shape: readonly number[], generator: Generator | undefined, latents: Float32Array | undefined): Float32Array {
    const source = latents ?? randnTensor(shape, generator!);
    const sigma = f32(this.components.scheduler.initNoiseSigma);
    return source.map((v) => f32(v * sigma)); // [1, C, F, h, w]
  }

  async call(options: TextToVideoSDPipelineCallOptions): Promise<TextToVideoSDPipelineOutput> {
    const started = performance.now();
    const elapsedMs = (): number => performance.now() - started;
    const { unet, scheduler } = this.components;

    // 1. Check inputs. Raise error if not correct
    const { numFrames, height, width, numInferenceSteps, guidanceScale } = this.checkInputs(options);
    const signal = options.signal;
    throwIfAborted(signal);

    // 2. Define call parameters: one prompt (batch_size 1); guidance_scale = 1 means no classifier-free
    // guidance (w of equation (2) of the Imagen paper, https://arxiv.org/abs/2205.11487).
    const doClassifierFreeGuidance = guidanceScale > 1;
    const rows = doClassifierFreeGuidance ? 2 : 1;

    // 3. Encode input prompt ([negative_prompt_embeds, prompt_embeds] with guidance)
    let t0 = performance.now();
    const promptEmbeds = await this.encodePrompt(options.prompt, doClassifierFreeGuidance, options.negativePrompt ?? ''); // [rows, 77, D]
    const encodePromptSeconds = (performance.now() - t0) / 1000;

    // 4. Prepare timesteps
    scheduler.setTimesteps(numInferenceSteps);
    const timesteps = scheduler.timesteps;

    // 5. Prepare latent variables
    const shape = this.latentShape(numFrames, height, width);
    const [, channels, , h, w] = shape;
    let latents = this.prepareLatents(shape, options.generator, options.latents); // [1, C, F, h, w]
    const n = latents.length;

    // 6. Prepare extra step kwargs: eta is 0 (deterministic DDIM), so only the fold's batch size, which
    // per-sample thresholding needs, reaches the scheduler.
    const stepOptions = { batchSize: numFrames };

    // 7. Denoising loop
    const unetSeconds: number[] = [];
    const stepSeconds: number[] = [];
    const decodeMsPerFrame = options.decodeMsPerFrameEstimate;
    const modelInput = new Float32Array(rows * n);
    for (let i = 0; i < timesteps.length; i++) {
      throwIfAborted(signal);
      const stepStarted = performance.now();
      const t = timesteps[i]!;
      // expand the latents if we are doing classifier free guidance: cat([latents] * 2)
      const scaled = scheduler.scaleModelInput(latents, t); // [1, C, F, h, w]
      for (let r = 0; r < rows; r++) modelInput.set(scaled, r * n); // [rows, C, F, h, w]

      // predict the noise residual
      t0 = performance.now();
      const outputs = await unet.run({
        sample: new ort.Tensor('float32', modelInput, [rows, channels, numFrames, h, w]),
        timestep: new ort.Tensor('int64', BigInt64Array.from([BigInt(t)]), [1]),
        encoder_hidden_states: promptEmbeds,
      });
      unetSeconds.push((performance.now() - t0) / 1000);
      const out = tensorData(outputs, 'out_sample'); // [rows, C, F, h, w]

      // perform guidance: noise_pred_uncond + guidance_scale * (noise_pred_text - noise_pred_uncond)
      let noisePred: Float32Array;
      if (doClassifierFreeGuidance) {
        const g = f32(guidanceScale);
        noisePred = new Float32Array(n); // [1, C, F, h, w]
        for (let j = 0; j < n; j++) {
          const uncond = out[j]!;
          noisePred[j] = f32(uncond + f32(g * f32(out[n + j]! - uncond)));
        }
      } else {
        noisePred = out.subarray(0, n);
      }

      // reshape latents and noise to (B·F, C, h, w), compute the previous noisy sample x_t -> x_t-1, reshape back
      const folded = scheduler.step(foldFrames(noisePred, shape), t, foldFrames(latents, shape), stepOptions).prevSample; // [F, C, h, w]
      latents = unfoldFrames(folded, shape); // [1, C, F, h, w]

      stepSeconds.push((performance.now() - stepStarted) / 1000);
      const meanStepMs = (1000 * stepSeconds.reduce((a, b) => a + b, 0)) / stepSeconds.length;
      const remainingSteps = timesteps.length - (i + 1);
      options.callback?.({
        phase: 'denoise',
        step: i + 1,
        totalSteps: timesteps.length,
        timestep: t,
        elapsedMs: elapsedMs(),
        etaMs: remainingSteps * meanStepMs + numFrames * (decodeMsPerFrame ?? 0),
      });
    }

    // 8. Post processing
    throwIfAborted(signal);
    const decoded = await this.decodeLatents(latents, shape, options.decodeChunkSize ?? 1, signal, (frame, frameMs) =>
      options.callback?.({ phase: 'decode', frame, totalFrames: numFrames, elapsedMs: elapsedMs(), etaMs: (numFrames - frame) * frameMs }),
    );
    return {
      frames: decoded.frames,
      latents,
      timings: { encodePromptSeconds, unetSeconds, stepSeconds, decodeCalls: decoded.calls, totalSeconds: elapsedMs() / 1000 },
    };
  }

  /**
   * decode_latents + video_processor.postprocess_video(output_type="np") + `(frames * 255).astype(uint8)`, a
   * slice of `chunkSize` frames per VAE call so memory stays bounded at any frame count:
   * `1 / scaling_factor * latents`, (B·F, C, h, w) through the decoder, `(x / 2 + 0.5).clamp(0, 1)`, channels
   * last, times 255 truncated to uint8 (as diffusers' export_to_video; see docs/pipeline.md for why truncation).
   */
  async decodeLatents(
    latents: Float32Array,
    shape: readonly [number, number, number, number, number],
    chunkSize: number,
    signal: AbortSignal | undefined,
    onSlice: (framesDone: number, meanFrameMs: number) => void,
  ): Promise<{ frames: RgbFrames; calls: { seconds: number; frames: number }[] }> {
    const [, channels, numFrames, h, w] = shape;
    const { vae, vaeConfig } = this.components;
    const scale = f32(1 / vaeConfig.scaling_factor);
    const height = h * this.vaeScaleFactor;
    const width = w * this.vaeScaleFactor;
    const frames: RgbFrames = { data: new Uint8Array(numFrames * height * width * 3), frames: numFrames, height, width };
    const calls: { seconds: number; frames: number }[] = [];
    const plane = h * w;
    const pixels = height * width;
    for (let first = 0; first < numFrames; first += chunkSize) {
      throwIfAborted(signal);
      const k = Math.min(chunkSize, numFrames - first);
      const z = new Float32Array(k * channels * plane); // [k, C, h, w]
      for (let f = 0; f < k; f++) {
        for (let c = 0; c < channels; c++) {
          const src = (c * numFrames + first + f) * plane;
          const dst = (f * channels + c) * plane;
          for (let p = 0; p < plane; p++) z[dst + p] = f32(scale * latents[src + p]!);
        }
      }
      const t0 = performance.now();
      const outputs = await vae.run({ latent_sample: new ort.Tensor('float32', z, [k, channels, h, w]) });
      calls.push({ seconds: (performance.now() - t0) / 1000, frames: k });
      const image = tensorData(outputs, 'sample'); // [k, 3, H, W]
      for (let f = 0; f < k; f++) {
        const out = frames.data.subarray((first + f) * pixels * 3, (first + f + 1) * pixels * 3); // [H, W, 3]
        for (let c = 0; c < 3; c++) {
          const src = (f * 3 + c) * pixels;
          for (let p = 0; p < pixels; p++) {
            const v = Math.min(Math.max(f32(f32(image[src + p]! / 2) + 0.5), 0), 1);
            out[p * 3 + c] = Math.trunc(f32(v * 255));
          }
        }
      }
      const done = first + k;
      const decodeSeconds = calls.reduce((a, b) => a + b.seconds, 0);
      onSlice(done, (1000 * decodeSeconds) / done);
    }
    return { frames, calls };
  }
}

/** (1, C, F, h, w) -> (F, C, h, w): diffusers' `latents.permute(0, 2, 1, 3, 4).reshape(bsz * frames, ...)`. */
export function foldFrames(x: Float32Array, shape: readonly [number, number, number, number, number]): Float32Array {
  const [, channels, frames, h, w] = shape;
  return swapPlaneAxes(x, channels, frames, h * w);
}

/** (F, C, h, w) -> (1, C, F, h, w), the inverse of foldFrames. */
export function unfoldFrames(x: Float32Array, shape: readonly [number, number, number, number, number]): Float32Array {
  const [, channels, frames, h, w] = shape;
  return swapPlaneAxes(x, frames, channels, h * w);
}

/** (a, b, plane) -> (b, a, plane), one plane copy at a time. */
function swapPlaneAxes(x: Float32Array, a: number, b: number, plane: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) out.set(x.subarray((i * b + j) * plane, (i * b + j + 1) * plane), (j * a + i) * plane);
  }
  return out;
}
