// AutoencoderKL decoder against the diffusers goldens (the goldens folder's vae/, README section 4): every case its
// cases.json lists, with the folder's config and weights.
import { test } from 'node:test';
import { assertGoldenCases } from '../goldens.js';

for (const dtype of ['float32', 'float16'] as const) {
  test(`VAE decoder ${dtype} matches diffusers vae.decode(latents / scaling_factor) on every golden case`, (t) => assertGoldenCases(t, 'vae_decoder', dtype));
}
