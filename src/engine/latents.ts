// Initial latents from a safetensors file (`t2v generate --latents FILE`): the tensor named `latents`, or the
// file's only tensor, shaped (1, 4, frames, height/8, width/8) as diffusers' `latents=` argument. Lets a video be
// reproduced from the exact noise another implementation (diffusers on a GPU, say) started from.
import { SafetensorsFile } from './weights/safetensors.js';

export class LatentsFileError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'LatentsFileError';
  }
}

export interface InitialLatents {
  data: Float32Array;
  /** (1, C, F, h, w). */
  shape: [number, number, number, number, number];
}

export async function readLatentsFile(path: string): Promise<InitialLatents> {
  let file: SafetensorsFile;
  try {
    file = await SafetensorsFile.open(path);
  } catch (error) {
    if (error instanceof Error && 'code' in error) throw new LatentsFileError(path, `cannot open: ${error.message}`);
    throw error;
  }
  try {
    const names = [...file.tensors.keys()];
    const name = names.includes('latents') ? 'latents' : names.length === 1 ? names[0]! : undefined;
    if (name === undefined) {
      throw new LatentsFileError(path, `has ${names.length} tensors (${names.slice(0, 5).join(', ') || 'none'}) and none is named "latents"; expected a tensor "latents" or a single tensor`);
    }
    const { shape, dtype } = file.info(name);
    if (shape.length !== 5 || shape[0] !== 1) {
      throw new LatentsFileError(path, `tensor ${name} has shape [${shape.join(', ')}]; expected (1, channels, frames, height/8, width/8)`);
    }
    if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new LatentsFileError(path, `tensor ${name} has dtype ${dtype}; expected F32, F16 or BF16`);
    return { data: await file.readFloat32(name), shape: shape as InitialLatents['shape'] };
  } finally {
    await file.close();
  }
}
