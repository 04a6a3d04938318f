// Checks a diffusers text-to-video folder end to end through the engine's graphs: strict weight loading, graph
// build (or cache hit), one run of each network. With reference cases (safetensors files in the goldens'
// format, see docs/engine.md) it reports the max abs error against them; without, it runs smoke inputs and checks
// shapes and finiteness.
//   node --import tsx scripts/engine-check-model.ts --model DIR [--dtype float32|float16] [--cache-dir DIR]
//     [--unet-case FILE]... [--text-encoder-case FILE]... [--vae-case FILE]... [--threads 2]
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadModelGraphs, type ModelGraphs } from '../src/engine/models/model_graphs.js';
import type { FloatType } from '../src/engine/nn/module.js';
import { createSession } from '../src/engine/onnx/session.js';
import { SafetensorsFile } from '../src/engine/weights/safetensors.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    dtype: { type: 'string', default: 'float32' },
    'cache-dir': { type: 'string', default: join(homedir(), '.cache', 't2v-bot', 'graphs') },
    'unet-case': { type: 'string', multiple: true, default: [] },
    'text-encoder-case': { type: 'string', multiple: true, default: [] },
    'vae-case': { type: 'string', multiple: true, default: [] },
    threads: { type: 'string', default: '2' },
  },
});
if (!args.model) {
  console.error('usage: engine-check-model.ts --model DIR [--dtype float32|float16] [--unet-case FILE] ...');
  process.exit(2);
}
if (args.dtype !== 'float32' && args.dtype !== 'float16') {
  console.error(`--dtype must be float32 or float16 (got ${args.dtype})`);
  process.exit(2);
}

process.on('uncaughtException', (e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});

const started = performance.now();
const graphs = await loadModelGraphs({
  modelDir: args.model,
  dtype: args.dtype as FloatType,
  cacheDir: args['cache-dir'],
  onProgress: (p) => {
    if (p.phase === 'ready') console.log(`${p.network}: ${p.hit ? 'cached' : 'built'} in ${p.seconds.toFixed(1)} s`);
    if (p.phase === 'invalid') console.log(`${p.network}: cache entry rebuilt (${p.reason})`);
  },
});
console.log(`graphs ready in ${((performance.now() - started) / 1000).toFixed(1)} s (weights and configs match)`);

type Feeds = Record<string, ort.Tensor>;

async function check(network: keyof ModelGraphs['paths'], outputName: string, cases: string[], smoke: () => Feeds, feedsOf: (f: SafetensorsFile) => Promise<{ feeds: Feeds; expected: Float32Array }>): Promise<void> {
  const session = await createSession(graphs.paths[network]!, { intraOpNumThreads: Number(args.threads) });
  try {
    if (cases.length === 0) {
      const t = performance.now();
      const out = (await session.run(smoke()))[outputName]!;
      const data = out.data as Float32Array;
      const finite = data.every(Number.isFinite);
      console.log(`${network}: smoke run ${out.dims.join('x')} in ${((performance.now() - t) / 1000).toFixed(2)} s, ${finite ? 'all finite' : 'NON-FINITE VALUES'}`);
      if (!finite) process.exitCode = 1;
    }
    for (const path of cases) {
      const file = await SafetensorsFile.open(path);
      const { feeds, expected } = await feedsOf(file);
      await file.close();
      const data = (await session.run(feeds))[outputName]!.data as Float32Array;
      let err = 0;
      let absMax = 0;
      for (let i = 0; i < expected.length; i++) {
        err = Math.max(err, Math.abs(data[i]! - expected[i]!));
        absMax = Math.max(absMax, Math.abs(expected[i]!));
      }
      console.log(`${network}: ${path}: max abs error ${err.toExponential(2)} (reference abs max ${absMax.toFixed(3)})`);
    }
  } finally {
    await session.release();
  }
}

const tensor = async (f: SafetensorsFile, name: string): Promise<ort.Tensor> =>
  f.info(name).dtype === 'I64' ? new ort.Tensor('int64', await f.readInt64(name), [...f.info(name).shape]) : new ort.Tensor('float32', await f.readFloat32(name), [...f.info(name).shape]);
const wave = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.9);
const { unet, vae } = graphs.configs;

await check(
  'text_encoder',
  'last_hidden_state',
  args['text-encoder-case'],
  () => ({ input_ids: new ort.Tensor('int64', BigInt64Array.from({ length: 77 }, (_, i) => BigInt(i === 0 ? 49406 : (i * 97) % 49406)), [1, 77]) }),
  async (f) => ({ feeds: { input_ids: await tensor(f, 'input_ids') }, expected: await f.readFloat32('last_hidden_state') }),
);
await check(
  'unet',
  'out_sample',
  args['unet-case'],
  () => ({
    sample: new ort.Tensor('float32', wave(2 * unet.in_channels * 4 * 16 * 16), [2, unet.in_channels, 4, 16, 16]),
    timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]),
    encoder_hidden_states: new ort.Tensor('float32', wave(2 * 77 * unet.cross_attention_dim), [2, 77, unet.cross_attention_dim]),
  }),
  async (f) => ({
    feeds: { sample: await tensor(f, 'sample'), timestep: await tensor(f, 'timestep'), encoder_hidden_states: await tensor(f, 'encoder_hidden_states') },
    expected: await f.readFloat32('noise_pred'),
  }),
);
await check(
  'vae_decoder',
  'sample',
  args['vae-case'],
  () => ({ latent_sample: new ort.Tensor('float32', wave(vae.latent_channels * 16 * 16), [1, vae.latent_channels, 16, 16]) }),
  async (f) => ({ feeds: { latent_sample: await tensor(f, 'z') }, expected: await f.readFloat32('image') }),
);
