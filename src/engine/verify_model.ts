// `t2v model verify`. The weights half: every component's config.json parsed, and every safetensors variant in
// the folder checked tensor by tensor (names, shapes, float dtypes) against what the config implies, through the
// strict VarBuilder. Only the model modules are constructed (they request their weights in their constructors);
// no graph is built and no weight is read, so checking the 1.7B model takes a second. The run half (`--run`,
// `--cases DIR`): the three graphs built (or taken from the cache) and each network run once on smoke inputs,
// checking the output's shape and finiteness, then on every reference case of DIR (reference_cases.ts).
import { basename } from 'node:path';
import * as ort from 'onnxruntime-node';
import { AutoencoderKL, VAE_ENCODER_KEY_PREFIXES } from './models/autoencoders/autoencoder_kl.js';
import { CLIP_IGNORED_KEY_PREFIXES, CLIPTextModel } from './models/clip/modeling_clip.js';
import {
  type ComponentName,
  findWeightFiles,
  type LoadProgress,
  loadModelGraphs,
  type ModelConfigs,
  type NetworkName,
  NETWORKS,
  readModelConfigs,
} from './models/model_graphs.js';
import { UNet3DConditionModel } from './models/unets/unet_3d_condition.js';
import type { FloatType } from './nn/module.js';
import { createSession, type SessionOptions } from './onnx/session.js';
import { compareWithReference, listReferenceCases, readReferenceCase } from './reference_cases.js';
import { SafetensorsWeights, VarBuilder } from './weights/var_builder.js';

export const COMPONENTS: readonly ComponentName[] = ['text_encoder', 'unet', 'vae'];

/** Checkpoint keys a component may hold that inference never reads. */
const IGNORED_KEY_PREFIXES: Record<ComponentName, readonly string[]> = {
  text_encoder: CLIP_IGNORED_KEY_PREFIXES,
  unet: [],
  vae: VAE_ENCODER_KEY_PREFIXES,
};

/** Constructs the component's model over `vb`, which records every weight it needs (key and shape). */
export function requestWeights(component: ComponentName, vb: VarBuilder, configs: ModelConfigs): void {
  switch (component) {
    case 'text_encoder':
      new CLIPTextModel(vb, configs.text_encoder);
      return;
    case 'unet':
      new UNet3DConditionModel(vb, configs.unet);
      return;
    case 'vae':
      new AutoencoderKL(vb, configs.vae);
      return;
  }
}

export interface WeightsCheck {
  component: ComponentName;
  /** The weight files checked (one variant's file, or its shards). */
  files: string[];
  ok: boolean;
  /** Tensors the config implies, and their parameter count. */
  tensors: number;
  parameters: number;
  /** The first problem (missing/mismatched/unexpected tensor, unreadable config or file), when not ok. */
  problem?: string;
}

/**
 * Checks each weights variant present for each component (the fp32 files and the .fp16 ones, whichever exist).
 * Config errors are reported on every component, since nothing can be checked without them.
 */
export async function checkModelWeights(modelDir: string): Promise<WeightsCheck[]> {
  let configs: ModelConfigs;
  try {
    configs = await readModelConfigs(modelDir);
  } catch (error) {
    return COMPONENTS.map((component) => ({ component, files: [], ok: false, tensors: 0, parameters: 0, problem: (error as Error).message }));
  }
  const checks: WeightsCheck[] = [];
  for (const component of COMPONENTS) {
    const variants: string[][] = [];
    try {
      for (const dtype of ['float32', 'float16'] as const) {
        const files = await findWeightFiles(modelDir, component, dtype);
        if (!variants.some((v) => v.join() === files.join())) variants.push(files);
      }
    } catch (error) {
      checks.push({ component, files: [], ok: false, tensors: 0, parameters: 0, problem: (error as Error).message });
      continue;
    }
    for (const files of variants) {
      const check: WeightsCheck = { component, files: files.map((f) => basename(f)), ok: false, tensors: 0, parameters: 0 };
      let weights: SafetensorsWeights | undefined;
      try {
        weights = await SafetensorsWeights.open(files);
        const vb = VarBuilder.from(weights);
        requestWeights(component, vb, configs);
        const used = [...vb.usedKeys().values()];
        check.tensors = used.length;
        check.parameters = used.reduce((sum, shape) => sum + shape.reduce((a, b) => a * b, 1), 0);
        vb.check({ ignoreUnusedPrefixes: IGNORED_KEY_PREFIXES[component] });
        check.ok = true;
      } catch (error) {
        check.problem = (error as Error).message;
      } finally {
        await weights?.close();
      }
      checks.push(check);
    }
  }
  return checks;
}

/** The `input` of the smoke run of a network. */
export const SMOKE_INPUTS = 'smoke inputs';

export interface NetworkRun {
  network: NetworkName;
  /** SMOKE_INPUTS, or the reference case's name. */
  input: string;
  ok: boolean;
  /** Output dims (when the run got that far) and wall time of the run. */
  dims?: readonly number[];
  seconds?: number;
  /** Against a reference case: max abs error, the allowed one, and the reference's largest magnitude. */
  maxAbsError?: number;
  tolerance?: number;
  absMax?: number;
  problem?: string;
}

export interface RunModelOptions {
  dtype: FloatType;
  /** The graph cache (the engine's: DATA_DIR/cache/graphs). */
  cacheDir: string;
  sessionOptions: SessionOptions;
  /** A folder of reference cases in the goldens' format (reference_cases.ts). */
  casesDir?: string;
  onProgress?: (progress: LoadProgress) => void;
  /** Called as each run finishes. */
  onRun?: (run: NetworkRun) => void;
}

/**
 * Inputs every model of the family accepts, with the output dims they must give: a 77-token prompt (or the
 * encoder's length), two 4-frame videos of 16x16 latents, one 16x16 latent image. Smooth values, no randomness.
 */
export function smokeInputs(network: NetworkName, configs: ModelConfigs): { feeds: Record<string, ort.Tensor>; outputName: string; dims: number[] } {
  const wave = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.9);
  switch (network) {
    case 'text_encoder': {
      const { vocab_size: vocab, max_position_embeddings: positions, hidden_size: hidden } = configs.text_encoder;
      const length = Math.min(77, positions);
      const ids = BigInt64Array.from({ length }, (_, i) => BigInt((i * 97 + 1) % vocab));
      return { feeds: { input_ids: new ort.Tensor('int64', ids, [1, length]) }, outputName: 'last_hidden_state', dims: [1, length, hidden] };
    }
    case 'unet': {
      const { in_channels: channels, out_channels: out, cross_attention_dim: width } = configs.unet;
      return {
        feeds: {
          sample: new ort.Tensor('float32', wave(2 * channels * 4 * 16 * 16), [2, channels, 4, 16, 16]),
          timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]),
          encoder_hidden_states: new ort.Tensor('float32', wave(2 * 77 * width), [2, 77, width]),
        },
        outputName: 'out_sample',
        dims: [2, out, 4, 16, 16],
      };
    }
    case 'vae_decoder': {
      const { latent_channels: channels, out_channels: out, block_out_channels: blocks } = configs.vae;
      const side = 16 * 2 ** (blocks.length - 1);
      return { feeds: { latent_sample: new ort.Tensor('float32', wave(channels * 16 * 16), [1, channels, 16, 16]) }, outputName: 'sample', dims: [1, out, side, side] };
    }
  }
}

/**
 * Builds (or takes from the cache) the three graphs of `modelDir` and runs each network on smoke inputs and on
 * the reference cases of `casesDir`. Model problems (configs, weights) reject as loadModelGraphs does; a run
 * that fails or misses is reported, not thrown.
 */
export async function runModelNetworks(modelDir: string, options: RunModelOptions): Promise<NetworkRun[]> {
  const graphs = await loadModelGraphs({ modelDir, dtype: options.dtype, cacheDir: options.cacheDir, onProgress: options.onProgress });
  const runs: NetworkRun[] = [];
  const report = (run: NetworkRun): void => {
    runs.push(run);
    options.onRun?.(run);
  };
  for (const network of NETWORKS) {
    const session = await createSession(graphs.paths[network]!, options.sessionOptions);
    const timed = async (feeds: Record<string, ort.Tensor>, outputName: string): Promise<{ output: ort.Tensor; seconds: number }> => {
      const started = performance.now();
      const output = (await session.run(feeds))[outputName]!;
      return { output, seconds: (performance.now() - started) / 1000 };
    };
    try {
      const smoke = smokeInputs(network, graphs.configs);
      const { output, seconds } = await timed(smoke.feeds, smoke.outputName);
      const shapeOk = output.dims.join() === smoke.dims.join();
      const finite = (output.data as Float32Array).every(Number.isFinite);
      report({
        network,
        input: SMOKE_INPUTS,
        ok: shapeOk && finite,
        dims: output.dims,
        seconds,
        ...(shapeOk ? (finite ? {} : { problem: 'the output has NaN or infinite values' }) : { problem: `output shape [${output.dims.join(', ')}], expected [${smoke.dims.join(', ')}]` }),
      });
      for (const c of options.casesDir === undefined ? [] : await listReferenceCases(options.casesDir, network)) {
        try {
          const reference = await readReferenceCase(c, graphs.configs.vae);
          const { output: out, seconds: caseSeconds } = await timed(reference.feeds, reference.outputName);
          const result = compareWithReference(out.data as Float32Array, out.dims, reference, options.dtype);
          const shapeProblem = out.dims.join() === reference.expectedDims.join() ? undefined : `output shape [${out.dims.join(', ')}], reference [${reference.expectedDims.join(', ')}]`;
          report({
            network,
            input: c.name,
            ok: result.ok,
            dims: out.dims,
            seconds: caseSeconds,
            maxAbsError: result.maxAbsError,
            tolerance: result.tolerance,
            absMax: result.absMax,
            ...(result.ok ? {} : { problem: shapeProblem ?? `max abs error ${result.maxAbsError.toExponential(2)} is over the tolerance ${result.tolerance.toExponential(2)}` }),
          });
        } catch (error) {
          const message = (error as Error).message;
          report({ network, input: c.name, ok: false, problem: message.includes(c.path) ? message : `${c.path}: ${message}` });
        }
      }
    } finally {
      await session.release();
    }
  }
  return runs;
}
