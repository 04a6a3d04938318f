// A diffusers text-to-video folder whose weights are seeded random numbers: the configs (and tokenizer,
// scheduler) of a folder without weights, plus one safetensors file per component holding exactly the tensors
// the graphs ask for, each drawn by `randomWeights(seed)` from its key alone. Used for the built-in demo model
// and for the benchmark model; the same seed always gives the same bytes.
import { randomBytes } from 'node:crypto';
import { cp, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type ComponentName, readModelConfigs } from '../models/model_graphs.js';
import { requestWeights } from '../verify_model.js';
import { randomWeights } from '../weights/random_weights.js';
import { encodeSafetensorsHeader } from '../weights/safetensors.js';
import { VarBuilder } from '../weights/var_builder.js';

/** The weights file of each component (the VAE's holds its decoder only: nothing reads the encoder). */
const WEIGHTS: { component: ComponentName; file: string }[] = [
  { component: 'text_encoder', file: 'model.safetensors' },
  { component: 'unet', file: 'diffusion_pytorch_model.safetensors' },
  { component: 'vae', file: 'diffusion_pytorch_model.safetensors' },
];

/** Written last into a finished folder; a folder without it (or with other values) is rebuilt. */
const MARKER = 't2v-random-weights.json';

export interface RandomModelMarker {
  seed: number;
  /** Changes whenever the way weights are drawn or laid out changes. */
  version: number;
}

export interface RandomModelProgress {
  component: ComponentName;
  tensorsDone: number;
  tensorsTotal: number;
}

/** Bumped when the tensors written for the same configs and seed would change. */
export const RANDOM_MODEL_VERSION = 1;

async function readMarker(dir: string): Promise<RandomModelMarker | null> {
  try {
    return JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as RandomModelMarker;
  } catch {
    return null;
  }
}

/**
 * Streams float32 tensors into a safetensors file one at a time (header first, offsets known from the shapes),
 * so a large model never sits in memory whole.
 */
async function writeSafetensorsStreaming(path: string, tensors: ReadonlyMap<string, readonly number[]>, produce: (key: string, shape: readonly number[]) => Float32Array, onTensor: () => void): Promise<void> {
  const keys = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const key of keys) {
    const bytes = tensors.get(key)!.reduce((a, b) => a * b, 1) * 4;
    header[key] = { dtype: 'F32', shape: tensors.get(key), data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const file = await open(path, 'w');
  try {
    await file.write(encodeSafetensorsHeader(header));
    for (const key of keys) {
      const data = produce(key, tensors.get(key)!);
      await file.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      onTensor();
    }
  } finally {
    await file.close();
  }
}


/**
 * `dest` as a copy of `configDir` (configs, tokenizer, scheduler) with seeded random weights, created when
 * missing or made with another seed or version. Built in a temporary folder beside `dest` and renamed into place,
 * so `dest` is never half-written. Returns `dest`.
 */
export async function materializeRandomModel(configDir: string, dest: string, seed: number, onProgress?: (p: RandomModelProgress) => void): Promise<string> {
  const marker = await readMarker(dest);
  if (marker?.seed === seed && marker.version === RANDOM_MODEL_VERSION) return dest;
  const configs = await readModelConfigs(configDir);
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await cp(configDir, tmp, { recursive: true });
    const fill = randomWeights(seed);
    for (const { component, file } of WEIGHTS) {
      // The tensors (key -> shape) the component's model asks for, over placeholder weights.
      const vb = VarBuilder.placeholder();
      requestWeights(component, vb, configs);
      const tensors = vb.usedKeys();
      let tensorsDone = 0;
      await writeSafetensorsStreaming(join(tmp, component, file), tensors, fill, () => onProgress?.({ component, tensorsDone: ++tensorsDone, tensorsTotal: tensors.size }));
    }
    await writeFile(join(tmp, MARKER), JSON.stringify({ seed, version: RANDOM_MODEL_VERSION } satisfies RandomModelMarker));
    await rm(dest, { recursive: true, force: true });
    try {
      await rename(tmp, dest);
    } catch (error) {
      // Another process finished the same folder first; theirs is as good as ours.
      const theirs = await readMarker(dest);
      if (theirs?.seed !== seed || theirs.version !== RANDOM_MODEL_VERSION) throw error;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dest;
}
