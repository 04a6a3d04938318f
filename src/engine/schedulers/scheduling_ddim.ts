// Mirrors diffusers src/diffusers/schedulers/scheduling_ddim.py (diffusers 0.26.3): DDIMScheduler,
// Song et al. 2020, "Denoising Diffusion Implicit Models" (https://arxiv.org/abs/2010.02502).
//
// Every value is computed as PyTorch computes it in float32 (each elementwise op rounded, schedule
// built with torch's linspace/cumprod kernels), so outputs match diffusers on CPU to the last bit or
// two rather than merely to float32 precision: the golden step outputs are checked to 1e-6 while x0 is
// as large as ~50 at t=961 (x / sqrt(0.0073)).
import { z } from 'zod';
import { f32 } from '../utils/float32.js';
import { randnTensor } from '../utils/torch_utils.js';
import { cumprodFloat32, linspaceFloat32 } from '../utils/torch_ops.js';
import { arange, linspace, roundHalfEven } from '../utils/numpy_ops.js';
import { readSchedulerConfig, type Scheduler, type SchedulerOutput, type SchedulerStepOptions } from './scheduling_utils.js';

/** The DDIMScheduler keys of scheduler_config.json, with diffusers' defaults. */
export const DDIMSchedulerConfigSchema = z.object({
  num_train_timesteps: z.number().int().min(1).default(1000),
  beta_start: z.number().nonnegative().default(0.0001),
  beta_end: z.number().nonnegative().default(0.02),
  beta_schedule: z.enum(['linear', 'scaled_linear', 'squaredcos_cap_v2']).default('linear'),
  trained_betas: z.array(z.number().min(0).max(1)).nullable().default(null),
  clip_sample: z.boolean().default(true),
  set_alpha_to_one: z.boolean().default(true),
  steps_offset: z.number().int().min(0).default(0),
  prediction_type: z.enum(['epsilon', 'sample', 'v_prediction']).default('epsilon'),
  thresholding: z.boolean().default(false),
  dynamic_thresholding_ratio: z.number().gt(0).max(1).default(0.995),
  clip_sample_range: z.number().positive().default(1.0),
  sample_max_value: z.number().positive().default(1.0),
  timestep_spacing: z.enum(['leading', 'trailing', 'linspace']).default('leading'),
  rescale_betas_zero_snr: z.boolean().default(false),
});

export type DDIMSchedulerConfig = z.output<typeof DDIMSchedulerConfigSchema>;

export class DDIMScheduler implements Scheduler {
  readonly config: Readonly<DDIMSchedulerConfig>;
  readonly betas: Float32Array;
  readonly alphas: Float32Array;
  /** ᾱ_t = Π_{s<=t} (1 - β_s), the α_t of the DDIM paper. */
  readonly alphasCumprod: Float32Array;
  /** ᾱ used for the step after t=0: 1 with set_alpha_to_one, else ᾱ_0. */
  readonly finalAlphaCumprod: number;
  readonly initNoiseSigma = 1.0;
  numInferenceSteps: number | null = null;
  private currentTimesteps: number[];

  /** `config` holds scheduler_config.json keys; missing ones take diffusers' defaults. */
  constructor(config: Record<string, unknown> = {}) {
    const parsed = DDIMSchedulerConfigSchema.safeParse(config);
    if (!parsed.success) throw new Error(`invalid DDIMScheduler config:\n${z.prettifyError(parsed.error)}`);
    this.config = Object.freeze(parsed.data);
    const cfg = this.config;
    if (cfg.trained_betas !== null && cfg.trained_betas.length !== cfg.num_train_timesteps) {
      throw new Error(`DDIMScheduler trained_betas has ${cfg.trained_betas.length} values; num_train_timesteps is ${cfg.num_train_timesteps}`);
    }

    let betas = betaSchedule(cfg);
    if (cfg.rescale_betas_zero_snr) betas = rescaleZeroTerminalSnr(betas);
    this.betas = betas;
    this.alphas = betas.map((beta) => 1 - beta);
    this.alphasCumprod = cumprodFloat32(this.alphas);
    // At every step DDIM looks at the previous ᾱ; the last step has none.
    this.finalAlphaCumprod = cfg.set_alpha_to_one ? 1 : (this.alphasCumprod[0] as number);
    this.currentTimesteps = Array.from({ length: cfg.num_train_timesteps }, (_, i) => cfg.num_train_timesteps - 1 - i);
  }

  /** Loads `<dir>/scheduler_config.json`, as `DDIMScheduler.from_pretrained(dir)`. */
  static async fromPretrained(dir: string): Promise<DDIMScheduler> {
    return new DDIMScheduler(await readSchedulerConfig(dir));
  }

  get timesteps(): readonly number[] {
    return this.currentTimesteps;
  }

  /** DDIM needs no input scaling; returns `sample` itself. */
  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  setTimesteps(numInferenceSteps: number): void {
    const trainSteps = this.config.num_train_timesteps;
    if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > trainSteps) {
      throw new RangeError(`numInferenceSteps must be an integer from 1 to ${trainSteps} (num_train_timesteps), got ${numInferenceSteps}`);
    }
    this.numInferenceSteps = numInferenceSteps;
    let timesteps: number[];
    switch (this.config.timestep_spacing) {
      // "linspace", "leading" and "trailing" follow Table 2 of https://arxiv.org/abs/2305.08891.
      case 'linspace':
        timesteps = linspace(0, trainSteps - 1, numInferenceSteps).map(roundHalfEven).reverse();
        break;
      case 'leading': {
        // Integer ratio so that every timestep is a multiple of it; steps_offset shifts the grid (SD uses 1).
        const stepRatio = Math.floor(trainSteps / numInferenceSteps);
        timesteps = Array.from({ length: numInferenceSteps }, (_, i) => i * stepRatio + this.config.steps_offset).reverse();
        break;
      }
      case 'trailing': {
        const stepRatio = trainSteps / numInferenceSteps;
        timesteps = arange(trainSteps, 0, -stepRatio).map((t) => roundHalfEven(t) - 1);
        break;
      }
    }
    this.currentTimesteps = timesteps;
  }

  /**
   * DDIM update, formulas (12) and (16) of the paper:
   *   x0  = (x_t − √(1−ᾱ_t)·ε) / √ᾱ_t                                   "predicted x0"
   *   σ_t = η · √((1−ᾱ_{t−1})/(1−ᾱ_t)) · √(1 − ᾱ_t/ᾱ_{t−1})
   *   x_{t−1} = √ᾱ_{t−1}·x0 + √(1−ᾱ_{t−1}−σ_t²)·ε + σ_t·z,   z ~ N(0, I)
   * with t−1 meaning t − num_train_timesteps // num_inference_steps, as diffusers does for every spacing.
   */
  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, options: SchedulerStepOptions = {}): SchedulerOutput {
    const { eta = 0, generator, varianceNoise, useClippedModelOutput = false } = options;
    const cfg = this.config;
    if (this.numInferenceSteps === null) {
      throw new Error('DDIMScheduler.step called before setTimesteps: set the number of inference steps first');
    }
    if (modelOutput.length !== sample.length) {
      throw new RangeError(`modelOutput has ${modelOutput.length} values but sample has ${sample.length}; they must match`);
    }
    if (!Number.isInteger(timestep) || timestep < 0 || timestep >= cfg.num_train_timesteps) {
      throw new RangeError(`timestep must be an integer from 0 to ${cfg.num_train_timesteps - 1}, got ${timestep}`);
    }
    if (!(eta >= 0)) throw new RangeError(`eta must be >= 0, got ${eta}`);

    // 1. previous step value (= t - 1 in the paper's notation)
    const prevTimestep = timestep - Math.floor(cfg.num_train_timesteps / this.numInferenceSteps);
    // 2. alphas, betas
    const alphaProdT = this.alphasCumprod[timestep] as number;
    const alphaProdTPrev = prevTimestep >= 0 ? (this.alphasCumprod[prevTimestep] as number) : this.finalAlphaCumprod;
    const betaProdT = f32(1 - alphaProdT);
    const sqrtAlphaProdT = f32(Math.sqrt(alphaProdT));
    const sqrtBetaProdT = f32(Math.sqrt(betaProdT));

    // 3. predicted x0 and ε, formula (12), in the parameterisation the model was trained with
    const n = sample.length;
    let predOriginalSample: Float32Array = new Float32Array(n);
    let predEpsilon: Float32Array = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = sample[i] as number;
      const out = modelOutput[i] as number;
      switch (cfg.prediction_type) {
        case 'epsilon':
          predOriginalSample[i] = f32(f32(x - f32(sqrtBetaProdT * out)) / sqrtAlphaProdT);
          predEpsilon[i] = out;
          break;
        case 'sample':
          predOriginalSample[i] = out;
          predEpsilon[i] = f32(f32(x - f32(sqrtAlphaProdT * out)) / sqrtBetaProdT);
          break;
        case 'v_prediction':
          // v = √ᾱ·ε − √(1−ᾱ)·x0 (Salimans & Ho 2022, section 4)
          predOriginalSample[i] = f32(f32(sqrtAlphaProdT * x) - f32(sqrtBetaProdT * out));
          predEpsilon[i] = f32(f32(sqrtAlphaProdT * out) + f32(sqrtBetaProdT * x));
          break;
      }
    }

    // 4. clip or threshold x0
    if (cfg.thresholding) {
      predOriginalSample = this.thresholdSample(predOriginalSample, options.batchSize);
    } else if (cfg.clip_sample) {
      const range = f32(cfg.clip_sample_range);
      predOriginalSample = predOriginalSample.map((v) => Math.min(Math.max(v, -range), range));
    }

    // 5. σ_t(η), formula (16)
    const variance = ddimVariance(alphaProdT, alphaProdTPrev, betaProdT);
    const stdDevT = f32(f32(eta) * f32(Math.sqrt(variance)));

    if (useClippedModelOutput) {
      // ε re-derived from the clipped x0, as in Glide
      predEpsilon = predEpsilon.map((_, i) => f32(f32((sample[i] as number) - f32(sqrtAlphaProdT * (predOriginalSample[i] as number))) / sqrtBetaProdT));
    }

    // 6. "direction pointing to x_t" and 7. x_{t-1} without the random noise, formula (12)
    const directionCoefficient = f32(Math.sqrt(f32(f32(1 - alphaProdTPrev) - f32(stdDevT * stdDevT))));
    const sqrtAlphaProdTPrev = f32(Math.sqrt(alphaProdTPrev));
    const prevSample = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const direction = f32(directionCoefficient * (predEpsilon[i] as number));
      prevSample[i] = f32(f32(sqrtAlphaProdTPrev * (predOriginalSample[i] as number)) + direction);
    }

    if (eta > 0) {
      const noise = this.varianceNoise(n, generator, varianceNoise);
      for (let i = 0; i < n; i++) prevSample[i] = f32((prevSample[i] as number) + f32(stdDevT * (noise[i] as number)));
    }
    return { prevSample, predOriginalSample };
  }

  private varianceNoise(n: number, generator: SchedulerStepOptions['generator'], given: Float32Array | undefined): Float32Array {
    if (given !== undefined && generator !== undefined) {
      throw new Error('pass either a generator or varianceNoise to DDIMScheduler.step, not both');
    }
    if (given !== undefined) {
      if (given.length !== n) throw new RangeError(`varianceNoise has ${given.length} values; the sample has ${n}`);
      return given;
    }
    // diffusers would fall back to torch's global generator; we require one so results stay reproducible.
    if (generator === undefined) throw new Error('DDIMScheduler.step with eta > 0 needs a generator (or varianceNoise) for the variance noise');
    return randnTensor([n], generator);
  }

  /**
   * Dynamic thresholding (Imagen, https://arxiv.org/abs/2205.11487): per sample, s = the
   * dynamic_thresholding_ratio quantile of |x0| clamped to [1, sample_max_value]; x0 is clamped to
   * [−s, s] and divided by s, pushing saturated pixels inwards.
   */
  private thresholdSample(sample: Float32Array, batchSize: number | undefined): Float32Array {
    if (batchSize === undefined || !Number.isInteger(batchSize) || batchSize < 1 || sample.length % batchSize !== 0) {
      throw new RangeError(`thresholding needs options.batchSize, a positive integer dividing ${sample.length} (B·F for video latents), got ${batchSize}`);
    }
    const rowLength = sample.length / batchSize;
    const out = new Float32Array(sample.length);
    for (let row = 0; row < batchSize; row++) {
      const values = sample.subarray(row * rowLength, (row + 1) * rowLength);
      const s = Math.min(Math.max(quantileLinear(values.map(Math.abs), this.config.dynamic_thresholding_ratio), 1), f32(this.config.sample_max_value));
      for (let i = 0; i < rowLength; i++) out[row * rowLength + i] = f32(Math.min(Math.max(values[i] as number, -s), s) / s);
    }
    return out;
  }
}

/** σ_t² / η², diffusers' `DDIMScheduler._get_variance`, from the ᾱ values `step` already looked up. */
function ddimVariance(alphaProdT: number, alphaProdTPrev: number, betaProdT: number): number {
  const betaProdTPrev = f32(1 - alphaProdTPrev);
  return f32(f32(betaProdTPrev / betaProdT) * f32(1 - f32(alphaProdT / alphaProdTPrev)));
}

/** Betas of the configured schedule, as torch float32 tensors. */
function betaSchedule(cfg: DDIMSchedulerConfig): Float32Array {
  if (cfg.trained_betas !== null) return Float32Array.from(cfg.trained_betas);
  switch (cfg.beta_schedule) {
    case 'linear':
      return linspaceFloat32(cfg.beta_start, cfg.beta_end, cfg.num_train_timesteps);
    case 'scaled_linear':
      // Latent diffusion's schedule: linear in √β.
      return linspaceFloat32(Math.sqrt(cfg.beta_start), Math.sqrt(cfg.beta_end), cfg.num_train_timesteps).map((b) => b * b);
    case 'squaredcos_cap_v2':
      return betasForAlphaBar(cfg.num_train_timesteps);
  }
}

/**
 * Glide's cosine schedule (Nichol & Dhariwal 2021, eq. 17): ᾱ(t) = cos²((t + 0.008)/1.008 · π/2),
 * β_i = min(1 − ᾱ((i+1)/T)/ᾱ(i/T), 0.999), in float64 then stored as float32.
 */
function betasForAlphaBar(numDiffusionTimesteps: number, maxBeta = 0.999): Float32Array {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  return Float32Array.from({ length: numDiffusionTimesteps }, (_, i) =>
    Math.min(1 - alphaBar((i + 1) / numDiffusionTimesteps) / alphaBar(i / numDiffusionTimesteps), maxBeta),
  );
}

/**
 * Rescales betas to zero terminal SNR (Lin et al. 2023, https://arxiv.org/abs/2305.08891, Algorithm 1):
 * shift √ᾱ so its last value is 0, scale so its first value is unchanged, then recover betas.
 */
function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const alphasBarSqrt = cumprodFloat32(betas.map((b) => 1 - b)).map(Math.sqrt);
  const first = alphasBarSqrt[0] as number;
  const last = alphasBarSqrt[alphasBarSqrt.length - 1] as number;
  const scale = f32(first / f32(first - last));
  const alphasBar = alphasBarSqrt.map((v) => {
    const shifted = f32(f32(v - last) * scale);
    return shifted * shifted;
  });
  return alphasBar.map((v, i) => 1 - (i === 0 ? v : f32(v / (alphasBar[i - 1] as number))));
}

/** torch.quantile's default (linear interpolation between the two nearest ranks). */
function quantileLinear(values: Float32Array, q: number): number {
  const sorted = Float32Array.from(values).sort();
  const rank = q * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.min(lower + 1, sorted.length - 1);
  const weight = rank - lower;
  return f32((sorted[lower] as number) + weight * ((sorted[upper] as number) - (sorted[lower] as number)));
}
