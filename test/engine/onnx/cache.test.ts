// Built graphs are cached on disk: a second load uses the entry as is; a corrupt, truncated or stale entry is
// rebuilt, never trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { findWeightFiles, type LoadProgress, loadModelGraphs } from '../../../src/engine/models/model_graphs.js';
import { GraphCache } from '../../../src/engine/onnx/cache.js';
import { sha256File } from '../../../src/engine/utils/sha256_file.js';
import { createSession } from '../../../src/engine/onnx/session.js';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.js';
import { f32, i64, maxAbsDiff } from '../graph-helpers.js';

const GOLDENS = 'test/fixtures/goldens';
const root = await mkdtemp(join(tmpdir(), 't2v-cache-'));
test.after(() => rm(root, { recursive: true, force: true }));

/** A model folder of its own (copied from the goldens) so tests can touch its weights. */
async function modelCopy(name: string): Promise<string> {
  const dir = join(root, name);
  for (const component of ['text_encoder', 'unet', 'vae']) {
    await mkdir(join(dir, component), { recursive: true });
    for (const file of ['config.json', component === 'text_encoder' ? 'model.safetensors' : 'diffusion_pytorch_model.safetensors']) {
      await cp(join(GOLDENS, component, file), join(dir, component, file), { preserveTimestamps: true });
    }
  }
  return dir;
}

async function load(modelDir: string, cacheDir: string, events: LoadProgress[] = []) {
  return loadModelGraphs({ modelDir, cacheDir, dtype: 'float32', networks: ['unet'], onProgress: (p) => events.push(p) });
}

test('the second load hits the cache, and the cached UNet runs the golden case', async () => {
  const modelDir = await modelCopy('hit');
  const cacheDir = join(root, 'cache-hit');
  const first = await load(modelDir, cacheDir);
  assert.equal(first.cacheHits.unet, false);
  const events: LoadProgress[] = [];
  const second = await load(modelDir, cacheDir, events);
  assert.equal(second.cacheHits.unet, true);
  assert.equal(second.paths.unet, first.paths.unet);
  assert.ok(!events.some((e) => e.phase === 'build'));

  const golden = await SafetensorsFile.open(join(GOLDENS, 'unet/case_b_b1_f1_8x8_t1.safetensors'));
  const session = await createSession(second.paths.unet!, { intraOpNumThreads: 2 });
  const out = await session.run({
    sample: f32(await golden.readFloat32('sample'), [1, 4, 1, 8, 8]),
    timestep: i64(await golden.readInt64('timestep'), [1]),
    encoder_hidden_states: f32(await golden.readFloat32('encoder_hidden_states'), [1, 7, 32]),
  });
  assert.ok(maxAbsDiff(out.out_sample!.data as Float32Array, await golden.readFloat32('noise_pred')) <= 1e-4);
  await session.release();
  await golden.close();
});

test('a corrupted, truncated or unlisted entry is rebuilt', async () => {
  const modelDir = await modelCopy('corrupt');
  const cacheDir = join(root, 'cache-corrupt');
  const { paths } = await load(modelDir, cacheDir);
  const modelPath = paths.unet!;
  const dataPath = `${modelPath}.data`;
  const goodHash = await sha256File(dataPath);

  // One flipped byte in the middle of the weights.
  const data = await readFile(dataPath);
  const middle = data.length >> 1;
  data[middle] = data[middle]! ^ 0xff;
  await writeFile(dataPath, data);
  let events: LoadProgress[] = [];
  let again = await load(modelDir, cacheDir, events);
  assert.equal(again.cacheHits.unet, false);
  assert.ok(events.some((e) => e.phase === 'invalid' && /model\.onnx\.data does not match its SHA-256/.test(e.reason)));
  assert.equal(await sha256File(dataPath), goodHash);

  await truncate(modelPath, 100);
  events = [];
  again = await load(modelDir, cacheDir, events);
  assert.equal(again.cacheHits.unet, false);
  assert.ok(events.some((e) => e.phase === 'invalid' && /model\.onnx has 100 bytes/.test(e.reason)));

  await rm(join(dirname(modelPath), 'manifest.json'));
  events = [];
  again = await load(modelDir, cacheDir, events);
  assert.equal(again.cacheHits.unet, false);
  assert.ok(events.some((e) => e.phase === 'invalid' && e.reason === 'manifest missing'));
  assert.equal((await load(modelDir, cacheDir)).cacheHits.unet, true);
});

test('changed weights make a new entry and the stale one is removed', async () => {
  const modelDir = await modelCopy('stale');
  const cacheDir = join(root, 'cache-stale');
  const before = await load(modelDir, cacheDir);
  const later = new Date(Date.now() + 60_000);
  await utimes(join(modelDir, 'unet/diffusion_pytorch_model.safetensors'), later, later);
  const after = await load(modelDir, cacheDir);
  assert.equal(after.cacheHits.unet, false);
  assert.notEqual(after.paths.unet, before.paths.unet);
  assert.deepEqual((await readdir(cacheDir)).filter((n) => n.startsWith('unet-')), [dirname(after.paths.unet!).split('/').pop()]);
});

test('a failed build leaves neither an entry nor a temporary directory', async () => {
  const cacheDir = join(root, 'cache-fail');
  const cache = new GraphCache(cacheDir);
  const spec = { name: 'broken', dtype: 'float32', identity: { n: 1 }, source: 'test' };
  await assert.rejects(cache.getOrBuild(spec, async () => Promise.reject(new Error('build failed'))), /build failed/);
  assert.deepEqual(await readdir(cacheDir), []);
});

test('weight files: the .fp16 variant for fp16 graphs, the full file for fp32, shards through the index', async () => {
  const dir = join(root, 'variants');
  await mkdir(join(dir, 'unet'), { recursive: true });
  await mkdir(join(dir, 'text_encoder'), { recursive: true });
  await mkdir(join(dir, 'vae'), { recursive: true });
  await writeFile(join(dir, 'unet/diffusion_pytorch_model.safetensors'), '');
  await writeFile(join(dir, 'unet/diffusion_pytorch_model.fp16.safetensors'), '');
  assert.deepEqual(await findWeightFiles(dir, 'unet', 'float16'), [join(dir, 'unet/diffusion_pytorch_model.fp16.safetensors')]);
  assert.deepEqual(await findWeightFiles(dir, 'unet', 'float32'), [join(dir, 'unet/diffusion_pytorch_model.safetensors')]);
  await writeFile(join(dir, 'text_encoder/model.fp16.safetensors'), '');
  assert.deepEqual(await findWeightFiles(dir, 'text_encoder', 'float32'), [join(dir, 'text_encoder/model.fp16.safetensors')]);
  await writeFile(
    join(dir, 'vae/diffusion_pytorch_model.safetensors.index.json'),
    JSON.stringify({ weight_map: { a: 'part-2.safetensors', b: 'part-1.safetensors', c: 'part-2.safetensors' } }),
  );
  assert.deepEqual(await findWeightFiles(dir, 'vae', 'float32'), [join(dir, 'vae/part-1.safetensors'), join(dir, 'vae/part-2.safetensors')]);
  await rm(join(dir, 'vae/diffusion_pytorch_model.safetensors.index.json'));
  await writeFile(join(dir, 'vae/diffusion_pytorch_model.bin'), '');
  await assert.rejects(findWeightFiles(dir, 'vae', 'float32'), /no weights: expected diffusion_pytorch_model\.safetensors or diffusion_pytorch_model\.fp16\.safetensors \(found diffusion_pytorch_model\.bin/);
});
