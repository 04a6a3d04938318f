// `t2v model verify`, the weights half: every component's config.json parsed, and every safetensors variant in
// the folder checked tensor by tensor (names, shapes, float dtypes) against what the config implies, through the
// strict VarBuilder. Only the model modules are constructed (they request their weights in their constructors);
// no graph is built and no weight is read, so checking the 1.7B model takes a second.
import { basename } from 'node:path';
import { AutoencoderKL, VAE_ENCODER_KEY_PREFIXES } from './models/autoencoders/autoencoder_kl.js';
import { CLIP_IGNORED_KEY_PREFIXES, CLIPTextModel } from './models/clip/modeling_clip.js';
import { type ComponentName, findWeightFiles, type ModelConfigs, readComponentConfig } from './models/model_graphs.js';
import { UNet3DConditionModel } from './models/unets/unet_3d_condition.js';
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

/** Reads the three component configs (ModelConfigError names the file and key on failure). */
export async function readModelConfigs(modelDir: string): Promise<ModelConfigs> {
  return {
    text_encoder: await readComponentConfig(modelDir, 'text_encoder'),
    unet: await readComponentConfig(modelDir, 'unet'),
    vae: await readComponentConfig(modelDir, 'vae'),
  };
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
