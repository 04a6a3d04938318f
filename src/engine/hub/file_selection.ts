// Which files of a hub repository make up a diffusers pipeline, following diffusers'
// DiffusionPipeline.download (diffusers 0.26.3): model_index.json names the components; each
// component folder contributes its configs and the weights of the chosen variant
// (`<name>.<variant>.safetensors`, sharded `<name>.<variant>-00001-of-0000N.safetensors` plus its
// index), falling back to the plain weights for components without that variant. Only safetensors:
// this engine never reads pickles, so .bin/.ckpt/.pth are never downloaded, and a component that has
// nothing else is an error. Files outside the components (the original ModelScope checkpoints at the
// root of text-to-video-ms-1.7b, several GB) are skipped.
import { HubError } from './hub_errors.js';
import type { RepoFile } from './hub_api.js';

export const MODEL_INDEX_NAME = 'model_index.json';

const WEIGHT_EXTENSIONS = ['.safetensors', '.bin', '.ckpt', '.pth', '.pt', '.msgpack', '.h5', '.onnx', '.onnx_data', '.pb', '.gguf'];
const SHARD_SUFFIX = /-\d{5}-of-\d{5}$/;
const SAFETENSORS_INDEX = /^(.+)\.safetensors\.index(?:\.([^.]+))?\.json$/;

/** Component folders named in model_index.json: keys with a [library, class] pair (null pairs are absent parts). */
export function pipelineComponents(modelIndex: unknown): string[] {
  if (typeof modelIndex !== 'object' || modelIndex === null || Array.isArray(modelIndex)) {
    throw new HubError('unsupported_repo', `${MODEL_INDEX_NAME} is not a JSON object`);
  }
  return Object.entries(modelIndex as Record<string, unknown>)
    .filter(([key, value]) => !key.startsWith('_') && Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string'))
    .map(([key]) => key)
    .sort();
}

/** The variant of a safetensors weight file name (`model.fp16.safetensors` -> 'fp16'), null when plain. */
export function safetensorsVariant(fileName: string): string | null {
  const stem = fileName.slice(0, -'.safetensors'.length).replace(SHARD_SUFFIX, '');
  const dot = stem.lastIndexOf('.');
  return dot === -1 ? null : stem.slice(dot + 1);
}

/** The repository's model_index.json; its absence means the repository is not a diffusers pipeline. */
export function findModelIndex(files: readonly RepoFile[]): RepoFile {
  const index = files.find((f) => f.path === MODEL_INDEX_NAME);
  if (index === undefined) {
    throw new HubError('unsupported_repo', `the repository has no ${MODEL_INDEX_NAME}: it is not a diffusers pipeline (the engine needs a diffusers-format text-to-video model)`);
  }
  return index;
}

function isWeightFile(name: string): boolean {
  return WEIGHT_EXTENSIONS.some((ext) => name.endsWith(ext));
}

/**
 * The files to download for `variant` ('fp16', or null for the plain float32 weights): model_index.json,
 * then per component its non-weight files and one set of safetensors weights.
 */
export function selectPipelineFiles(files: readonly RepoFile[], modelIndex: unknown, variant: string | null): RepoFile[] {
  const selected: RepoFile[] = [findModelIndex(files)];
  for (const component of pipelineComponents(modelIndex)) {
    const inFolder = files.filter((f) => f.path.startsWith(`${component}/`) && !f.path.slice(component.length + 1).includes('/'));
    const nameOf = (f: RepoFile) => f.path.slice(component.length + 1);
    const configs = inFolder.filter((f) => !isWeightFile(nameOf(f)) && !SAFETENSORS_INDEX.test(nameOf(f)));
    if (configs.length === 0) {
      throw new HubError('unsupported_repo', `component "${component}" of ${MODEL_INDEX_NAME} has no files in ${component}/ (expected at least its config)`);
    }
    selected.push(...configs);

    const weights = inFolder.filter((f) => isWeightFile(nameOf(f)));
    if (weights.length === 0) continue; // tokenizer, scheduler
    const safetensors = weights.filter((f) => nameOf(f).endsWith('.safetensors'));
    if (safetensors.length === 0) {
      throw new HubError(
        'unsupported_repo',
        `component "${component}" has no .safetensors weights (found ${weights.map(nameOf).join(', ')}); this engine reads safetensors only`,
      );
    }
    const chosenVariant = variant !== null && safetensors.some((f) => safetensorsVariant(nameOf(f)) === variant) ? variant : null;
    const chosen = safetensors.filter((f) => safetensorsVariant(nameOf(f)) === chosenVariant);
    if (chosen.length === 0) {
      throw new HubError(
        'unsupported_repo',
        `component "${component}" has neither ${variant} nor plain safetensors weights (found ${safetensors.map(nameOf).join(', ')})`,
      );
    }
    selected.push(...chosen);
    const indexFiles = inFolder.filter((f) => {
      const match = SAFETENSORS_INDEX.exec(nameOf(f));
      return match !== null && (match[2] ?? null) === chosenVariant;
    });
    selected.push(...indexFiles);
  }
  return selected;
}
