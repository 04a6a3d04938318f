// Reference cases for the three networks in the goldens' format (test/fixtures/goldens/README.md), read from a
// folder laid out like a diffusers pipeline: `<dir>/text_encoder/`, `<dir>/unet/`, `<dir>/vae/`, each with
// safetensors case files and, optionally, a `cases.json` listing them. The parity tests and `t2v model verify
// --cases DIR` both read cases here, so a case means the same tensors and the same tolerance everywhere.
//
// Tensors per case file: text encoder `input_ids` (I64) -> `last_hidden_state`; UNet `sample`, `timestep` (I64),
// `encoder_hidden_states` -> `noise_pred`; VAE `latents` (pipeline space; the decoder gets latents /
// scaling_factor, as diffusers' `vae.decode(latents / scaling_factor)`) -> `image`.
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import type { AutoencoderKLConfig } from './models/autoencoders/autoencoder_kl.js';
import { readModelConfig } from './models/model_config.js';
import { COMPONENT_OF, type NetworkName } from './models/model_graphs.js';
import type { FloatType } from './nn/module.js';
import { SafetensorsFile } from './weights/safetensors.js';

export interface ReferenceCase {
  network: NetworkName;
  /** The case's name in cases.json, else its file name without `case_` and `.safetensors`. */
  name: string;
  path: string;
}

/** A case ready to run: the graph's feeds and the reference output. */
export interface LoadedReferenceCase {
  feeds: Record<string, ort.Tensor>;
  outputName: string;
  expected: Float32Array;
  expectedDims: readonly number[];
}

// Each entry names its file, or its name from which the README's `case_<name>.safetensors` follows. The VAE's
// cases.json lists files only; the text encoder's has no list at all (it describes its one case inline).
const CaseEntrySchema = z
  .object({ name: z.string().min(1).optional(), file: z.string().min(1).optional() })
  .refine((c) => c.name !== undefined || c.file !== undefined, 'a case needs a name or a file');
const CasesIndexSchema = z.object({ cases: z.array(CaseEntrySchema).optional() });

const nameOfFile = (file: string): string => basename(file, '.safetensors').replace(/^case_/, '');

/**
 * The cases of `network` under `dir`: those listed by `<component>/cases.json`, else every
 * `<component>/case_*.safetensors`; none when the component folder does not exist.
 */
export async function listReferenceCases(dir: string, network: NetworkName): Promise<ReferenceCase[]> {
  const folder = join(dir, COMPONENT_OF[network]);
  let files: string[];
  try {
    files = await readdir(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const listed = files.includes('cases.json') ? (await readModelConfig(CasesIndexSchema, join(folder, 'cases.json'))).cases : undefined;
  if (listed !== undefined) {
    return listed.map((c) => {
      const file = c.file ?? `case_${c.name}.safetensors`;
      return { network, name: c.name ?? nameOfFile(file), path: join(folder, file) };
    });
  }
  return files
    .filter((f) => f.startsWith('case_') && f.endsWith('.safetensors'))
    .sort()
    .map((f) => ({ network, name: nameOfFile(f), path: join(folder, f) }));
}

async function tensor(file: SafetensorsFile, name: string): Promise<ort.Tensor> {
  const { dtype, shape } = file.info(name);
  return dtype === 'I64' ? new ort.Tensor('int64', await file.readInt64(name), [...shape]) : new ort.Tensor('float32', await file.readFloat32(name), [...shape]);
}

/** Reads a case's inputs and reference output; VAE cases need the model's vae config (its scaling_factor). */
export async function readReferenceCase(c: ReferenceCase, vae?: Pick<AutoencoderKLConfig, 'scaling_factor'>): Promise<LoadedReferenceCase> {
  const file = await SafetensorsFile.open(c.path);
  try {
    const output = async (outputName: string, expectedName: string, feeds: Record<string, ort.Tensor>): Promise<LoadedReferenceCase> => ({
      feeds,
      outputName,
      expected: await file.readFloat32(expectedName),
      expectedDims: file.info(expectedName).shape,
    });
    switch (c.network) {
      case 'text_encoder':
        return await output('last_hidden_state', 'last_hidden_state', { input_ids: await tensor(file, 'input_ids') });
      case 'unet':
        return await output('out_sample', 'noise_pred', {
          sample: await tensor(file, 'sample'),
          timestep: await tensor(file, 'timestep'),
          encoder_hidden_states: await tensor(file, 'encoder_hidden_states'),
        });
      case 'vae_decoder': {
        if (vae === undefined) throw new Error(`${c.path}: a VAE case needs the vae config's scaling_factor`);
        const latents = await file.readFloat32('latents');
        const z = latents.map((v) => v / vae.scaling_factor);
        return await output('sample', 'image', { latent_sample: new ort.Tensor('float32', z, [...file.info('latents').shape]) });
      }
    }
  } finally {
    await file.close();
  }
}

/**
 * Largest error a graph of `dtype` may have against a reference output whose largest magnitude is `absMax`:
 * fp32 1e-4 absolute (the goldens README's acceptance; the reference's own fp32-vs-fp64 noise is 1e-6 to 6e-6),
 * fp16 1% of the output range (half precision run on the CPU EP).
 */
export function referenceTolerance(dtype: FloatType, absMax: number): number {
  return dtype === 'float32' ? 1e-4 : 1e-2 * absMax;
}

export interface ReferenceComparison {
  maxAbsError: number;
  /** Largest magnitude of the reference output. */
  absMax: number;
  tolerance: number;
  ok: boolean;
}

/** Max abs error of `actual` (dims `actualDims`) against the case's output; a shape mismatch is never ok. */
export function compareWithReference(actual: Float32Array, actualDims: readonly number[], c: LoadedReferenceCase, dtype: FloatType): ReferenceComparison {
  let absMax = 0;
  for (const v of c.expected) absMax = Math.max(absMax, Math.abs(v));
  const tolerance = referenceTolerance(dtype, absMax);
  if (actualDims.join() !== c.expectedDims.join() || actual.length !== c.expected.length) return { maxAbsError: Infinity, absMax, tolerance, ok: false };
  let maxAbsError = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - c.expected[i]!);
    // NaN never compares greater, so it is caught explicitly.
    if (!(d <= maxAbsError)) maxAbsError = Number.isNaN(d) ? Infinity : d;
  }
  return { maxAbsError, absMax, tolerance, ok: maxAbsError <= tolerance };
}
