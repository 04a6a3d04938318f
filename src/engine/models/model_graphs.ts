// From a diffusers pipeline folder to cached ONNX graphs: text_encoder/ -> CLIPTextModel, unet/ ->
// UNet3DConditionModel, vae/ -> the AutoencoderKL decoder. Each component's config.json and safetensors weights
// (the `.fp16` variant preferred for fp16 graphs, the full-precision file for fp32; sharded checkpoints through
// their `.index.json`) are checked strictly, built into a graph and cached by GraphCache.
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import type { FloatType } from '../nn/module.js';
import { type CacheProgress, GraphCache } from '../onnx/cache.js';
import type { GraphBuilder } from '../onnx/graph_builder.js';
import { writeModel } from '../onnx/serialize.js';
import { SafetensorsWeights, VarBuilder } from '../weights/var_builder.js';
import { type AutoencoderKLConfig, AutoencoderKLConfigSchema, buildVaeDecoderGraph, VAE_ENCODER_KEY_PREFIXES } from './autoencoders/autoencoder_kl.js';
import { buildTextEncoderGraph, CLIP_IGNORED_KEY_PREFIXES, type CLIPTextConfig, CLIPTextConfigSchema } from './clip/modeling_clip.js';
import { ModelConfigError, readModelConfig } from './model_config.js';
import { buildUNet3DGraph, type UNet3DConditionConfig, UNet3DConditionConfigSchema } from './unets/unet_3d_condition.js';

/**
 * Version of the graph-building code, part of every cache key: bump it whenever a change to src/engine/onnx,
 * nn or models changes the graphs built from the same weights, or the files they are written to
 * (test/engine/graph_fingerprint.test.ts fails until the recorded fingerprint and this version are updated
 * together).
 */
export const GRAPH_BUILDER_VERSION = 4;

export type NetworkName = 'text_encoder' | 'unet' | 'vae_decoder';
export const NETWORKS: readonly NetworkName[] = ['text_encoder', 'unet', 'vae_decoder'];
export type ComponentName = 'text_encoder' | 'unet' | 'vae';

export const COMPONENT_OF = { text_encoder: 'text_encoder', unet: 'unet', vae_decoder: 'vae' } as const satisfies Record<NetworkName, ComponentName>;

/** Base name of the weights file in each component folder (transformers vs diffusers naming). */
const WEIGHTS_NAME: Record<ComponentName, string> = { text_encoder: 'model', unet: 'diffusion_pytorch_model', vae: 'diffusion_pytorch_model' };

export interface ModelConfigs {
  text_encoder: CLIPTextConfig;
  unet: UNet3DConditionConfig;
  vae: AutoencoderKLConfig;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * The safetensors files of a component: `<name>[.fp16].safetensors`, or the shards listed by
 * `<name>[.fp16].safetensors.index.json`. fp16 graphs prefer the .fp16 variant, fp32 graphs the full file; either
 * falls back to the other (values convert exactly to float32, or round to float16 as the GPU would).
 */
export async function findWeightFiles(modelDir: string, component: ComponentName, dtype: FloatType): Promise<string[]> {
  const dir = join(modelDir, component);
  const name = WEIGHTS_NAME[component];
  const variants = dtype === 'float16' ? [`${name}.fp16`, name] : [name, `${name}.fp16`];
  for (const variant of variants) {
    const single = join(dir, `${variant}.safetensors`);
    if (await exists(single)) return [single];
    const index = join(dir, `${variant}.safetensors.index.json`);
    if (await exists(index)) {
      const { weight_map: weightMap } = JSON.parse(await readFile(index, 'utf8')) as { weight_map?: Record<string, string> };
      if (!weightMap) throw new ModelConfigError(index, 'no weight_map in the index');
      return [...new Set(Object.values(weightMap))].sort().map((f) => join(dir, f));
    }
  }
  const bin = join(dir, `${name}.bin`);
  const hint = (await exists(bin)) ? ` (found ${basename(bin)}: PyTorch pickles are not read; convert to safetensors)` : '';
  throw new ModelConfigError(dir, `no weights: expected ${variants.map((v) => `${v}.safetensors`).join(' or ')}${hint}`);
}

const CONFIG_SCHEMAS = { text_encoder: CLIPTextConfigSchema, unet: UNet3DConditionConfigSchema, vae: AutoencoderKLConfigSchema } as const;

/** A component's parsed config.json (ModelConfigError names the file and the offending keys). */
export async function readComponentConfig<C extends ComponentName>(modelDir: string, component: C): Promise<ModelConfigs[C]> {
  return (await readModelConfig(CONFIG_SCHEMAS[component], join(modelDir, component, 'config.json'))) as ModelConfigs[C];
}

/** The three component configs (ModelConfigError names the file and key on failure). */
export async function readModelConfigs(modelDir: string): Promise<ModelConfigs> {
  return {
    text_encoder: await readComponentConfig(modelDir, 'text_encoder'),
    unet: await readComponentConfig(modelDir, 'unet'),
    vae: await readComponentConfig(modelDir, 'vae'),
  };
}

/** The identity of weight files for cache keys: name, size, modification time and a hash of the header. */
export async function weightsIdentity(weights: SafetensorsWeights): Promise<unknown[]> {
  return Promise.all(
    weights.files.map(async (f) => ({
      file: basename(f.path),
      size: f.fileSize,
      mtimeMs: (await stat(f.path)).mtimeMs,
      header: createHash('sha256').update(f.headerBytes).digest('hex'),
    })),
  );
}

/**
 * How to build one cached graph from one component of the folder. The three networks below are recipes; a
 * caller can cache its own graph over a component's weights the same way (for example a whole denoising step
 * that wraps `UNet3DConditionModel.forward` with guidance and the scheduler update).
 */
export interface GraphRecipe<C extends ComponentName = ComponentName> {
  /** Cache entry name: `unet`, `denoise_step`, ... */
  name: string;
  component: C;
  /** Version of the recipe's own graph code, part of the cache key with GRAPH_BUILDER_VERSION. */
  version: number;
  build(vb: VarBuilder, config: ModelConfigs[C], dtype: FloatType): GraphBuilder;
  /** Checkpoint keys the graph may leave unused. */
  ignoreUnusedPrefixes?: readonly string[];
}

export const NETWORK_RECIPES: { [N in NetworkName]: GraphRecipe<(typeof COMPONENT_OF)[N]> } = {
  text_encoder: {
    name: 'text_encoder',
    component: 'text_encoder',
    version: 1,
    build: (vb, config, dtype) => buildTextEncoderGraph(vb, config, { dtype }).graph,
    ignoreUnusedPrefixes: CLIP_IGNORED_KEY_PREFIXES,
  },
  unet: { name: 'unet', component: 'unet', version: 1, build: (vb, config, dtype) => buildUNet3DGraph(vb, config, { dtype }).graph },
  vae_decoder: {
    name: 'vae_decoder',
    component: 'vae',
    version: 1,
    build: (vb, config, dtype) => buildVaeDecoderGraph(vb, config, { dtype }).graph,
    ignoreUnusedPrefixes: VAE_ENCODER_KEY_PREFIXES,
  },
};

export type LoadProgress = (CacheProgress | { phase: 'write'; name: string; bytesDone: number; bytesTotal: number }) & { network: string };

export interface LoadGraphOptions {
  /** A diffusers pipeline folder (model_index.json, text_encoder/, unet/, vae/, ...). */
  modelDir: string;
  dtype: FloatType;
  /** Where built graphs are cached (created when missing). */
  cacheDir: string;
  onProgress?: (progress: LoadProgress) => void;
}

export interface LoadedGraph {
  /** The cached model.onnx (its .data file beside it). */
  path: string;
  /** True when it came from the cache without building. */
  hit: boolean;
}

/**
 * The cached graph of `recipe` for a model folder, built (config and weights checked strictly) when the cache
 * has no valid entry for the recipe, its version, GRAPH_BUILDER_VERSION, the dtype, the config and the weights.
 */
export async function loadGraph<C extends ComponentName>(options: LoadGraphOptions, recipe: GraphRecipe<C>): Promise<LoadedGraph> {
  const modelDir = resolve(options.modelDir);
  const config = await readComponentConfig(modelDir, recipe.component);
  const weights = await SafetensorsWeights.open(await findWeightFiles(modelDir, recipe.component, options.dtype));
  try {
    const spec = {
      name: recipe.name,
      dtype: options.dtype,
      source: `${modelDir}#${recipe.name}`,
      identity: { builder: GRAPH_BUILDER_VERSION, recipe: recipe.version, config, weights: await weightsIdentity(weights) },
    };
    const cached = await new GraphCache(options.cacheDir).getOrBuild(
      spec,
      async (modelPath) => {
        const vb = VarBuilder.from(weights);
        const graph = recipe.build(vb, config, options.dtype);
        vb.check({ ignoreUnusedPrefixes: recipe.ignoreUnusedPrefixes ?? [] });
        await writeModel(graph, modelPath, {
          metadata: { graph: recipe.name, dtype: options.dtype, builder_version: String(GRAPH_BUILDER_VERSION), recipe_version: String(recipe.version) },
          onProgress: (bytesDone, bytesTotal) => options.onProgress?.({ phase: 'write', name: recipe.name, network: recipe.name, bytesDone, bytesTotal }),
        });
      },
      (p) => options.onProgress?.({ ...p, network: recipe.name }),
    );
    return { path: cached.modelPath, hit: cached.hit };
  } finally {
    await weights.close();
  }
}

export interface LoadModelGraphsOptions extends LoadGraphOptions {
  /** Which graphs to load (default: all three). */
  networks?: readonly NetworkName[];
}

export interface ModelGraphs {
  dtype: FloatType;
  /** Path of each requested network's model.onnx. */
  paths: Partial<Record<NetworkName, string>>;
  /** Whether each came from the cache without building. */
  cacheHits: Partial<Record<NetworkName, boolean>>;
  configs: ModelConfigs;
}

/**
 * The ONNX graphs of a diffusers text-to-video folder, built on first use and cached. Fails with
 * ModelConfigError (config, missing files), SafetensorsError (malformed file) or WeightsMismatchError (names,
 * shapes, dtypes), each naming the first problem.
 */
export async function loadModelGraphs(options: LoadModelGraphsOptions): Promise<ModelGraphs> {
  const modelDir = resolve(options.modelDir);
  const configs = await readModelConfigs(modelDir);
  const result: ModelGraphs = { dtype: options.dtype, paths: {}, cacheHits: {}, configs };
  for (const network of options.networks ?? NETWORKS) {
    const loaded = await loadGraph(options, NETWORK_RECIPES[network] as GraphRecipe);
    result.paths[network] = loaded.path;
    result.cacheHits[network] = loaded.hit;
  }
  return result;
}
