// What makes two model folders the same model for a pool of workers: the text the pipeline is built from (the
// model index, every component's config, the tokenizer's vocabulary and merges), hashed. Paths, weight dtypes
// (fp16 on a GPU worker, fp32 on a CPU one) and file dates do not enter it, so the same model pulled on several
// hosts matches; two checkpoints with identical configs are not told apart.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const FINGERPRINTED_FILES = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/config.json',
  'unet/config.json',
  'vae/config.json',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
];

/** sha256 (hex) over the files above that exist, each with its name. */
export async function modelFingerprint(modelDir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of FINGERPRINTED_FILES) {
    const content = await readFile(join(modelDir, file)).catch(() => undefined);
    if (content === undefined) continue;
    hash.update(`${file}\0${content.length}\0`).update(content);
  }
  return hash.digest('hex');
}
