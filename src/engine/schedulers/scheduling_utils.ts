// Mirrors diffusers src/diffusers/schedulers/scheduling_utils.py (diffusers 0.26.3): the contract every
// scheduler meets (SchedulerMixin) and the shared loading of scheduler_config.json. Schedulers are pure
// math on flat Float32Arrays: the pipeline owns shapes, batching and the denoising loop.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Generator } from '../utils/generator.js';

export const SCHEDULER_CONFIG_NAME = 'scheduler_config.json';

export interface SchedulerStepOptions {
  /** η of DDIM formula (16): 0 is deterministic DDIM, 1 is DDPM-like ancestral sampling. Default 0. */
  eta?: number;
  /** Source of the variance noise when eta > 0 (`randnTensor([n], generator)`). */
  generator?: Generator;
  /** Explicit variance noise when eta > 0, instead of a generator (CycleDiffusion-style use). */
  varianceNoise?: Float32Array;
  /** Re-derive ε from the clipped x0 (Glide); only differs from the model output when clipping applies. */
  useClippedModelOutput?: boolean;
  /**
   * Number of samples the flat arrays hold (B·F for video latents). Needed only with `thresholding`,
   * whose percentile is taken per sample.
   */
  batchSize?: number;
}

export interface SchedulerOutput {
  /** x_{t-1}: the sample for the next step. */
  prevSample: Float32Array;
  /** x_0 as predicted at this step (after clipping or thresholding). */
  predOriginalSample: Float32Array;
}

export interface Scheduler {
  /** Standard deviation of the initial noise; the pipeline multiplies the initial latents by it. */
  readonly initNoiseSigma: number;
  /** Timesteps of the current schedule, in the order the pipeline visits them (descending). */
  readonly timesteps: readonly number[];
  /** Sets the discrete timesteps for `numInferenceSteps` denoising steps. Call before `step`. */
  setTimesteps(numInferenceSteps: number): void;
  /** Scales the denoising model input as the scheduler requires at `timestep`. */
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array;
  /** One reverse-diffusion step from `sample` at `timestep` given the model output. */
  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, options?: SchedulerStepOptions): SchedulerOutput;
}

/** Reads `<dir>/scheduler_config.json` (a diffusers model folder's scheduler/) as plain JSON. */
export async function readSchedulerConfig(dir: string): Promise<Record<string, unknown>> {
  const path = join(dir, SCHEDULER_CONFIG_NAME);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${path}: a diffusers model folder needs scheduler/${SCHEDULER_CONFIG_NAME}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${path} must hold a JSON object`);
  return json as Record<string, unknown>;
}
