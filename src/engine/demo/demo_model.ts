// The built-in demo model: the real text-to-video architecture (CLIP text encoder, UNet3D, AutoencoderKL) at a
// tiny size with seeded random weights, so `npm start` and `t2v generate` work with nothing downloaded, and the
// chat and dashboard end-to-end tests render through the real pipeline. Its configs and CLIP tokenizer live in
// models/demo/ (no weights in the repository); the weights are generated on first use into DATA_DIR. Having
// never been trained, it renders abstract noise, and everything that shows it says so.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { materializeRandomModel, type RandomModelProgress } from './random_model.js';

/** models/demo at the repository root (the same relative path from src/ and from the built dist/). */
export const DEMO_MODEL_CONFIG_DIR = fileURLToPath(new URL('../../../models/demo/', import.meta.url));

/** Fixed, so every installation's demo model is the same. */
export const DEMO_WEIGHTS_SEED = 1;

export const DEMO_MODEL_LABEL = 'built-in demo model';

/** Shown wherever the demo model is in use (status, logs, CLI summary). */
export const DEMO_MODEL_NOTICE =
  'built-in demo model (tiny, untrained random weights): it renders abstract noise, not your prompt. ' +
  'Set MODEL_DIR (or --model) to a text-to-video model folder, for example one made by `./t2v model pull`.';

export function demoModelDir(dataDir: string): string {
  return join(dataDir, 'models', 'demo');
}

/** The demo model folder under `dataDir`, generated when missing (about 10 MB; well under a second). */
export function ensureDemoModel(dataDir: string, onProgress?: (p: RandomModelProgress) => void): Promise<string> {
  return materializeRandomModel(DEMO_MODEL_CONFIG_DIR, demoModelDir(dataDir), DEMO_WEIGHTS_SEED, onProgress);
}
